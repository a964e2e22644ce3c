"""The daily rollups as the batches keep them (derive step ``daily_rollups``): always the sums of image_activity.

The captures of a real registry and its nginx (tests/fixtures/samples) are stored again at other times (across
midnight, days back, under a second registry), shuffled into random batches with replays, so events arrive late
and out of order: later batches rewrite rows of earlier ones (a pull no longer counted, a proxy line joined, an
audit gap marked and then closed, blob-only rows replaced). After every batch the rollups must equal ``FROM_SCRATCH``,
the aggregate of every stored row; so must the rollups of the sealed tables. Also: a store of version 10, 11, 13, 14,
15 or 16 gains its rollups when upgraded, and a purge is followed.
"""

from __future__ import annotations

import json
import random
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from regaudit.analytics.evaluation import batches
from regaudit.analytics.evaluation import records as simulated_records
from regaudit.ingest import rollup_delta, rollups, store
from regaudit.ingest.normalize import Normalizer
from regaudit.ingest.records import RawRecord
from regaudit.ingest.sinks.duckdb import DuckDBSink
from regaudit.simulator import Simulation
from tests.samples import SAMPLES, access_records, event_records

HTPASSWD = SAMPLES / "distribution-2.8.2-htpasswd.events.jsonl"
NGINX = SAMPLES / "distribution-2.8.2-behind-nginx.events.jsonl"
NGINX_LOG = SAMPLES / "nginx-1.22-registry.access.json.log"
#: the captures are at 19:21 UTC: 4h40m later crosses midnight
SHIFTS = (timedelta(0), timedelta(hours=4, minutes=40), timedelta(days=-2, minutes=7))

#: each rollup from every stored row, written independently of the derive step and of rollups.REBUILD
FROM_SCRATCH = {
    "daily_repository_activity": """
        SELECT date_trunc('day', occurred_at AT TIME ZONE 'UTC') AS day, registry, repository, counted_as,
               count(*), sum(blob_bytes), min(occurred_at), max(occurred_at)
        FROM counted_activity GROUP BY ALL ORDER BY ALL
    """,
    "daily_identity_activity": """
        SELECT date_trunc('day', occurred_at AT TIME ZONE 'UTC') AS day, registry, actor, counted_as,
               count(*), sum(blob_bytes), min(occurred_at), max(occurred_at)
        FROM counted_activity GROUP BY ALL ORDER BY ALL
    """,
    "daily_identity_repositories": """
        SELECT date_trunc('day', occurred_at AT TIME ZONE 'UTC') AS day, registry, actor, repository, action,
               is_check, counted_as, count(*), sum(blob_bytes), min(occurred_at), max(occurred_at)
        FROM counted_activity GROUP BY ALL ORDER BY ALL
    """,
    "daily_digest_pulls": """
        SELECT date_trunc('day', occurred_at AT TIME ZONE 'UTC') AS day, registry, repository, digest, actor, tag,
               count(*), sum(blob_bytes), min(occurred_at), max(occurred_at)
        FROM counted_activity WHERE counted_as = 'pull' GROUP BY ALL ORDER BY ALL
    """,
    "daily_identity_actions": """
        SELECT date_trunc('day', occurred_at AT TIME ZONE 'UTC') AS day, registry, actor, action, is_check, count(*),
               sum(blob_bytes), min(occurred_at), max(occurred_at)
        FROM image_activity GROUP BY ALL ORDER BY ALL
    """,
    "daily_repository_actions": """
        SELECT date_trunc('day', occurred_at AT TIME ZONE 'UTC') AS day, registry, repository, action, is_check,
               count(*), sum(blob_bytes), min(occurred_at), max(occurred_at)
        FROM image_activity GROUP BY ALL ORDER BY ALL
    """,
    "daily_repository_identities": """
        SELECT date_trunc('day', occurred_at AT TIME ZONE 'UTC') AS day, registry, repository, actor, action, is_check,
               count(*), sum(blob_bytes), min(occurred_at), max(occurred_at)
        FROM image_activity GROUP BY ALL ORDER BY ALL
    """,
    "daily_digest_activity": """
        SELECT date_trunc('day', occurred_at AT TIME ZONE 'UTC') AS day, registry, digest, repository, actor, action,
               is_check, count(*), sum(blob_bytes), min(occurred_at), max(occurred_at)
        FROM image_activity WHERE digest IS NOT NULL GROUP BY ALL ORDER BY ALL
    """,
    "daily_registry_events": """
        SELECT date_trunc('day', event_at AT TIME ZONE 'UTC'), registry, registry_kind, count(*), max(event_at),
               max(received_at)
        FROM registry_events GROUP BY ALL ORDER BY ALL
    """,
    "daily_access_lines": """
        SELECT date_trunc('day', request_at AT TIME ZONE 'UTC'), log_host, count(*), max(request_at), max(received_at)
        FROM access_log GROUP BY ALL ORDER BY ALL
    """,
}
STORED = {
    "daily_repository_activity": """
        SELECT day_at AT TIME ZONE 'UTC', registry, repository, counted_as, actions_count, blob_bytes, first_at,
               last_at
        FROM daily_repository_activity ORDER BY ALL
    """,
    "daily_identity_activity": """
        SELECT day_at AT TIME ZONE 'UTC', registry, actor, counted_as, actions_count, blob_bytes, first_at, last_at
        FROM daily_identity_activity ORDER BY ALL
    """,
    "daily_identity_repositories": """
        SELECT day_at AT TIME ZONE 'UTC', registry, actor, repository, action, is_check, counted_as, actions_count,
               blob_bytes, first_at, last_at
        FROM daily_identity_repositories ORDER BY ALL
    """,
    "daily_digest_pulls": """
        SELECT day_at AT TIME ZONE 'UTC', registry, repository, digest, actor, tag, actions_count, blob_bytes,
               first_at, last_at
        FROM daily_digest_pulls ORDER BY ALL
    """,
    "daily_identity_actions": """
        SELECT day_at AT TIME ZONE 'UTC', registry, actor, action, is_check, actions_count, blob_bytes, first_at,
               last_at
        FROM daily_identity_actions ORDER BY ALL
    """,
    "daily_repository_actions": """
        SELECT day_at AT TIME ZONE 'UTC', registry, repository, action, is_check, actions_count, blob_bytes, first_at,
               last_at
        FROM daily_repository_actions ORDER BY ALL
    """,
    "daily_repository_identities": """
        SELECT day_at AT TIME ZONE 'UTC', registry, repository, actor, action, is_check, actions_count, blob_bytes,
               first_at, last_at
        FROM daily_repository_identities ORDER BY ALL
    """,
    "daily_digest_activity": """
        SELECT day_at AT TIME ZONE 'UTC', registry, digest, repository, actor, action, is_check, actions_count,
               blob_bytes, first_at, last_at
        FROM daily_digest_activity ORDER BY ALL
    """,
    "daily_registry_events": """
        SELECT day_at AT TIME ZONE 'UTC', registry, registry_kind, events_count, last_event_at, last_received_at
        FROM daily_registry_events ORDER BY ALL
    """,
    "daily_access_lines": """
        SELECT day_at AT TIME ZONE 'UTC', log_host, lines_count, last_request_at, last_received_at
        FROM daily_access_lines ORDER BY ALL
    """,
}


def shifted(record: RawRecord, by: timedelta, copy: int, registry: str | None = None) -> RawRecord:
    """The record as if it happened ``by`` later, under new ids (the copy number), on ``registry`` if given."""
    body = json.loads(record.value)
    field = "timestamp" if record.kind == "event" else "time"
    seconds, fraction, _ = re.fullmatch(r"([^.]+?)(?:\.(\d+))?(Z|[+-]00:00)", body[field]).groups()  # type: ignore[union-attr]
    moment = datetime.fromisoformat(seconds).replace(tzinfo=UTC) + timedelta(
        microseconds=int((fraction or "0")[:6].ljust(6, "0"))
    )
    body[field] = (moment + by).isoformat()
    if record.kind == "event":
        body["id"] = f"{body['id']}~{copy}"
    else:  # the proxy's request id is the line's identity too
        body["request_id"] = f"{body['request_id']}~{copy}"
    return RawRecord(
        record.kind,
        json.dumps(body).encode(),
        f"{record.origin}~{copy}",
        record.received_at,
        registry or record.registry,
        key=f"{record.key}~{copy}" if record.key else None,
    )


def captures() -> list[RawRecord]:
    """Both registries' notifications and nginx's lines, as captured."""
    return event_records(HTPASSWD, "main") + event_records(NGINX, "main") + access_records(NGINX_LOG)


def records() -> list[RawRecord]:
    """The captures at every shift; the htpasswd registry's also as registry ``second`` across midnight."""
    captured = captures()
    copies = [shifted(r, by, n) for n, by in enumerate(SHIFTS) for r in captured]
    return copies + [shifted(r, SHIFTS[1], 10, "second") for r in event_records(HTPASSWD)]


def check(db: Path) -> None:
    with store.reader(db) as con:
        con.execute("SET TimeZone = 'UTC'")
        for table, sql in FROM_SCRATCH.items():
            assert con.execute(STORED[table]).fetchall() == con.execute(sql).fetchall(), table


def write(db: Path, batches: list[list[RawRecord]], each: bool = True) -> None:
    normalizer = Normalizer("main")
    try:
        for batch in batches:
            DuckDBSink(db, default_registry="main").write(normalizer.normalize(batch), "test")
            if each:
                check(db)
    finally:
        normalizer.close()


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every record in one batch."""
    db = tmp_path_factory.mktemp("rollups") / "audit.duckdb"
    write(db, [records()], each=False)
    return db


@pytest.mark.parametrize("seed", range(2))
def test_rollups_kept_per_batch_equal_the_sums_of_every_row(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    pending = records()
    rng.shuffle(pending)
    cuts = sorted(rng.sample(range(1, len(pending)), 3))
    batches = [pending[a:b] for a, b in zip([0, *cuts], [*cuts, len(pending)], strict=True)]
    batches.insert(rng.randrange(2, len(batches)), rng.sample(pending, 30))  # a replay of some, stored once
    db = tmp_path / "audit.duckdb"
    write(db, batches)
    with store.reader(db) as con:
        kinds = {row[0] for row in con.execute("SELECT DISTINCT counted_as FROM daily_identity_activity").fetchall()}
        days = con.execute("SELECT count(DISTINCT day_at) FROM daily_repository_activity").fetchall()[0][0]
        gaps = con.execute("SELECT count(*) FROM image_activity WHERE audit_gap").fetchall()[0][0]
        in_order = con.execute("SELECT count(*) FROM page_rollup_days WHERE sorted").fetchall()[0][0]
    assert {"pull", "push", "delete", "refused", "mount", "none"} <= kinds
    assert in_order  # a day the batches moved past was rewritten in order, its sums unchanged (checked per batch)
    assert days == 3  # the captures' day, the day after midnight, two days back
    assert gaps == 0  # every gap marked on the way was closed by its late notification


@pytest.mark.parametrize("by_difference", [True, False], ids=["difference", "summed-again"])
def test_each_way_of_keeping_the_rollups_equals_the_sums_of_every_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, by_difference: bool
) -> None:
    """A batch of one time range keeps the rollups by its window's difference or by summing its keys' days again,
    by which costs less where it lies (``rollup_delta.pays``). Each way alone gives the sums of every row after every
    batch: a simulated day and a half in hourly batches as a live consumer takes them, each hour's records shuffled
    and a tenth of them held back to the next batch (late notifications that take an hour's lines and close its
    audit gaps, lines that join stored events), and replays. The difference meets keys whose first or last row
    left them (a pull no longer counted, a gap closed) and sums those again."""
    monkeypatch.setattr(rollup_delta, "pays", lambda lo, hi: by_difference)
    simulation = Simulation(11, days=2, scale=0.05)
    counter = iter(range(10**9))
    rng = random.Random(11)
    parts, late = [], []
    for _, notes, lines in list(batches(simulation, hours=1))[-36:]:
        hour = simulated_records(11, counter, simulation.end, notes, lines)
        rng.shuffle(hour)
        held = len(hour) // 10
        parts.append(late + hour[held:])
        late = hour[:held]
    parts.append(late)
    parts.insert(20, rng.sample([r for part in parts[:20] for r in part], 40))  # replays, stored once
    write(tmp_path / "audit.duckdb", parts)


def test_the_difference_is_taken_where_the_day_before_the_window_outweighs_it() -> None:
    day = datetime(2026, 12, 1, tzinfo=UTC)
    minute = timedelta(minutes=1)
    assert rollup_delta.pays(day + timedelta(hours=15), day + timedelta(hours=15) + minute)  # 13 hours before it
    assert rollup_delta.pays(day + timedelta(minutes=30), day + timedelta(minutes=31))  # yesterday's last hours
    assert not rollup_delta.pays(day + timedelta(hours=3), day + timedelta(hours=3) + minute)  # an hour of today
    assert not rollup_delta.pays(day + timedelta(hours=12), day + timedelta(hours=23))  # a batch of half a day
    assert not rollup_delta.pays(day + timedelta(hours=10), day + timedelta(days=3))  # a backfill of days


def test_a_settled_day_is_in_order_by_identity_and_in_the_twin_by_repository(tmp_path: Path) -> None:
    """Two days back, then the captures' day: the batch of the second moved past the first by more than the steps'
    reach, which is rewritten once, in order by (identity, repository) in daily_identity_repositories, by
    (repository, identity) in its twin and by (digest, repository, identity) in the rollup per digest, so that a
    filter on each one's first column reads only the row groups that hold it (the sums are checked by the tests
    above)."""
    db = tmp_path / "audit.duckdb"
    write(db, [[shifted(r, SHIFTS[n], n) for r in captures()] for n in (2, 0)], each=False)
    with store.reader(db) as con:
        assert con.execute("SELECT count(*) FROM page_rollup_days WHERE sorted").fetchall() == [(1,)]
        for table, order in (
            ("daily_identity_repositories", "actor, repository"),
            ("daily_repository_identities", "repository, actor"),
            ("daily_digest_activity", "digest, repository, actor"),
        ):
            rows = f"SELECT {order} FROM {table} WHERE day_at IN (SELECT day_at FROM page_rollup_days WHERE sorted)"  # noqa: S608
            stored = con.execute(f"{rows} ORDER BY rowid").fetchall()
            assert len(stored) > 3
            assert stored == con.execute(f"{rows} ORDER BY {order}").fetchall(), table


def test_a_late_batch_rewrites_earlier_rows_and_their_rollups_follow(stored: Path, tmp_path: Path) -> None:
    """Lines first, notifications an hour later: the lines become audit gaps (counted from the proxy), then the
    notifications close them and take the lines; in order, the same rows and rollups."""
    lines = [r for r in records() if r.kind == "access"]
    events = [r for r in records() if r.kind == "event"]
    late = tmp_path / "late.duckdb"
    write(late, [lines[: len(lines) // 2], events[:5], lines[len(lines) // 2 :], events[5:]])
    with store.reader(late) as a, store.reader(stored) as b:
        for sql in STORED.values():
            assert a.execute(sql).fetchall() == b.execute(sql).fetchall()


@pytest.mark.parametrize("version", [10, 11, 13])
def test_a_store_of_an_older_version_gains_its_rollups_when_upgraded(
    stored: Path, tmp_path: Path, version: int
) -> None:
    """Version 11 added the rollups of image_activity, 12 those of the sealed tables, 14 the pages' (identity and
    repository, digest pulls), 15 the actions per identity and per repository, 16 the twin per repository and
    identity, 17 the rollup per digest."""
    old = tmp_path / "old.duckdb"
    shutil.copy(stored, old)
    dropped = [
        "daily_digest_activity",
        "daily_repository_identities",
        "daily_identity_actions",
        "daily_repository_actions",
        "daily_identity_repositories",
        "daily_digest_pulls",
    ]
    dropped += ["daily_registry_events", "daily_access_lines"] if version < 12 else []
    dropped += ["daily_repository_activity", "daily_identity_activity"] if version < 11 else []
    with duckdb.connect(str(old)) as con:
        for table in dropped:
            con.execute(f"DROP TABLE {table}")
        if version == 11:  # rows the upgrade must leave alone: the rollups of version 11 are kept, not summed again
            con.execute("UPDATE daily_identity_activity SET actions_count = actions_count + 1")
        con.execute("UPDATE schema_meta SET value = $v WHERE key = 'schema_version'", {"v": str(version)})
    with store.writer(old) as con:
        assert store.schema_version(con) == store.SCHEMA_VERSION
        kept = con.execute("SELECT sum(actions_count) FROM daily_identity_activity").fetchall()[0][0]
        if version == 11:
            con.execute("UPDATE daily_identity_activity SET actions_count = actions_count - 1")
    check(old)
    with store.reader(old) as con:
        assert con.execute("SELECT sum(actions_count) FROM daily_identity_activity").fetchall()[0][0] < kept or (
            version != 11
        )
        assert con.execute("SELECT count(*) FROM daily_digest_pulls").fetchall()[0][0] > 0
        assert con.execute("SELECT count(*) FROM daily_access_lines").fetchall()[0][0] > 0


#: the rollups an upgrade from 14 (actions per identity and per repository, 15; the twin, 16) sums from the pages'
ACTIONS_AND_TWIN = ("daily_identity_actions", "daily_repository_actions", "daily_repository_identities")


@pytest.mark.parametrize(("version", "summed"), [(14, ACTIONS_AND_TWIN), (15, ACTIONS_AND_TWIN[2:])])
def test_a_store_of_version_14_or_15_sums_its_new_rollups_from_the_pages_rollup(
    stored: Path, tmp_path: Path, version: int, summed: tuple[str, ...]
) -> None:
    """The upgrade to 15 keeps daily_identity_repositories as it is and sums the actions per identity and per
    repository from it, not from the rows, and the upgrade to 16 its twin per repository and identity: where it
    counts one more per row, so do they, and the rollups the store had are kept as they were."""
    old = tmp_path / "old.duckdb"
    shutil.copy(stored, old)
    with duckdb.connect(str(old)) as con:
        for table in (*summed, "daily_digest_activity"):
            con.execute(f"DROP TABLE {table}")
        con.execute("UPDATE daily_identity_repositories SET actions_count = actions_count + 1")
        con.execute("UPDATE schema_meta SET value = $v WHERE key = 'schema_version'", {"v": str(version)})
    with store.writer(old) as con:
        kept = con.execute("SELECT sum(actions_count) FROM daily_identity_repositories").fetchall()[0][0]
        for table in ACTIONS_AND_TWIN:
            total = con.execute(f"SELECT sum(actions_count) FROM {table}").fetchall()[0][0]  # noqa: S608
            assert total == kept if table in summed else total < kept, table
        con.execute("UPDATE daily_identity_repositories SET actions_count = actions_count - 1")
        rollups.rebuild(con, since_version=rollups.ACTIONS_VERSION)
    check(old)


def test_a_store_of_version_16_sums_its_digests_from_the_rows(stored: Path, tmp_path: Path) -> None:
    """The upgrade to 17 sums the rollup per digest from the rows and keeps the rollups the store had as they
    were."""
    old = tmp_path / "old.duckdb"
    shutil.copy(stored, old)
    with duckdb.connect(str(old)) as con:
        con.execute("DROP TABLE daily_digest_activity")
        con.execute("UPDATE daily_repository_identities SET actions_count = actions_count + 1")
        con.execute("UPDATE schema_meta SET value = '16' WHERE key = 'schema_version'")
    with store.writer(old) as con:
        assert store.schema_version(con) == store.SCHEMA_VERSION
        kept = con.execute("SELECT sum(actions_count) FROM daily_repository_identities").fetchall()[0][0]
        rows = con.execute("SELECT count(*) FROM image_activity").fetchall()[0][0]
        assert kept == rows + con.execute("SELECT count(*) FROM daily_repository_identities").fetchall()[0][0]
        con.execute("UPDATE daily_repository_identities SET actions_count = actions_count - 1")
    check(old)


@pytest.mark.parametrize(
    "cut",
    [
        datetime(2026, 11, 26, 19, 21, 39, tzinfo=UTC),  # inside the captures' day, between their requests
        datetime(2026, 11, 26, 23, 50, tzinfo=UTC),  # the same day, hours after its last row
    ],
    ids=["between-rows", "hours-after"],
)
def test_a_cut_of_image_activity_is_followed(stored: Path, tmp_path: Path, cut: datetime) -> None:
    """A purge deletes image_activity rows before a time, and whole batches of the sealed tables older than it
    (regaudit.evidence.retention): the rollups of the days before go, and the cut's day is summed again from what
    is left of it, also the keys whose rows of it all lay hours before the cut."""
    db = tmp_path / "audit.duckdb"
    shutil.copy(stored, db)
    with store.writer(db) as con:
        con.execute("DELETE FROM image_activity WHERE occurred_at < $cut", {"cut": cut})
        rollups.refresh_after_cut(con, cut)
        for table, column in (("registry_events", "event_at"), ("access_log", "request_at")):
            con.execute(f"DELETE FROM {table} WHERE {column} < $cut", {"cut": cut})  # noqa: S608
            rollups.refresh_feeds_after_purge(con, table, cut)
    check(db)


def test_a_key_whose_rows_near_the_batch_all_go_is_summed_again(tmp_path: Path) -> None:
    """ci-bot has rows on registry main that day hours away from the captures, and audit gaps at their time (its
    manifest pushes nginx logged, marked once main's feed moved three hours past them); registry second's late
    notifications of those requests take the lines and the gaps are deleted. Near the batch, ci-bot then has no row
    on main, so only its rollup row (first_at..last_at spanning the batch) says the key must be summed again
    (without that, the rollup kept counting the deleted gaps)."""
    htpasswd = event_records(HTPASSWD, "main")
    earlier = [shifted(r, timedelta(hours=-10), 1) for r in htpasswd]
    later = [shifted(htpasswd[0], timedelta(hours=3), 2)]
    lines = access_records(NGINX_LOG)
    db = tmp_path / "audit.duckdb"
    write(db, [earlier, [*lines, *later]])
    with store.reader(db) as con:
        gaps = con.execute("SELECT count(*) FROM image_activity WHERE audit_gap AND actor = 'ci-bot'").fetchall()
    assert gaps[0][0] > 0
    write(db, [event_records(NGINX, "second")])
    with store.reader(db) as con:
        assert con.execute("SELECT count(*) FROM image_activity WHERE audit_gap").fetchall() == [(0,)]
