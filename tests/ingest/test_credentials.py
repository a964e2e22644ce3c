"""``regaudit credentials import``: htpasswd names, CSV and JSON inventories, kept as history."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from regaudit.analytics.errors import InventoryError
from regaudit.analytics.runner import prepare
from regaudit.cli import main
from regaudit.ingest import store
from regaudit.ingest.sources import credentials

HTPASSWD = """\
# registry users
alice:$2y$05$abcdefghijklmnopqrstuv
robot$ci+deploy:$2y$05$abcdefghijklmnopqrstuv

ci-bot:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=
"""
CSV = """\
Name,Kind,Owner,Created,Last Rotated,Expires
robot$ci+deploy,,platform,2024-01-01,2025-01-15,2025-06-30T00:00:00+02:00
svc-scan,robot,security,2024-03-01,,
"""


def test_htpasswd_names_with_robot_kind_by_prefix() -> None:
    entries = credentials.parse_htpasswd(HTPASSWD)
    assert [(e.name, e.kind) for e in entries] == [
        ("alice", "user"), ("robot$ci+deploy", "robot"), ("ci-bot", "user")
    ]  # fmt: skip


def test_csv_inventory_with_human_headers_and_dates_in_utc() -> None:
    robot, scanner = credentials.parse_csv(CSV)
    assert robot.kind == "robot"
    assert robot.owner == "platform"
    assert robot.created_at == datetime(2024, 1, 1, tzinfo=UTC)
    assert robot.rotated_at == datetime(2025, 1, 15, tzinfo=UTC)
    assert robot.expires_at == datetime(2025, 6, 29, 22, tzinfo=UTC)
    assert scanner.kind == "robot"
    assert scanner.rotated_at is None


def test_json_inventory_as_a_list_or_under_credentials() -> None:
    items = [{"name": "alice", "owner": "alice@example.com", "expires": "2026-01-01"}]
    for text in (json.dumps(items), json.dumps({"credentials": items})):
        (entry,) = credentials.parse_json(text)
        assert entry.kind == "user"
        assert entry.expires_at == datetime(2026, 1, 1, tzinfo=UTC)


def test_bad_inventory_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "inventory.json"
    path.write_text('{"credentials": [{"owner": "nobody"}]}', encoding="utf-8")
    with pytest.raises(InventoryError, match="inventory.json"):
        credentials.parse(path)


def test_import_command_keeps_history_and_carries_inventory_dates_onto_htpasswd(tmp_path: Path, capsys) -> None:
    db = tmp_path / "store.duckdb"
    (tmp_path / "inventory.csv").write_text(CSV, encoding="utf-8")
    (tmp_path / "htpasswd").write_text(HTPASSWD, encoding="utf-8")
    assert main(["credentials", "import", "--db", str(db), str(tmp_path / "inventory.csv")]) == 0
    assert main(["credentials", "import", "--db", str(db), str(tmp_path / "htpasswd")]) == 0
    (tmp_path / "htpasswd").write_text("alice:x\n", encoding="utf-8")
    assert main(["credentials", "import", "--db", str(db), str(tmp_path / "htpasswd")]) == 0
    assert "1 credentials (htpasswd)" in capsys.readouterr().out

    with store.reader(db) as con:
        assert con.execute("SELECT count(*) FROM credentials").fetchone() == (2 + 3 + 1,)
        prepare(con)
        current = con.execute("SELECT name, kind, owner, expires_at FROM current_credentials ORDER BY name").fetchall()
    names = [row[0] for row in current]
    assert names == ["alice", "robot$ci+deploy", "svc-scan"]  # ci-bot left the htpasswd file
    robot = next(row for row in current if row[0] == "robot$ci+deploy")
    assert robot[1:3] == ("robot", "platform")
    assert robot[3] == datetime(2025, 6, 29, 22, tzinfo=UTC)


def test_one_command_imports_two_inventories_that_name_the_same_credential(tmp_path: Path) -> None:
    db = tmp_path / "store.duckdb"
    (tmp_path / "inventory.csv").write_text(CSV, encoding="utf-8")
    (tmp_path / "htpasswd").write_text(HTPASSWD, encoding="utf-8")
    files = [str(tmp_path / "inventory.csv"), str(tmp_path / "htpasswd")]
    assert main(["credentials", "import", "--db", str(db), *files]) == 0

    with store.reader(db) as con:
        rows = con.execute(
            "SELECT import_source LIKE 'csv:%', owner FROM credentials WHERE name = 'robot$ci+deploy' "
            "ORDER BY imported_at"
        ).fetchall()
    assert rows == [(True, "platform"), (False, "platform")]  # the htpasswd row, imported second, carries over


def test_import_of_an_unreadable_file_exits_with_usage_error(tmp_path: Path) -> None:
    db = tmp_path / "store.duckdb"
    assert main(["credentials", "import", "--db", str(db), str(tmp_path / "missing.csv")]) == 2
