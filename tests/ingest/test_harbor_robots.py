"""Harbor's robot accounts as a credential inventory source: the JSON of ``GET /api/v2.0/robots``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from regaudit.cli import main
from regaudit.ingest import store
from regaudit.ingest.sources.harbor.robots import robot_entries
from tests.ingest.harbor_api import HarborAuditAPI

ROBOTS = Path(__file__).parents[1] / "fixtures" / "harbor" / "audit" / "robots.portal-spec.json"


def test_the_robot_list_is_imported_as_robot_credentials_owned_by_their_projects(tmp_path, capsys):
    db = tmp_path / "store.duckdb"
    assert main(["credentials", "import", "--format", "harbor-robots", "--db", str(db), str(ROBOTS)]) == 0
    assert "3 credentials (harbor-robots)" in capsys.readouterr().out
    with store.reader(db) as con:
        rows = con.execute("SELECT name, kind, owner, created_at, expires_at FROM credentials ORDER BY name")
        assert rows.fetchall() == [(f"robot{n}", "robot", f"project{n}", None, None) for n in (1, 2, 3)]


def test_the_robot_list_is_read_from_harbors_api_page_by_page(tmp_path, capsys):
    fixture = json.loads(ROBOTS.read_text()) * 40  # 120 robots: two pages of the API's 100
    robots = [{**robot, "name": f"robot{number}"} for number, robot in enumerate(fixture)]
    db = tmp_path / "store.duckdb"
    with HarborAuditAPI([], "admin", "Harbor12345", robots=robots) as api:
        environ = {"REGAUDIT_HARBOR_AUDIT__USERNAME": "admin", "REGAUDIT_HARBOR_AUDIT__PASSWORD": "Harbor12345"}
        with pytest.MonkeyPatch.context() as patch:
            for name, value in environ.items():
                patch.setenv(name, value)
            assert main(["credentials", "import", "--from-harbor", api.url, "--db", str(db)]) == 0
            patch.setenv("REGAUDIT_HARBOR_AUDIT__PASSWORD", "wrong")
            assert main(["credentials", "import", "--from-harbor", api.url, "--db", str(db)]) == 2
    assert f"{api.url}: 120 credentials (harbor-robots)" in capsys.readouterr().out
    with store.reader(db) as con:
        assert con.execute("SELECT count(*), min(import_source) FROM credentials").fetchone() == (
            120,
            f"harbor-robots:{api.url}",
        )


def test_dates_never_expiring_and_disabled_robots_follow_harbors_swagger():
    robots = [
        {"name": "robot$library+ci", "creation_time": "2025-04-01T08:00:00.000Z", "expires_at": 1777276800,
         "disable": False, "permissions": [{"kind": "project", "namespace": "library"}]},
        {"name": "robot$forever", "expires_at": -1, "disable": False, "level": "system"},
        {"name": "robot$library+old", "disable": True},
    ]  # fmt: skip
    entries = robot_entries(json.dumps(robots))
    assert [(e["name"], e["owner"], e["created_at"], e["expires_at"]) for e in entries] == [
        ("robot$library+ci", "library", datetime(2025, 4, 1, 8, tzinfo=UTC), datetime(2026, 4, 27, 8, tzinfo=UTC)),
        ("robot$forever", None, None, None),
    ]


def test_a_file_that_is_not_a_robot_list_is_refused_with_its_name(tmp_path, caplog):
    path = tmp_path / "robots.json"
    path.write_text('{"errors":[{"code":"UNAUTHORIZED","message":"unauthorized"}]}')
    assert main(["credentials", "import", "--format", "harbor-robots", "--db", str(tmp_path / "s.duckdb"),
                 str(path)]) == 2  # fmt: skip
    assert "robots.json: Harbor's robot list is a JSON list" in caplog.text


@pytest.mark.parametrize("bad", ['[{"id": 1}]', "[1]", "not json"])
def test_malformed_robot_lists_raise_value_errors(bad):
    with pytest.raises(ValueError):  # noqa: PT011 - pydantic's and json's errors are ValueErrors
        robot_entries(bad)
