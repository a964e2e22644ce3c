"""One bad record never stops ingestion: a batch that fails on what a row did is bisected, the rows that fail alone
are dead letters with the reason and their origin, the rest is stored; the environment's errors pass through."""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from regaudit.errors import StoreLocked
from regaudit.ingest import store
from regaudit.ingest.hooks import load_hooks
from regaudit.ingest.normalize import NormalizedBatch, Normalizer
from regaudit.ingest.records import RawRecord
from regaudit.ingest.sinks.duckdb import DuckDBSink
from regaudit.ingest.sinks.isolation import COUNTERS, ISOLATED_REASON, MAX_ISOLATED, part, write_isolating
from regaudit.ingest.sinks.store import StoreRecordSink
from tests.analytics.alerts.events import ago, configured, push
from tests.ingest.poisoned_regaudit import MARKER, PoisonError, refuse_marker
from tests.samples import RECEIVED_AT

TIMESTAMP = "2026-11-26T19:00:00Z"


def event(event_id: str, timestamp: str = TIMESTAMP) -> bytes:
    target = {"repository": "team/app", "digest": "sha256:" + "a" * 64, "mediaType": "application/octet-stream"}
    body = {"id": event_id, "timestamp": timestamp, "action": "pull", "target": target}
    return json.dumps(body).encode()


def records(ids: list[str]) -> list[RawRecord]:
    return [
        RawRecord("event", event(i), f"kafka:registry.events/0/{n}", RECEIVED_AT, "main") for n, i in enumerate(ids)
    ]


def normalized(raw: list[RawRecord]) -> NormalizedBatch:
    normalizer = Normalizer("main")
    try:
        return normalizer.normalize(raw)
    finally:
        normalizer.close()


@dataclass
class MemoryStore:
    """A fake at the sink seam: commits a part unless it holds a poisoned row, counting every attempt."""

    poisoned: frozenset[str]
    stored: list[str]
    dead: list[dict]
    attempts: int = 0
    fail_with: Exception | None = None

    def write(self, part: NormalizedBatch) -> int:
        self.attempts += 1
        if self.fail_with is not None:
            raise self.fail_with
        origins = part.events.column("origin").to_pylist()
        if self.poisoned & set(origins):
            raise PoisonError("poisoned row in the part")
        self.stored += origins
        self.dead += part.dead_letters.to_pylist()
        return len(origins)


def memory_store(poisoned: set[str]) -> MemoryStore:
    return MemoryStore(frozenset(poisoned), [], [])


def test_a_batch_with_one_failing_row_stores_the_others_once_and_dead_letters_it_with_its_origin():
    batch = normalized(records([f"e{n}" for n in range(1000)]))
    poison = "kafka:registry.events/0/500"
    fake = memory_store({poison})

    outcome = write_isolating(fake.write, batch)

    assert sorted(fake.stored) == sorted(o for o in batch.events.column("origin").to_pylist() if o != poison)
    (dead,) = fake.dead
    assert (dead["origin"], dead["source"]) == (poison, "events")
    assert dead["reason"] == f"{ISOLATED_REASON}: PoisonError: poisoned row in the part"
    assert json.loads(dead["raw"])["id"] == "e500"
    assert outcome.isolated == 1
    assert fake.attempts <= 2 * math.ceil(math.log2(1000)) + 2  # the bisection's bound for one bad row


def test_every_failing_row_is_isolated_and_nothing_else_is_lost():
    batch = normalized(records([f"e{n}" for n in range(300)]))
    poisoned = {f"kafka:registry.events/0/{n}" for n in (0, 7, 150, 151, 299)}
    fake = memory_store(poisoned)

    outcome = write_isolating(fake.write, batch)

    assert len(fake.stored) == len(set(fake.stored)) == 295
    assert {d["origin"] for d in fake.dead} == poisoned
    assert outcome.isolated == 5


def test_the_environments_errors_are_raised_as_they_are_and_nothing_is_dead_lettered():
    batch = normalized(records(["e1", "e2", "e3"]))
    fake = memory_store(set())
    fake.fail_with = StoreLocked("held by another process")

    with pytest.raises(StoreLocked):
        write_isolating(fake.write, batch)
    assert (fake.attempts, fake.dead) == (1, [])


def test_more_rows_failing_alone_than_the_bound_is_a_fault_and_the_batch_fails_as_before():
    ids = [f"e{n}" for n in range(200)]
    batch = normalized(records(ids))
    fake = memory_store({f"kafka:registry.events/0/{n}" for n in range(0, 200, 4)})  # 50 > MAX_ISOLATED

    with pytest.raises(PoisonError):
        write_isolating(fake.write, batch)
    assert len(fake.dead) == MAX_ISOLATED
    assert fake.attempts < 2 * (MAX_ISOLATED + 1) * math.ceil(math.log2(200)) + 2


def test_a_replay_skips_the_rows_isolated_before_instead_of_narrowing_them_down_again():
    batch = normalized(records([f"e{n}" for n in range(1000)]))
    poisoned = {"kafka:registry.events/0/10", "kafka:registry.events/0/900"}
    first = memory_store(poisoned)
    write_isolating(first.write, batch, lambda ids: set())
    stored_ids = {d["dead_letter_id"] for d in first.dead}

    replay = memory_store(poisoned)
    outcome = write_isolating(replay.write, batch, lambda ids: stored_ids & set(ids))

    assert (replay.attempts, outcome.isolated, replay.dead) == (2, 0, [])  # the whole batch, then the rest
    assert sorted(replay.stored) == sorted(first.stored)


# --- the real DuckDB sink, with a fault at the batch-hook seam ---------------------------------------------------


def stored(db, sql: str) -> list[tuple]:
    with store.reader(db) as con:
        return con.execute(sql).fetchall()


def test_the_duckdb_sink_isolates_a_row_its_hooks_fail_on_and_stores_the_rest(tmp_path):
    db = tmp_path / "audit.duckdb"
    ids = [f"e{n}" for n in range(2000)]
    ids[1000] = f"{MARKER}1"
    sink = DuckDBSink(db, hooks=[refuse_marker])

    result = sink.write(normalized(records(ids)), "test")

    assert (result.events_count, result.dead_letters_count, result.isolated_count) == (1999, 1, 1)
    assert stored(db, "SELECT count(*), count(DISTINCT event_id) FROM registry_events") == [(1999, 1999)]
    assert stored(db, "SELECT count(*) FROM image_activity") == [(0,)]  # blob pulls: no image-level rows
    reason = f"{ISOLATED_REASON}: PoisonError: a marker record reached the batch hooks"
    assert stored(db, "SELECT origin, source, reason FROM dead_letters") == [
        ("kafka:registry.events/0/1000", "events", reason)
    ]
    # a replay of the batch (the consumer restarted before its offset commit) stores nothing twice
    batch = normalized(records(ids))
    again = sink.write(batch, "test")
    assert (again.events_count, again.dead_letters_count, again.isolated_count) == (0, 0, 0)
    # nor does a replay of a batch that held the poisoned row only
    alone = sink.write(part(batch, 1000, 1001), "test")
    assert (alone.events_count, alone.dead_letters_count, alone.isolated_count) == (0, 0, 0)
    assert stored(db, "SELECT count(*) FROM dead_letters") == [(1,)]


def test_an_event_that_overflows_the_stream_rules_is_isolated_and_the_batch_stored(tmp_path):
    """The original poison, past a validation that had not refused it: 9999-12-31T23:59:59Z broke the streaming
    rules' window (OverflowError) and rolled back every batch holding it."""
    db = tmp_path / "audit.duckdb"
    settings = configured(db, alerts={"stream_detections": ["push.off_hours"]})
    good = [push(ago(seconds=5), seed=f"s{n}") for n in range(20)]
    raw = [
        RawRecord("event", json.dumps(e).encode(), f"kafka:t/0/{n}", RECEIVED_AT, "main") for n, e in enumerate(good)
    ]
    batch = normalized(raw)
    late = pc.equal(pa.array(range(batch.events.num_rows)), 10)
    year_9999 = pa.scalar(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC), batch.events.schema.field("event_at").type)
    event_at = pc.if_else(late, year_9999, batch.events.column("event_at"))
    events = batch.events.set_column(batch.events.schema.get_field_index("event_at"), "event_at", event_at)
    poisoned = NormalizedBatch(events, batch.access, batch.dead_letters)

    result = DuckDBSink(db, hooks=load_hooks(settings)).write(poisoned, "test")

    assert (result.events_count, result.isolated_count) == (19, 1)
    ((origin, reason),) = stored(db, "SELECT origin, reason FROM dead_letters")
    assert origin == "kafka:t/0/10"
    assert reason.startswith(f"{ISOLATED_REASON}: OverflowError")


def test_the_webhooks_store_sink_stores_the_requests_grouped_with_a_poisoned_one(tmp_path):
    db = tmp_path / "audit.duckdb"
    sink = StoreRecordSink(db, 30.0, "main", "webhook", hooks=[refuse_marker])
    requests = [
        [(None, RawRecord("event", event(i), f"webhook:r{n}/0", RECEIVED_AT, "main"))]
        for n, i in enumerate([f"e{n}" for n in range(30)] + [f"{MARKER}x"])
    ]
    failures: list[BaseException] = []

    def deliver(request):
        try:
            sink.deliver(request)
        except BaseException as error:  # noqa: BLE001 - collected and asserted below
            failures.append(error)

    threads = [threading.Thread(target=deliver, args=(r,)) for r in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sink.close()

    assert failures == []
    assert stored(db, "SELECT count(*) FROM registry_events") == [(30,)]
    assert stored(db, "SELECT origin FROM dead_letters") == [("webhook:r30/0",)]


def test_isolated_records_are_counted_by_error_for_metrics():
    before = COUNTERS.records["PoisonError"], COUNTERS.batches
    write_isolating(memory_store({"kafka:registry.events/0/3", "kafka:registry.events/0/4"}).write,
                    normalized(records([f"e{n}" for n in range(10)])))  # fmt: skip
    assert (COUNTERS.records["PoisonError"], COUNTERS.batches) == (before[0] + 2, before[1] + 1)
    assert f'regaudit_isolated_records_total{{error="PoisonError"}} {before[0] + 2}' in COUNTERS.render()
