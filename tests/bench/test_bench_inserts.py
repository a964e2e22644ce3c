"""The benchmarks' own writes keep up with the store's schema, checked in seconds instead of a benchmark run.

A benchmark's baseline or floor writes into regaudit's tables the way a user's own code would, with its own
INSERT. Each new column of a schema version broke the positional ones (``outcome`` in version 9 broke
``make_store.py`` and the naive consumer of ``ingest_events.py``, found after minutes of ``run_all.py``). Here every
such statement, and the per-batch writer of ``ingest_batches.py``, runs at a tiny size on a store of the current
version, with events and access lines from the simulator the benchmarks take theirs from.
"""

from __future__ import annotations

import itertools
import sys
from datetime import timedelta
from pathlib import Path

import orjson
import pytest

from regaudit.ingest import store
from regaudit.simulator import iter_access_lines, iter_notifications

sys.path.insert(0, str(Path(__file__).parents[2] / "bench"))  # the benchmarks import each other by bare name
import ingest_access  # noqa: E402
import ingest_batches  # noqa: E402
import ingest_events  # noqa: E402
import rollup_day  # noqa: E402
from common import empty_store, timed_statement  # noqa: E402
from make_store import build  # noqa: E402

COUNT = 60


def events_file(tmp_path: Path, count: int = COUNT) -> Path:
    """``count`` simulated notification events, one JSON object a line, as ``common.events_file`` writes them."""
    events: list[bytes] = []
    for note in iter_notifications(7, days=1):
        events += [orjson.dumps(event) for event in orjson.loads(note.body)["events"]]
        if len(events) >= count:
            break
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(events[:count]) + b"\n")
    return path


def stored(path: Path, table: str) -> int:
    with store.reader(path) as con:  # refuses a store of another schema version
        return int(con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])  # noqa: S608 - fixed names


def test_naive_consumer_insert_stores_each_event(tmp_path):
    lines = events_file(tmp_path).read_bytes().splitlines()
    con = empty_store(tmp_path / "naive.duckdb")
    try:
        for line in lines:
            con.execute(ingest_events.NAIVE_INSERT, ingest_events.naive_row(line))
        rows = con.execute("SELECT count(DISTINCT event_id), min(registry_kind), max(outcome) FROM registry_events")
        assert rows.fetchall() == [(COUNT, "distribution", None)]
    finally:
        con.close()


def test_read_json_floor_stores_each_event(tmp_path):
    timed_statement(tmp_path / "floor.duckdb", ingest_events.READ_JSON_INSERT, {"path": str(events_file(tmp_path))})
    assert stored(tmp_path / "floor.duckdb", "registry_events") == COUNT


@pytest.mark.parametrize("access_format", ["combined", "json"])
def test_access_floor_stores_each_line(tmp_path, access_format):
    lines = list(itertools.islice(iter_access_lines(7, days=1, access_format=access_format), COUNT))
    path = tmp_path / "access.log"
    path.write_bytes(b"\n".join(lines) + b"\n")
    ingest_access.duckdb_floor(path, access_format, tmp_path)
    assert stored(tmp_path / "floor.duckdb", "access_log") == COUNT


@pytest.mark.parametrize("hold", [0.0, 5.0])
def test_ingest_batches_writes_batches_onto_a_make_store_store(tmp_path, monkeypatch, hold):
    base = tmp_path / "base.duckdb"
    build(base, 2000, 2)
    monkeypatch.setattr(ingest_batches, "BATCH", 20)
    work = tmp_path / "work"
    work.mkdir()
    result = ingest_batches.measure(base, events_file(tmp_path), 3, work, hold)
    assert result["store_events"] == 2000
    assert result["batches"] == 2  # the first of the three warms up
    assert stored(work / base.name, "registry_events") == 2000 + 3 * 20


def test_rollup_day_places_batches_in_one_day_and_writes_each_way(tmp_path, monkeypatch):
    monkeypatch.setattr(ingest_batches, "BATCH", 20)
    batches = rollup_day.placed(list(ingest_batches.batches(events_file(tmp_path), 3, timedelta(0))), spread=False)
    days = {at.date() for b in batches for at in b.events.column("event_at").to_pylist()}
    assert days == {rollup_day.DAY.date()}
    smalls = rollup_day.small_batches(batches[-1], 2)
    assert [b.events.num_rows for b in smalls] == [2] * 10
    for name, pays in (("difference", lambda lo, hi: True), ("summed", lambda lo, hi: False)):
        figures = rollup_day.write(batches + smalls, pays, tmp_path / f"{name}.duckdb")
        assert len(figures) == 13
        assert stored(tmp_path / f"{name}.duckdb", "registry_events") == 3 * 20 + 10 * 2
