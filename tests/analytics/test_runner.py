"""The runner: findings upserted by deterministic id, statuses kept across runs, read then write."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from regaudit.analytics import findings, runner
from regaudit.analytics.cases import load_rows
from regaudit.analytics.context import AnalysisContext
from regaudit.analytics.detection import Detection, Severity
from regaudit.analytics.errors import DetectionError, UnknownDetectionError
from regaudit.analytics.fixtures import DIGEST_A, DIGEST_B, access, at, burst, pull, tag_move
from regaudit.analytics.settings import AnalyticsSettings, OrgSettings
from regaudit.ingest import store

NOW = at("2025-05-10T18:00")
ROWS = (
    pull("2025-05-10T09:00", actor=None, repository="team/secret"),
    tag_move("2025-05-10T09:00", tag="v1.4.2", digest=DIGEST_B, previous_digest=DIGEST_A),
    *burst(access, "2025-05-10T03:00", 30, client_addr="203.0.113.9", status=401, remote_user="alice"),
)


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "store.duckdb"
    with store.writer(path) as con:
        load_rows(con, ROWS)
    return path


def analyze(path: Path, clock: Clock, **analytics: object) -> runner.RunReport:
    settings = AnalyticsSettings.model_validate(analytics)
    return runner.analyze(path, OrgSettings(), settings, now=NOW, clock=clock)


def stored(path: Path) -> dict[str, tuple[object, ...]]:
    with store.reader(path) as con:
        rows = con.execute(
            "SELECT finding_id, detection_id, first_seen_at, last_seen_at, status, status_reason, evidence"
            " FROM findings"
        ).fetchall()
    return {row[0]: row[1:] for row in rows}


def test_run_twice_keeps_the_same_findings_and_moves_last_seen(db: Path) -> None:
    clock = Clock(datetime(2025, 5, 10, 18, 1, tzinfo=UTC))
    first = analyze(db, clock)
    before = stored(db)
    expected = {"pull.anonymous_private", "tag.release_overwrite", "proxy.bruteforce_by_client"}
    assert {h.detection_id for h in first.hits} >= expected
    assert set(first.outcome.new) == set(before)

    clock.current += timedelta(minutes=5)
    second = analyze(db, clock)
    after = stored(db)
    assert set(after) == set(before)
    assert second.outcome.new == ()
    assert set(second.outcome.refreshed) == set(before)
    for finding_id, (_, first_seen, last_seen, status, _, _) in after.items():
        assert first_seen == before[finding_id][1]
        assert last_seen == clock.current
        assert status == "open"


def test_suppressed_finding_stays_suppressed_and_is_not_new_again(db: Path) -> None:
    clock = Clock(datetime(2025, 5, 10, 18, 1, tzinfo=UTC))
    report = analyze(db, clock)
    target = next(h.finding_id for h in report.hits if h.detection_id == "pull.anonymous_private")
    acknowledged = next(h.finding_id for h in report.hits if h.detection_id == "tag.release_overwrite")
    with store.writer(db) as con:
        findings.set_status(con, target, "suppressed", "mirror pulls anonymously", "secops", clock())
        findings.set_status(con, acknowledged, "acknowledged", None, "secops", clock())

    clock.current += timedelta(minutes=5)
    again = analyze(db, clock)
    rows = stored(db)
    assert again.outcome.suppressed == (target,)
    assert target not in again.outcome.new
    assert rows[target][3:5] == ("suppressed", "mirror pulls anonymously")
    assert rows[target][2] == clock.current
    assert rows[acknowledged][3] == "acknowledged"


def test_finding_id_hashes_detection_subject_and_window() -> None:
    start, end = at("2025-05-10T00:00"), at("2025-05-11T00:00")
    first = findings.finding_id("pull.volume_baseline", "alice", start, end)
    assert first == findings.finding_id("pull.volume_baseline", "alice", start, end)
    assert len(first) == 32
    assert first != findings.finding_id("pull.volume_baseline", "bob", start, end)
    assert first != findings.finding_id("pull.breadth_baseline", "alice", start, end)
    assert first != findings.finding_id("pull.volume_baseline", "alice", start, None)


def test_evidence_keeps_ids_values_and_summary_within_the_limit(db: Path) -> None:
    analyze(db, Clock(NOW), max_evidence_ids=5, detections=["proxy.bruteforce_by_client"])
    (row,) = stored(db).values()
    evidence = json.loads(str(row[5]))
    assert evidence["ids_count"] == 30
    assert len(evidence["ids"]) == 5
    assert evidence["ids"][0].startswith("access_log:")
    assert evidence["values"]["failures_count"] == 30
    assert "failed 30 logins" in evidence["summary"]


def test_thresholds_override_a_detections_defaults(db: Path) -> None:
    report = analyze(
        db, Clock(NOW), detections=["proxy"], thresholds={"proxy.bruteforce_by_client": {"min_failures": 31}}
    )
    assert "proxy.bruteforce_by_client" not in {h.detection_id for h in report.hits}
    assert "proxy.bruteforce_by_user" in {h.detection_id for h in report.hits}


def test_thresholds_for_unknown_detections_or_parameters_are_refused(db: Path) -> None:
    with pytest.raises(UnknownDetectionError, match="pull.nope"):
        analyze(db, Clock(NOW), thresholds={"pull.nope": {"x": 1}})
    with pytest.raises(DetectionError, match="min_failure"):
        analyze(db, Clock(NOW), thresholds={"proxy.bruteforce_by_client": {"min_failure": 3}})


def test_disabled_detections_do_not_run(db: Path) -> None:
    report = analyze(db, Clock(NOW), disabled=["proxy", "tag.*"])
    assert not any(d.startswith(("proxy.", "tag.")) for d in report.detections)
    assert "pull.anonymous_private" in report.detections


def test_runner_computes_read_only_and_writes_only_after_the_reader_closed(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []

    def recording(name: str, opener):  # type: ignore[no-untyped-def]
        @contextlib.contextmanager
        def wrapper(path: Path, *args: object) -> Iterator[duckdb.DuckDBPyConnection]:
            events.append(f"open {name}")
            with opener(path, *args) as con:
                yield con
            events.append(f"close {name}")

        return wrapper

    monkeypatch.setattr(runner.store, "reader", recording("reader", store.reader))
    monkeypatch.setattr(runner.store, "writer", recording("writer", store.writer))
    analyze(db, Clock(NOW))
    assert events == ["open reader", "close reader", "open writer", "close writer"]


def test_analyze_reads_under_the_configured_memory_limit(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    limits: list[str] = []
    reader = store.reader

    @contextlib.contextmanager
    def recording(path: Path, *args: object) -> Iterator[duckdb.DuckDBPyConnection]:
        with reader(path, *args) as con:  # type: ignore[arg-type]
            limits.append(con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0])
            yield con

    monkeypatch.setattr(runner.store, "reader", recording)
    unbounded = analyze(db, Clock(NOW))
    bounded = analyze(db, Clock(NOW), memory_limit="512MiB")
    assert limits[1] in {"512.0 MiB", "536.8 MB"}
    assert limits[0] != limits[1]
    assert {h.finding_id for h in bounded.hits} == {h.finding_id for h in unbounded.hits}
    with pytest.raises(ValueError, match="memory_limit"):
        AnalyticsSettings.model_validate({"memory_limit": "4GB'; DROP TABLE findings; --"})


def test_runner_logs_one_summary_line_per_detection(db: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="regaudit.analytics.runner")
    report = analyze(db, Clock(NOW), detections=["tag"])
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("detection=")]
    assert len(lines) == len(report.detections)
    assert all(" findings=" in line and " seconds=" in line for line in lines)


def test_set_status_needs_a_reason_to_suppress_and_a_known_finding(db: Path) -> None:
    report = analyze(db, Clock(NOW))
    with store.writer(db) as con:
        with pytest.raises(ValueError, match="needs a reason"):
            findings.set_status(con, report.hits[0].finding_id, "suppressed", None, "secops", NOW)
        with pytest.raises(KeyError, match="no finding"):
            findings.set_status(con, "0" * 32, "acknowledged", None, "secops", NOW)


def test_an_older_store_is_upgraded_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "v1.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(store.MIGRATIONS[1])
        con.execute("INSERT INTO schema_meta VALUES ('schema_version', '1')")
        load_rows(con, ROWS)
    report = analyze(path, Clock(NOW), detections=["pull.anonymous_private"])
    assert len(report.hits) == 1
    with store.reader(path) as con:
        assert store.schema_version(con) == store.SCHEMA_VERSION


class GradedRows(Detection):
    """A detection whose rows set their own severity (as the push detections do by repository class)."""

    id = "push.graded_rows"
    title = "Rows graded by their own severity column"
    severity = Severity.MEDIUM
    family = "push"
    sql = """
        SELECT name AS subject, $now AS window_start_at, $now AS window_end_at, name AS summary,
               ['x:' || name] AS evidence_ids, NULL AS registry, NULL AS repository, NULL AS tag, NULL AS digest,
               name AS identity, NULL AS client_addr, graded AS severity
        FROM (VALUES ('alice', 'high'), ('bob', NULL)) AS t(name, graded)
    """


class BadlyGraded(GradedRows):
    sql = GradedRows.sql.replace("'high'", "'urgent'")


def test_a_rows_severity_column_overrides_the_detections_severity() -> None:
    context = AnalysisContext.ending(NOW, timedelta(hours=1), OrgSettings())
    with duckdb.connect() as con:
        hits = runner.evaluate(con, GradedRows, GradedRows.resolve(), context)
        assert {hit.subject: hit.severity for hit in hits} == {"alice": Severity.HIGH, "bob": Severity.MEDIUM}
        assert all("severity" not in hit.values for hit in hits)
        with pytest.raises(DetectionError, match="severity 'urgent' is none of"):
            runner.evaluate(con, BadlyGraded, BadlyGraded.resolve(), context)
