"""What a finding is about, in columns: stored by the one upsert, kept by an upgraded store, never parsed back."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from regaudit.analytics import findings, runner
from regaudit.analytics.cases import load_rows
from regaudit.analytics.detection import FINDING_COLUMNS, Severity
from regaudit.analytics.findings import Hit
from regaudit.analytics.fixtures import DIGEST_A, DIGEST_B, at, pull, tag_move
from regaudit.analytics.settings import AnalyticsSettings, OrgSettings
from regaudit.ingest import store

NOW = at("2025-05-10T18:00")
ROWS = (
    pull("2025-05-10T09:00", actor=None, repository="team/secret", activity_id="act-anon"),
    tag_move("2025-05-10T09:00", tag="v1.4.2", digest=DIGEST_B, previous_digest=DIGEST_A, event_id="ev-move"),
)


def about(path: Path) -> dict[str, dict[str, object]]:
    with store.reader(path) as con:
        rows = con.execute(f"SELECT detection_id, {', '.join(FINDING_COLUMNS)} FROM findings").fetchall()
    return {row[0]: dict(zip(FINDING_COLUMNS, row[1:], strict=True)) for row in rows}


def analyze(path: Path) -> runner.RunReport:
    settings = AnalyticsSettings(detections=["pull.anonymous_private", "tag.release_overwrite"])
    return runner.analyze(path, OrgSettings(), settings, now=NOW, clock=lambda: NOW)


def test_analyze_stores_what_each_finding_is_about(tmp_path: Path) -> None:
    path = tmp_path / "store.duckdb"
    with store.writer(path) as con:
        load_rows(con, ROWS)
    analyze(path)
    stored = about(path)
    assert stored["pull.anonymous_private"] == {
        "registry": "default", "repository": "team/secret", "tag": None, "digest": None, "identity": None,
        "client_addr": None,
    }  # fmt: skip
    assert stored["tag.release_overwrite"] == {
        "registry": "default", "repository": "team/app", "tag": "v1.4.2", "digest": DIGEST_B, "identity": "ci-bot",
        "client_addr": "10.0.0.9",
    }  # fmt: skip


def hit(subject: str, **columns: str | None) -> Hit:
    return Hit(
        "push.off_hours", Severity.MEDIUM, subject, NOW, NOW, f"{subject} pushed", ("image_activity:x",), {}, **columns
    )


def upsert_then_fail(con: duckdb.DuckDBPyConnection) -> None:
    with store.transaction(con):
        findings.upsert(con, [hit("alice to team/app", identity="alice")], NOW, 10)
        raise RuntimeError("the caller's work failed after the upsert")


def test_the_upsert_commits_and_rolls_back_with_its_callers_transaction(tmp_path: Path) -> None:
    path = tmp_path / "store.duckdb"
    with store.writer(path) as con:
        with pytest.raises(RuntimeError, match="after the upsert"):
            upsert_then_fail(con)
        assert con.execute("SELECT count(*) FROM findings").fetchall() == [(0,)]
        with store.transaction(con):
            outcome = findings.upsert(con, [hit("alice to team/app", identity="alice")], NOW, 10)
        assert outcome.statuses == {hit("alice to team/app").finding_id: "open"}
        assert con.execute("SELECT identity FROM findings").fetchall() == [("alice",)]


def test_a_refresh_fills_the_columns_and_keeps_id_and_status(tmp_path: Path) -> None:
    path = tmp_path / "store.duckdb"
    with store.writer(path) as con:
        findings.upsert(con, [hit("alice to team/app")], NOW, 10)
        con.execute("UPDATE findings SET status = 'acknowledged'")
        outcome = findings.upsert(con, [hit("alice to team/app", identity="alice", repository="team/app")], NOW, 10)
        rows = con.execute("SELECT finding_id, status, identity, repository FROM findings").fetchall()
    assert rows == [(hit("alice to team/app").finding_id, "acknowledged", "alice", "team/app")]
    assert outcome.refreshed == (rows[0][0],)


def _store_at_version_4(path: Path) -> None:
    """A store as regaudit wrote it before findings had columns of their own, with one finding of each kind."""
    with duckdb.connect(str(path)) as con:
        for version in range(1, 5):
            con.execute(store.MIGRATIONS[version])
        con.execute("INSERT INTO schema_meta VALUES ('schema_version', '4')")
        load_rows(con, ROWS)
        old = [
            # every cited row agrees: safe to fill
            ("f-anon", "pull.anonymous_private", "team/secret", ["image_activity:act-anon"], 1),
            ("f-move", "tag.release_overwrite", "team/app:v1.4.2", ["tag_history:ev-move"], 1),
            # evidence cut at max_evidence_ids: what the unlisted rows hold is unknown, so nothing is filled
            ("f-cut", "pull.volume_baseline", "alice", ["image_activity:act-anon"], 3),
        ]
        for finding_id, detection_id, subject, ids, count in old:
            evidence = json.dumps({"summary": "s", "ids": ids, "ids_count": count, "values": {}})
            con.execute(
                "INSERT INTO findings (finding_id, detection_id, severity, subject, window_start_at, window_end_at,"
                " first_seen_at, last_seen_at, summary, evidence) VALUES ($id, $detection, 'high', $subject, $at, $at,"
                " $at, $at, 's', $evidence)",
                {"id": finding_id, "detection": detection_id, "subject": subject, "at": NOW, "evidence": evidence},
            )


def test_an_upgraded_store_fills_old_findings_only_where_every_cited_row_agrees(tmp_path: Path) -> None:
    path = tmp_path / "v4.duckdb"
    _store_at_version_4(path)
    with store.writer(path) as con:
        rows = con.execute(
            f"SELECT finding_id, subject, {', '.join(FINDING_COLUMNS)} FROM findings ORDER BY finding_id"
        ).fetchall()
    assert rows == [
        ("f-anon", "team/secret", "default", "team/secret", "v1", DIGEST_A, None, "10.0.0.5"),
        ("f-cut", "alice", None, None, None, None, None, None),
        ("f-move", "team/app:v1.4.2", "default", "team/app", "v1.4.2", DIGEST_B, "ci-bot", "10.0.0.9"),
    ]


def test_an_upgraded_store_keeps_finding_ids_so_a_rerun_refreshes_instead_of_duplicating(tmp_path: Path) -> None:
    path = tmp_path / "v4.duckdb"
    with duckdb.connect(str(path)) as con:
        for version in range(1, 5):
            con.execute(store.MIGRATIONS[version])
        con.execute("INSERT INTO schema_meta VALUES ('schema_version', '4')")
        load_rows(con, ROWS)
    first = analyze(path)
    before = {h.finding_id for h in first.hits}
    with store.writer(path) as con:  # as the old version left them: no columns
        con.execute(f"UPDATE findings SET {', '.join(f'{c} = NULL' for c in FINDING_COLUMNS)}")
    second = analyze(path)
    assert {h.finding_id for h in second.hits} == before
    assert set(second.outcome.refreshed) == before
    assert about(path)["pull.anonymous_private"]["repository"] == "team/secret"
    with store.reader(path) as con:
        assert con.execute("SELECT count(*) FROM findings").fetchall() == [(len(before),)]


def test_the_finding_id_still_hashes_detection_subject_and_window_only() -> None:
    start = datetime(2025, 5, 10, tzinfo=UTC)
    pinned = "408e2f4f93e30d2c06cd9402b43b244a"  # its id before findings had columns: an upgraded store keeps it
    assert findings.finding_id("pull.anonymous_private", "team/secret", start, None) == pinned
    about = Hit("pull.anonymous_private", Severity.HIGH, "team/secret", start, None, "s", (), {}, repository="x")
    assert about.finding_id == pinned
