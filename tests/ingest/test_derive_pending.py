"""A batch scattered over years (derive_pending.sql): its largest time ranges are derived with it, the others
queued and derived by later batches or a batch of no rows, to the same derived tables, and verify replays both.

Before, a batch of more than MAX_RANGES ranges was derived as one range from its first row to its last: a
producer holding a token could send 65 events spread over the years every second and have each batch read the
whole store once per windowed statement (14 s a batch at 1M stored events).
"""

from __future__ import annotations

import time

import pytest

from regaudit.evidence import verify_derived
from regaudit.ingest import derive, store
from regaudit.ingest.derive import RANGE_STATEMENTS
from regaudit.ingest.normalize import Normalizer
from regaudit.ingest.records import RawRecord
from regaudit.ingest.rollups import ROLLUPS
from regaudit.ingest.sinks.duckdb import DRAIN_SOURCE, DuckDBSink
from regaudit.ingest.sinks.store import StoreRecordSink
from tests.ingest.test_derive import BLOB, digest, event, line, multi_platform_pull_and_pushes

YEAR = 365 * 86_400.0
#: derive's MAX_RANGES and DRAIN_RANGES in these tests (``few_ranges``): the same steps with 8 times fewer ranges
#: each, as every range costs each windowed statement once. The Kafka, import and verify tests run derive's own.
MAX_RANGES, DRAIN_RANGES = 8, 2
#: the ranges a scattered batch has beyond those derived with it
QUEUED = DRAIN_RANGES + 5


def use_few_ranges(monkeypatch: pytest.MonkeyPatch) -> None:
    """Derive with this module's MAX_RANGES and DRAIN_RANGES until the test ends."""
    monkeypatch.setattr(derive, "MAX_RANGES", MAX_RANGES)
    monkeypatch.setattr(derive, "DRAIN_RANGES", DRAIN_RANGES)


@pytest.fixture(autouse=True)
def few_ranges(monkeypatch: pytest.MonkeyPatch) -> None:
    use_few_ranges(monkeypatch)


def scattered(actor: str = "mallory") -> list[RawRecord]:
    """A pull, one blob of it and its proxy line every 100 days, months apart: one time range each."""
    records = []
    for i in range(MAX_RANGES + QUEUED):
        at = -24 * YEAR + i * 100 * 86_400.0
        records += [
            event(at, "pull", "team/app", actor, "GET", tag="1.0", target=digest("app")),
            event(at + 1, "pull", "team/app", actor, "GET", target=digest(f"layer{i}"), media=BLOB, size=10 + i),
            line(at + 0.5, "GET", "/v2/team/app/manifests/1.0", 200, actor),
        ]
    return records


def live() -> list[RawRecord]:
    """Today's traffic: more rows in its range than any scattered one has."""
    return multi_platform_pull_and_pushes()


def write(sink: DuckDBSink, *batches: list[RawRecord]) -> None:
    normalizer = Normalizer("main")
    try:
        for batch in batches:
            sink.write(normalizer.normalize(batch), "test")
    finally:
        normalizer.close()


def queue(db) -> list[tuple]:
    with store.reader(db) as con:
        return con.execute("SELECT batch_id, rows_count, derived_by FROM derive_pending ORDER BY lo").fetchall()


def derived(db) -> dict[str, list[tuple]]:
    """Every derived table's rows, in a fixed order (ids left out: they name the batch that derived a row)."""
    with store.reader(db) as con:
        tables = {
            "image_activity": con.execute("SELECT * EXCLUDE (activity_id) FROM image_activity ORDER BY ALL").fetchall(),
            "tag_history": con.execute("SELECT * FROM tag_history ORDER BY ALL").fetchall(),
        }
        for table in ROLLUPS:
            tables[table] = con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()  # noqa: S608 - fixed
    return tables


@pytest.fixture
def db(tmp_path):
    return tmp_path / "audit.duckdb"


@pytest.fixture
def sink(db) -> DuckDBSink:
    return DuckDBSink(db, default_registry="main")


def test_the_largest_ranges_are_derived_with_the_batch_and_the_rest_queued(db, sink):
    write(sink, live() + scattered())

    waiting = queue(db)
    assert len(waiting) == QUEUED + 1  # the live range holds the most rows: derived with the batch
    assert {(batch, rows, by) for batch, rows, by in waiting} == {(1, 3, None)}
    with store.reader(db) as con:
        kept = con.execute("SELECT count(*) FROM image_activity WHERE actor = 'mallory'").fetchall()[0][0]
    assert kept > 0  # every event is stored and in image_activity at once; the range steps wait


def test_later_batches_and_a_drain_derive_the_queue_to_the_tables_of_batches_written_apart(db, sink, tmp_path):
    today, years = live(), scattered()
    later = [event(100, "pull", "team/other", "bob", "GET", tag="2", target=digest("o"))]
    write(sink, today + years, later)
    assert sum(by == 2 for *_, by in queue(db)) == DRAIN_RANGES  # the next batch derived the oldest DRAIN_RANGES
    while (result := sink.drain()) is not None:
        assert (result.events_count, result.access_count) == (0, 0)
    assert all(by is not None for *_, by in queue(db))
    assert sink.drain() is None  # nothing left: no batch of no rows

    apart = tmp_path / "apart.duckdb"  # the same records, one range a batch: nothing queued
    one_range_each = [years[i : i + 3] for i in range(0, len(years), 3)]
    write(DuckDBSink(apart, default_registry="main"), today, *one_range_each, later)
    assert queue(apart) == []
    assert derived(db) == derived(apart)


def test_verify_replays_the_queue_and_its_drains_and_finds_it_edited(db, sink):
    write(sink, live() + scattered(), [event(100, "pull", "team/other", "bob", "GET", tag="2", target=digest("o"))])
    sink.drain()
    with store.reader(db) as con:
        drains = con.execute("SELECT count(*) FROM ingest_batches WHERE source = $s", {"s": DRAIN_SOURCE})
        assert drains.fetchall()[0][0] == 1
    assert verify_derived.check(lambda: store.reader(db), "main").ok

    with store.writer(db) as con:  # someone with write access removes a range from the queue
        hidden = con.execute("DELETE FROM derive_pending WHERE lo = (SELECT max(lo) FROM derive_pending)")
        assert hidden.fetchall() == [(1,)]
    result = verify_derived.check(lambda: store.reader(db), "main")
    assert not result.ok
    assert any(p.startswith("derive_pending: 1 rows differ") for p in result.problems)


def test_the_steps_run_for_a_queued_range_read_no_batch():
    assert RANGE_STATEMENTS
    assert not any({"batch_id", "earliest"} & names for _, names in RANGE_STATEMENTS)


def test_the_embedded_sink_derives_the_queue_when_deliveries_stop(db):
    """``webhook --sink duckdb`` and ``ship-logs --sink duckdb`` write through StoreRecordSink: a quiet second
    after the scattered delivery, its writer derives the queued ranges (IDLE_DRAIN_SECONDS)."""
    embedded = StoreRecordSink(db, 10.0, "main", "webhook")
    try:
        embedded.deliver([(None, record) for record in live() + scattered()])
        deadline = time.monotonic() + 30
        while any(by is None for *_, by in queue(db)) and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        embedded.close()
    assert queue(db)
    assert all(by is not None for *_, by in queue(db))
    assert verify_derived.check(lambda: store.reader(db), "main").ok


def test_a_restarted_writer_drains_what_its_previous_run_left_queued(db, sink):
    """A consumer restarted while ranges wait knows nothing of them until it looks: its first idle drain counts the
    queue, and a store with none queued gets no batch of no rows."""
    write(sink, live() + scattered())
    restarted = DuckDBSink(db, default_registry="main")
    assert restarted.drain_due
    drained = 0
    while restarted.drain() is not None:
        drained += 1
    assert drained == -(-(QUEUED + 1) // DRAIN_RANGES)
    assert all(by is not None for *_, by in queue(db))
    assert not restarted.drain_due

    quiet = DuckDBSink(db, default_registry="main")
    assert quiet.drain() is None
    assert not quiet.drain_due
    with store.reader(db) as con:
        drains = con.execute("SELECT count(*) FROM ingest_batches WHERE source = $s", {"s": DRAIN_SOURCE})
        assert drains.fetchall()[0][0] == drained
