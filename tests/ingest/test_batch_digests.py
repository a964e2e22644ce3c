"""The chain's digests computed from the inserted tables (ingest/sinks/digests.py) are those of the stored rows."""

from __future__ import annotations

import dataclasses

from regaudit.evidence import chain
from regaudit.evidence.canonical import AUDIT_TABLES, batch_digest, given_digests
from regaudit.evidence.verify import verify
from regaudit.ingest import store
from regaudit.ingest.hooks import load_hooks
from regaudit.ingest.normalize import Normalizer
from regaudit.ingest.sinks.digests import BatchDigests, DigestConnection
from regaudit.ingest.sinks.duckdb import DuckDBSink
from regaudit.settings import Settings
from tests.samples import ACCESS_CAPTURES, EVENT_CAPTURES, SAMPLES, access_records, event_records

HTPASSWD = SAMPLES / "distribution-2.8.2-htpasswd.events.jsonl"
CHAIN_HOOK = "regaudit.evidence.chain:seal_batch"


def every_capture():
    """Every real capture's events and access lines, and one event cut short (a dead letter with its bytes)."""
    events = [record for capture in EVENT_CAPTURES for record in event_records(capture, capture.stem)]
    access = [record for capture in ACCESS_CAPTURES for record in access_records(capture)]
    cut = dataclasses.replace(events[0], value=events[0].value[: len(events[0].value) // 2], origin="capture:cut")
    return [*events, *access, cut]


def normalized(records):
    normalizer = Normalizer("default")
    try:
        return normalizer.normalize(records)
    finally:
        normalizer.close()


def test_digests_of_the_inserted_tables_equal_those_read_back_from_the_store(tmp_path):
    db = tmp_path / "audit.duckdb"
    batch = normalized(every_capture())
    assert all(batch.counts)  # events, access lines (combined and JSON, with float seconds), a dead letter
    result = DuckDBSink(db).write(batch, "test")
    assert (result.events_count, result.access_count, result.dead_letters_count) == batch.counts
    given = BatchDigests(batch, result.batch_id, DigestConnection()).result()
    with store.reader(db) as con:
        assert given == {table.name: batch_digest(con, table, result.batch_id) for table in AUDIT_TABLES}


def test_a_batch_holding_stored_rows_is_sealed_from_what_it_stored(tmp_path):
    db = tmp_path / "audit.duckdb"
    sink = DuckDBSink(db, hooks=load_hooks(Settings(), [CHAIN_HOOK]), digests_beside_rows=1)
    records = every_capture()
    sink.write(normalized(records[: len(records) // 2]), "test")
    second = sink.write(normalized(records), "test")  # a replay of the first half: ON CONFLICT skips it
    with store.reader(db) as con:
        head = chain.head(con)
        assert verify(con).ok
    assert (head.batch_id, head.events_count, head.access_count) == (2, second.events_count, second.access_count)
    assert second.events_count + second.access_count < len(records) // 2 + 1


def test_a_batch_sealed_with_the_digests_computed_beside_its_inserts_verifies(tmp_path):
    db = tmp_path / "audit.duckdb"
    sink = DuckDBSink(db, hooks=load_hooks(Settings(), [CHAIN_HOOK]), digests_beside_rows=1)
    batch = normalized(every_capture())
    result = sink.write(batch, "test")
    with store.reader(db) as con:
        head = chain.head(con)
        assert verify(con).ok
        stored = {table.name: batch_digest(con, table, result.batch_id) for table in AUDIT_TABLES}
    assert (head.events_count, head.events_digest) == stored["registry_events"]
    assert (head.access_count, head.access_digest) == stored["access_log"]
    assert (head.dead_letters_count, head.dead_letters_digest) == stored["dead_letters"]


def test_given_digests_stand_only_for_their_batch(tmp_path):
    db = tmp_path / "audit.duckdb"
    sink = DuckDBSink(db, hooks=load_hooks(Settings(), [CHAIN_HOOK]))
    sink.write(normalized(event_records(HTPASSWD, "main")), "test")
    table = AUDIT_TABLES[0]
    with store.reader(db) as con:
        stored = batch_digest(con, table, 1)
        with given_digests(2, lambda: {table.name: (0, "other batch")}):
            assert batch_digest(con, table, 1) == stored
        with given_digests(1, lambda: None):  # not computed: read back
            assert batch_digest(con, table, 1) == stored
        with given_digests(1, lambda: {table.name: (1, "given")}):
            assert batch_digest(con, table, 1) == (1, "given")
        assert chain.head(con).events_digest == stored[1]
