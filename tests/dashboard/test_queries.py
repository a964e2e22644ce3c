"""The query functions on their own, on the seeded store (tests/dashboard/seed.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from regaudit.dashboard.queries import activity, common, findings, identity, overview, reports, repository
from regaudit.dashboard.queries.common import ANONYMOUS, TimeRange, data_span
from regaudit.ingest import store
from regaudit.ingest.normalize import Normalizer
from regaudit.ingest.records import RawRecord
from regaudit.ingest.sinks.duckdb import DuckDBSink
from tests.ingest.poisoned_regaudit import MARKER, refuse_marker
from tests.ingest.test_derive_pending import QUEUED, scattered, use_few_ranges, write
from tests.samples import RECEIVED_AT

DAY = TimeRange(datetime(2026, 11, 26, tzinfo=UTC), datetime(2026, 11, 27, tzinfo=UTC))
EVERYTHING = activity.ActivityFilter(DAY)


def count(con: duckdb.DuckDBPyConnection, **filters: object) -> int:
    return int(activity.activity_count(con, activity.ActivityFilter(DAY, **filters)).iloc[0]["rows_count"])


def test_time_ranges_refuse_naive_or_reversed_bounds_and_pick_bucket_widths() -> None:
    with pytest.raises(ValueError, match="zone"):
        TimeRange(datetime(2026, 1, 1), datetime(2026, 1, 2))  # noqa: DTZ001
    with pytest.raises(ValueError, match="before it starts"):
        TimeRange(DAY.end, DAY.start)
    assert DAY.bucket() == timedelta(hours=1)
    assert TimeRange.ending(DAY.end, timedelta(days=30)).bucket() == timedelta(days=1)
    assert TimeRange.ending(DAY.end, timedelta(days=365)).bucket() == timedelta(days=7)


def test_data_span_is_the_first_and_last_activity(con: duckdb.DuckDBPyConnection) -> None:
    span = data_span(con).iloc[0]
    assert (span["first_at"].day, span["last_at"].day, span["rows_count"]) == (26, 26, 14)


def test_activity_filters_combine(con: duckdb.DuckDBPyConnection) -> None:
    assert count(con) == 14
    assert count(con, identity="alice") == 8  # 1 push, 3 pulls, 2 deletes, 2 refused
    assert count(con, identity="alice", actions=("pull",)) == 5
    assert count(con, repository="other/*") == 2
    assert count(con, repository="*/app") == 14
    assert count(con, reference="v1.0.0") == 10
    assert count(con, reference="sha256:6d69") == 9
    assert count(con, address="127.0.0.1") == 14
    assert count(con, address="127.0.") == 14
    assert count(con, address="127.0.0") == 0  # exact unless it ends in . or :
    assert count(con, identity=ANONYMOUS) == 0


def test_a_digest_prefix_as_a_range_holds_exactly_the_texts_it_starts() -> None:
    """The explorer writes a digest prefix also as a range of the column (row groups are skipped by their min and
    max): DuckDB's order of texts is their code points', and the range's end is the least text past the prefix."""
    prefixes = ["sha256:6d69", "sha256:f", "sha256:a\U0010ffff", "sha256:\ud7ff", "sha256:\U0010ffff\U0010ffff"]
    assert [common.past_prefix(p) for p in prefixes] == [
        "sha256:6d6:",
        "sha256:g",
        "sha256:b",
        "sha256:\ue000",
        "sha256;",
    ]
    texts = [
        "sha256:",
        "sha256:6d69",
        "sha256:6d690",
        "sha256:6d6:",
        "sha256:f\U0010ffff",
        "sha256:g",
        "sha256:a\U0010ffffz",
    ]
    texts += ["sha256:\ud7ff\U0010ffff", "sha256:\ue000", "sha256:\U0010ffff\U0010ffffx", "sha256;", "sha256:\x7f\x80"]
    with duckdb.connect() as con:
        con.execute("CREATE TABLE t AS SELECT unnest($texts) AS digest", {"texts": texts})
        for prefix in prefixes:
            sql = "SELECT list_sort(list(digest)) FROM t WHERE {}"
            ranged = con.execute(
                sql.format("digest >= $p AND digest < $past"), {"p": prefix, "past": common.past_prefix(prefix)}
            ).fetchall()
            started = con.execute(sql.format("starts_with(digest, $p)"), {"p": prefix}).fetchall()
            assert ranged == started, prefix


@pytest.mark.parametrize("value", ["' OR 1=1 --", "%", "*", "'", '"', "alice' OR 'a'='a", "1; DROP TABLE findings"])
def test_typed_values_are_data_never_sql(con: duckdb.DuckDBPyConnection, value: str) -> None:
    assert count(con, identity=value) == 0
    assert count(con, address=value) == 0
    assert count(con, reference=value) == 0
    assert count(con, repository=value) == (14 if value == "*" else 0)
    # ci-bot's off-hours push to other/app (shared) is quiet while ci-bot, first seen that day, is learnt, and
    # old-bot is not called never used by a store that has watched for one day
    assert con.execute("SELECT count(*) FROM findings").fetchall()[0][0] == 8


def test_activity_pages_are_newest_first_and_cover_every_row_once(con: duckdb.DuckDBPyConnection) -> None:
    pages = [activity.activity_page(con, EVERYTHING, 5, offset) for offset in (0, 5, 10)]
    ids = [i for page in pages for i in page["activity_id"]]
    assert [len(p) for p in pages] == [5, 5, 4]
    assert len(set(ids)) == 14
    times = [t for page in pages for t in page["occurred_at"]]
    assert times == sorted(times, reverse=True)


def test_every_activity_page_is_its_slice_of_the_whole_ordering(con: duckdb.DuckDBPyConnection) -> None:
    everything = con.execute(
        "SELECT activity_id FROM image_activity WHERE NOT is_check ORDER BY occurred_at DESC, activity_id"
    ).fetchall()
    ordered = [row[0] for row in everything]
    for offset in (0, 1, 3, 7, 13, 14, 20):
        page = activity.activity_page(con, EVERYTHING, 3, offset)
        assert list(page["activity_id"]) == ordered[offset : offset + 3], offset


def test_a_page_deeper_than_a_million_rows_is_read_without_the_top_n_bound(
    con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DuckDB's max(x, n) refuses n of a million or more: a user paging that deep into a month of a busy registry
    got an error instead of the page. Past the limit the page is sorted without the bound, and is the same slice."""
    assert activity.activity_page(con, EVERYTHING, 100, 1_000_000).empty
    ordered = list(activity.activity_page(con, EVERYTHING, 20, 0)["activity_id"])
    monkeypatch.setattr(activity, "TOP_N_LIMIT", 6)  # every page below past the bound, on this small store
    for offset in (0, 3, 7, 13):
        page = activity.activity_page(con, EVERYTHING, 3, offset)
        assert list(page["activity_id"]) == ordered[offset : offset + 3], offset


def test_activity_over_time_has_a_total_row_and_buckets_that_add_up(con: duckdb.DuckDBPyConnection) -> None:
    frame = overview.activity_over_time(con, DAY, timedelta(hours=1))
    total = frame[frame["bucket_at"].isna()].iloc[0]
    buckets = frame[frame["bucket_at"].notna()]
    assert (total["pulls_count"], total["pushes_count"], total["deletes_count"], total["refused_count"]) == (2, 5, 2, 2)
    assert (total["identities_count"], total["pulled_bytes"]) == (2, 731)
    assert buckets["bucket_at"].tolist() == [datetime(2026, 11, 26, 19, tzinfo=UTC)]
    assert int(buckets["pushes_count"].sum()) == 5
    week = overview.activity_over_time(con, TimeRange.ending(DAY.end, timedelta(days=21)), timedelta(days=7))
    assert week["bucket_at"].dropna().tolist() == [datetime(2026, 11, 23, tzinfo=UTC)]  # weeks start on Monday


def test_registries_side_by_side_add_up_to_the_totals(con: duckdb.DuckDBPyConnection) -> None:
    side = overview.registries(con, DAY)
    total = overview.activity_over_time(con, DAY, timedelta(hours=1))
    total = total[total["bucket_at"].isna()].iloc[0]
    for column in ("pulls_count", "pushes_count", "deletes_count", "refused_count"):
        assert int(side[column].sum()) == int(total[column])
    assert side["registry"].is_unique
    assert set(side["registry_kind"].dropna()) <= {"distribution", "harbor"}


def test_top_lists_and_findings_by_severity(con: duckdb.DuckDBPyConnection) -> None:
    tops = overview.top_lists(con, DAY)
    assert tops[["list", "name", "pulls_count", "pushes_count", "listed_count"]].values.tolist() == [
        ["repository", "team/app", 2, 4, 2],
        ["repository", "other/app", 0, 1, 2],
        ["identity", "alice", 1, 1, 2],
        ["identity", "ci-bot", 1, 4, 2],
    ]
    assert tops["actions_count"].tolist()[2:] == [8, 6]
    assert len(overview.top_lists(con, DAY, limit=1)) == 2
    by_severity = overview.open_findings_by_severity(con)
    # the off-hours pushes to team/app (protected) are high; ci-bot's to other/app (shared) is quiet while it is
    # learnt, and old-bot is not called never used by a store that has watched for one day; its two stale-credential
    # findings (not rotated, unused) are medium
    assert by_severity.values.tolist() == [["high", 6], ["medium", 2]]


def test_ingest_health(con: duckdb.DuckDBPyConnection) -> None:
    sources = overview.ingest_sources(con).iloc[0]
    assert (sources["source"], sources["events_count"], sources["access_count"]) == ("test", 27, 30)
    assert sources["last_batch_wait_seconds"] > 0
    feeds = overview.feed_freshness(con)
    assert feeds[["feed", "name", "rows_count"]].values.tolist() == [
        ["notifications", "main", 27],
        ["access log", "(unknown host)", 30],
    ]
    dead = overview.dead_letter_summary(con)
    assert dead[["source", "dead_letters_count"]].values.tolist() == [["access", 1]]
    assert overview.derive_pending(con)["ranges_count"].tolist() == [0]  # nothing scattered: nothing waits


def test_ingest_health_counts_the_time_ranges_a_scattered_batch_queued(tmp_path, monkeypatch) -> None:
    use_few_ranges(monkeypatch)
    db = tmp_path / "audit.duckdb"
    write(DuckDBSink(db, default_registry="main"), scattered())
    with store.reader(db) as reader:
        waiting = overview.derive_pending(reader).iloc[0]
    assert (waiting["ranges_count"], waiting["oldest_batch_id"]) == (QUEUED, 1)


def test_ingest_health_counts_the_records_the_store_write_isolated(tmp_path: Path) -> None:
    db = tmp_path / "audit.duckdb"
    raw = [
        RawRecord("event", json.dumps(event).encode(), f"kafka:registry.events/0/{n}", RECEIVED_AT, "main")
        for n, event in enumerate(
            {"id": f"{prefix}{n}", "timestamp": "2026-11-26T19:00:00Z", "action": "pull", "target": {"repository": "a"}}
            for n, prefix in enumerate(["e", "e", MARKER, "e"])
        )
    ]
    normalizer = Normalizer("main")
    try:
        DuckDBSink(db, hooks=[refuse_marker]).write(normalizer.normalize(raw), "test")
    finally:
        normalizer.close()
    with store.reader(db) as fresh:
        isolated = overview.isolated_records(fresh).iloc[0]
        dead = overview.dead_letter_summary(fresh)
    assert (isolated["isolated_count"], isolated["last_received_at"]) == (1, RECEIVED_AT)
    assert dead["reason"].str.startswith("store write failed on this record alone: PoisonError").tolist() == [True]


def lagging_event(registry: str, n: int, lag: timedelta, received_at: datetime) -> RawRecord:
    timestamp = (received_at - lag).isoformat().replace("+00:00", "Z")
    event = {"id": f"{registry}-{n}", "timestamp": timestamp, "action": "pull", "target": {"repository": "a"}}
    return RawRecord("event", json.dumps(event).encode(), f"webhook:{registry}-{n}", received_at, registry)


def test_notification_lag_is_receipt_minus_event_time_per_registry_over_the_recent_hours(tmp_path: Path) -> None:
    newest = datetime(2026, 11, 26, 20, 0, tzinfo=UTC)
    raw = [lagging_event("main", n, timedelta(seconds=n), newest - timedelta(seconds=n)) for n in range(1, 101)]
    raw += [lagging_event("eu", n, timedelta(seconds=2), newest - timedelta(minutes=n)) for n in range(10)]
    raw.append(lagging_event("main", 0, timedelta(hours=3), newest - timedelta(hours=7)))  # older than 6 hours
    raw.append(lagging_event("skewed", 0, timedelta(seconds=-3), newest))  # its clock is ahead of ours
    db = tmp_path / "audit.duckdb"
    normalizer = Normalizer("main")
    try:
        DuckDBSink(db).write(normalizer.normalize(raw), "test")
    finally:
        normalizer.close()
    with store.reader(db) as fresh:
        lag = overview.notification_lag(fresh, hours=6)
    rows = lag.set_index("registry")
    assert list(lag["registry"]) == ["main", "eu", "skewed"]  # the worst p99 first
    assert rows.loc["main", "events_count"] == 100
    assert rows.loc["main", "lag_p50_seconds"] == pytest.approx(50.5)
    assert rows.loc["main", "lag_p99_seconds"] == pytest.approx(99.01)
    assert rows.loc["main", "lag_max_seconds"] == pytest.approx(100)
    assert rows.loc["eu", ["events_count", "lag_p50_seconds", "lag_p99_seconds"]].tolist() == [10, 2, 2]
    assert rows.loc["skewed", "lag_p50_seconds"] == pytest.approx(-3)


def test_repository_queries(con: duckdb.DuckDBPyConnection) -> None:
    summary = repository.repository_summary(con, "team/app").iloc[0]
    assert (summary["pulls_count"], summary["pushes_count"], summary["overwrites_count"]) == (2, 4, 2)
    assert repository.repositories(con)["repository"].tolist() == ["other/app", "team/app"]
    tags = repository.tags(con, "team/app").iloc[0]
    assert (tags["tag"], tags["moves_count"], tags["overwrites_count"], tags["digests_count"]) == ("v1.0.0", 4, 2, 2)
    history = repository.tag_history(con, "team/app", "v1.0.0")
    assert history["is_overwrite"].tolist() == [True, False, True, False]
    assert history["moved_by"].tolist() == ["ci-bot", "ci-bot", "alice", "ci-bot"]
    assert repository.tag_history(con, "team/app", "nosuchtag").empty
    pullers = repository.digest_pullers(con, "team/app")
    assert sorted(zip(pullers["identity"], pullers["pulls_count"], pullers["tags"], strict=True)) == [
        ("alice", 1, "v1.0.0"),
        ("ci-bot", 1, "v1.0.0"),
    ]
    series = repository.repository_series(con, "team/app", DAY, timedelta(hours=1))
    assert series[["pushes_count", "deletes_count", "pulls_count"]].values.tolist() == [[4, 2, 2]]


def test_identity_queries(con: duckdb.DuckDBPyConnection) -> None:
    assert {"alice", "ci-bot", "old-bot"} <= set(identity.identities(con)["identity"])
    summary = identity.identity_summary(con, "ci-bot").iloc[0]
    assert (summary["pulls_count"], summary["pushes_count"], summary["repositories_count"]) == (1, 4, 2)
    assert identity.identity_repositories(con, "ci-bot")["repository"].tolist() == ["team/app", "other/app"]
    assert identity.identity_addresses(con, "alice")["actions_count"].tolist() == [8]
    assert identity.identity_user_agents(con, "alice")["user_agent"].tolist() == ["skopeo/1.9.3"]
    record = identity.credential_record(con, "ci-bot").iloc[0]
    assert (record["kind"], record["owner"], record["import_source"]) == ("robot", "platform", "test:inventory.csv")
    assert identity.identity_summary(con, ANONYMOUS).iloc[0]["pulls_count"] == 0


def test_findings_queries(con: duckdb.DuckDBPyConnection) -> None:
    # ci-bot's off-hours push to other/app (shared) is quiet while ci-bot, first seen that day, is learnt, and
    # old-bot is not called never used by a store that has watched for one day
    # and alice's and ci-bot's off-hours pushes to team/app (protected) are high
    assert len(findings.findings_list(con)) == 8
    assert len(findings.findings_list(con, severities=("high",))) == 6
    assert len(findings.findings_list(con, detections=("push.off_hours",), statuses=("open",))) == 2
    assert findings.findings_list(con, statuses=("suppressed",)).empty
    assert findings.findings_list(con)["severity"].tolist()[:6] == ["high"] * 6
    # alice also moved release tag v1.0.0: that overwrite is about her, though its subject names only the tag
    assert sorted(findings.findings_about(con, "alice")["detection_id"]) == [
        "push.off_hours", "tag.protected_delete", "tag.release_overwrite",
    ]  # fmt: skip
    assert len(findings.findings_about(con, "team/app")) == 6  # off-hours, protected delete, 3 release overwrites
    assert set(findings.findings_about(con, "team/app:v1.0.0")["detection_id"]) == {"tag.release_overwrite"}
    choices = findings.finding_choices(con)
    assert int(choices["findings_count"].sum()) == 8


def test_evidence_ids_lead_to_their_rows(con: duckdb.DuckDBPyConnection) -> None:
    finding = findings.findings_list(con, detections=("tag.protected_delete",)).iloc[0]
    detail = findings.finding_detail(con, finding["finding_id"]).iloc[0]
    by_table = findings.split_evidence(detail["evidence"])
    assert list(by_table) == ["image_activity"]
    rows = findings.evidence_activity(con, by_table["image_activity"])
    assert rows["action"].tolist() == ["delete", "delete"]
    assert set(rows["identity"]) == {"alice"}
    # looked for near the finding's window first, and anywhere for what is not there: the same rows either way
    window = (detail["window_start_at"], detail["window_end_at"])
    assert pd.notna(window[0])
    assert pd.notna(window[1])
    assert findings.evidence_activity(con, by_table["image_activity"], window).equals(rows)
    far = (window[0] + timedelta(days=90), window[1] + timedelta(days=90))
    assert findings.evidence_activity(con, by_table["image_activity"], far).equals(rows)
    half = [by_table["image_activity"][0], "ev:main:no-such-event"]
    assert findings.evidence_activity(con, half, window)["activity_id"].tolist() == half[:1]
    nothing = findings.evidence_activity(con, ["ev:main:no-such-event"], window)
    assert nothing.empty
    assert list(nothing.columns) == list(rows.columns)
    rotations = findings.findings_list(con, detections=("credential.not_rotated",))
    old_bot = rotations[rotations["identity"] == "old-bot"].iloc[0]
    names = findings.split_evidence(findings.finding_detail(con, old_bot["finding_id"]).iloc[0]["evidence"])
    assert findings.evidence_credentials(con, names["credentials"])["name"].tolist() == ["old-bot"]


def test_cited_access_lines_are_fetched_whole_and_in_time_order(con: duckdb.DuckDBPyConnection) -> None:
    """Cited lines are found by key and time, then fetched by row id: the same rows as a plain read by key."""
    stored = con.execute("SELECT line_key, request_at FROM access_log ORDER BY request_at DESC, line_key").fetchall()
    cited = [stored[0][0], stored[-1][0], "file:no-such:1"]
    plain = con.execute(
        "SELECT request_at, client_addr, remote_user, http_method, uri, status, user_agent, log_host, line_key"
        " FROM access_log WHERE list_contains($k, line_key) ORDER BY request_at",
        {"k": cited},
    ).df()
    assert len(plain) == 2
    for window in ((None, None), (stored[-1][1], stored[-1][1]), (stored[0][1], stored[0][1])):
        fetched = findings.evidence_access(con, cited, window)
        assert fetched.reset_index(drop=True).equals(plain)


def test_split_evidence_keeps_unknown_and_malformed_ids() -> None:
    evidence = json.dumps({"ids": ["tag_history:e1", "access_log:file:x:1", "loose", "chain:9"]})
    assert findings.split_evidence(evidence) == {
        "tag_history": ["e1"],
        "access_log": ["file:x:1"],
        "other": ["loose"],
        "chain": ["9"],
    }
    assert findings.split_evidence({"ids": "not a list"}) == {}


def test_a_report_scope_counts_like_the_reports_engine_matches(con: duckdb.DuckDBPyConnection) -> None:
    def rows(**scope: tuple[str, ...]) -> list[int]:
        return [int(v) for v in reports.scope_count(con, DAY, **scope).iloc[0]]

    assert rows() == [14, 2, 2]  # every row, HEAD checks included
    assert rows(repositories=("other/*", "nothing/*"), identities=("ci-*",), actions=("push",)) == [1, 1, 1]
    assert rows(identities=("*",)) == [14, 2, 2]
    assert rows(identities=("' OR 1=1 --",)) == [0, 0, 0]
