"""A writer working off a backlog keeps the store file across batches, and gives it back (DESIGN.md section 3):
after a batch with nothing more coming, once the hold is over, at once on ``release``, and to another writer of
the same process through the store turn. Every batch is its own committed transaction meanwhile."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import duckdb
import pytest

from regaudit.errors import StoreLocked
from regaudit.ingest import store
from regaudit.ingest.normalize import NormalizedBatch, Normalizer
from regaudit.ingest.sinks.duckdb import DuckDBSink
from regaudit.ingest.sinks.held import StoreTurn
from tests.samples import EVENT_CAPTURES, event_records


def batch(number: int) -> NormalizedBatch:
    """The first capture's events under origins of their own, so each batch stores new rows."""
    records = [replace(r, origin=f"{r.origin}/batch-{number}") for r in event_records(EVENT_CAPTURES[0], "main")]
    normalizer = Normalizer("main")
    try:
        normalized = normalizer.normalize(records)
    finally:
        normalizer.close()
    ids = [f"{event_id}-{number}" for event_id in normalized.events.column("event_id").to_pylist()]
    events = normalized.events.set_column(normalized.events.schema.get_field_index("event_id"), "event_id", [ids])
    return replace(normalized, events=events)


def readable(path: Path) -> int | None:
    """The events stored, as a reader sees them; None while the file is held."""
    try:
        with store.reader(path, timeout=0.2) as con:
            return int(con.execute("SELECT count(*) FROM registry_events").fetchall()[0][0])
    except StoreLocked:
        return None


def test_a_writer_with_more_coming_keeps_the_file_and_gives_it_back_after_the_last_batch(tmp_path):
    """A hook's TEMP objects end with the batch's session, as the stream rules' views do (their view tag_moves
    beside the derive step's TEMP table of that name broke the next batch on a kept connection)."""
    path = tmp_path / "audit.duckdb"

    def leaves_a_view(con: duckdb.DuckDBPyConnection, batch_id: int) -> None:
        con.execute("CREATE TEMP VIEW tag_moves AS SELECT 1 AS moved")

    sink = DuckDBSink(path, 5, "main", hooks=[leaves_a_view], hold_seconds=60)
    first = sink.write(batch(1), "kafka", more_coming=True)
    assert sink.held_for() is not None
    assert readable(path) is None
    second = sink.write(batch(2), "kafka", more_coming=False)
    assert sink.held_for() is None
    assert second.batch_id == first.batch_id + 1
    assert readable(path) == first.events_count + second.events_count > 0


def test_the_file_is_given_back_when_the_hold_is_over_or_on_release(tmp_path):
    path = tmp_path / "audit.duckdb"
    unheld = DuckDBSink(path, 5, "main", hold_seconds=0)
    unheld.write(batch(1), "kafka", more_coming=True)
    assert unheld.held_for() is None
    held = DuckDBSink(path, 5, "main", hold_seconds=60)
    held.write(batch(2), "kafka", more_coming=True)
    held.expire()  # a timer's call before the hold is over keeps it
    assert readable(path) is None
    held.release()
    assert readable(path) is not None
    held.write(batch(3), "kafka", more_coming=True)
    held._held.hold_seconds = 0  # the hold is over
    held.expire()
    assert held.held_for() is None
    assert readable(path) is not None


def test_another_writer_of_the_process_gets_the_file_through_the_store_turn(tmp_path):
    path = tmp_path / "audit.duckdb"
    sink = DuckDBSink(path, 0.5, "main", hold_seconds=60)
    turn = StoreTurn(sink)
    with turn.lock:
        sink.write(batch(1), "kafka", more_coming=True)
    with pytest.raises(StoreLocked), store.writer(path, timeout=0.2):
        pass  # the process's own held handle is in the way without the turn
    with turn, store.writer(path, timeout=0.2) as con:
        assert con.execute("SELECT count(*) FROM ingest_batches").fetchall() == [(1,)]
    with turn.lock:
        sink.write(batch(2), "kafka", more_coming=False)
    assert readable(path) is not None


def test_a_process_waiting_for_the_file_gets_it_after_the_batch_in_hand(tmp_path):
    path = tmp_path / "audit.duckdb"
    sink = DuckDBSink(path, 5, "main", hold_seconds=60)
    sink.write(batch(1), "kafka", more_coming=True)
    assert readable(path) is None  # the reader's retries leave <store>.waiting beside the store
    assert store.waiting_marker(path).exists()
    sink.write(batch(2), "kafka", more_coming=True)
    assert sink.held_for() is None
    assert readable(path) is not None
    sink.write(batch(3), "kafka", more_coming=True)  # an old request does not end the next hold
    assert sink.held_for() is not None
    sink.release()
