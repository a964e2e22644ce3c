"""Schema 20: registry_events keyed (registry, event_at, event_id), written again in time order by the upgrade."""

from __future__ import annotations

import json
import random

import duckdb

from regaudit.evidence.chain import seal_batch
from regaudit.evidence.verify import verify
from regaudit.ingest import store
from regaudit.ingest.normalize import Normalizer
from regaudit.ingest.records import RawRecord
from regaudit.ingest.sinks.duckdb import DuckDBSink
from tests.ingest.test_activity_key import primary_key, records, rekeyed
from tests.ingest.test_derive import event

OLD_KEY = "PRIMARY KEY(registry, event_id)"
NEW_KEY = "PRIMARY KEY(registry, event_at, event_id)"


def write(db, *batches: list[RawRecord]) -> None:
    """Each batch through the store's sink, sealed in the hash chain as ingest seals it."""
    normalizer = Normalizer("main")
    try:
        for batch in batches:
            DuckDBSink(db, default_registry="main", hooks=[seal_batch]).write(normalizer.normalize(batch), "test")
    finally:
        normalizer.close()


def rows(db) -> tuple[list[tuple], list[tuple], str]:
    """Every registry_events row, every image_activity row and registry_events' key (any schema version)."""
    with duckdb.connect(str(db), read_only=True) as con:
        events = con.execute("SELECT * FROM registry_events ORDER BY event_id, event_at").fetchall()
        activity = con.execute("SELECT * FROM image_activity ORDER BY activity_id, occurred_at").fetchall()
        key = primary_key(con, "registry_events")
    return events, activity, key


def as_version_19(db) -> None:
    """The store as schema 19 kept it: registry_events keyed (registry, event_id), its rows in no time order."""
    rekeyed(db, "registry_events", NEW_KEY, OLD_KEY, 19)


def retimed(record: RawRecord, timestamp: str, **changes: str) -> RawRecord:
    """The same event id at another time (or with other fields), as a forged or reused id would come."""
    body = json.loads(record.value)
    body["timestamp"] = timestamp
    body.update(changes)
    return RawRecord(record.kind, json.dumps(body).encode(), f"{record.origin}-again", record.received_at, "main")


def test_an_upgrade_from_schema_19_keeps_every_row_and_the_chain_under_the_time_led_key(tmp_path):
    db = tmp_path / "audit.duckdb"
    write(db, records()[:5], records()[5:])
    before = rows(db)
    assert before[2] == NEW_KEY  # a new store
    as_version_19(db)
    assert rows(db) == (before[0], before[1], OLD_KEY)

    with store.writer(db) as con:  # the upgrade
        assert store.schema_version(con) == store.SCHEMA_VERSION
        assert con.execute("SELECT count(*) FROM chain WHERE kind = 'batch'").fetchall() == [(2,)]
        result = verify(con)
    assert rows(db) == before
    assert result.ok, result.problems


def test_after_the_upgrade_a_replay_stores_nothing_twice_and_new_events_are_stored(tmp_path):
    db = tmp_path / "audit.duckdb"
    batch = records()
    write(db, batch)
    as_version_19(db)
    write(db, random.Random(5).sample(batch, len(batch)))  # the upgrade, then the same records again
    fresh = tmp_path / "fresh.duckdb"
    write(fresh, batch)
    assert rows(db)[:2] == rows(fresh)[:2]

    write(db, [event(900, "pull", "team/app", "alice", "GET", tag="v2", target="sha256:" + "b" * 64)])
    assert len(rows(db)[0]) == len(rows(fresh)[0]) + 1
    with store.reader(db) as con:
        assert verify(con).ok


def test_an_id_seen_again_at_another_time_is_kept_and_at_the_same_time_is_a_replay(tmp_path):
    """Distribution's ids are UUIDs made once per event, and its retries resend the same JSON: an id that comes
    back with another timestamp is not a retry. The key before kept the first such record and dropped the second
    without a trace; the second is now stored beside it. The same id at the same time is still a replay, even with
    other fields (the first stays, as before)."""
    db = tmp_path / "audit.duckdb"
    pushed = event(100, "push", "team/app", "ci", "PUT", tag="v1", target="sha256:" + "c" * 64)
    write(db, [pushed])
    body = json.loads(pushed.value)
    write(db, [retimed(pushed, body["timestamp"], action="delete")])  # same id, same time
    write(db, [retimed(pushed, "2026-05-01T13:00:00Z")])  # same id, an hour later
    with store.reader(db) as con:
        stored = con.execute(
            "SELECT event_id, strftime(event_at, '%Y-%m-%dT%H:%M:%S'), action FROM registry_events ORDER BY event_at"
        ).fetchall()
        activity = con.execute("SELECT count(*) FROM image_activity WHERE action = 'push'").fetchall()
        assert verify(con).ok
    moved = body["timestamp"][:19]
    assert sorted(stored) == sorted([(body["id"], "2026-05-01T13:00:00", "push"), (body["id"], moved, "push")])
    assert activity == [(2,)]
