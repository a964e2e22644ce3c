"""The consumer's writer, one batch at a time, on stores of different sizes: does a batch cost more as the store grows?

For each base store (``bench/make_store.py``, hash-seeded), a copy gets ``--batches`` batches of 25,000 real
notification events (the simulator's, the file ``ingest_events.py`` produces to Kafka), normalized as ``regaudit
consume`` does, shifted in time to after the store's last event (live ingest appends at the end of the store),
and written through the DuckDB sink with the batch hooks (hash chain, stream alerts) exactly as the consumer's
writer thread does. Every statement is timed and grouped: the inserts under the primary keys, each derive step,
the hooks and the rest, COMMIT, and opening and closing the file (DuckDB checkpoints the batch into the file when
the writer closes it). The first batch warms up and is left out; the figure per group is the median over the rest.

    .venv/bin/python bench/make_store.py /tmp/base-1m.duckdb --events 1000000
    .venv/bin/python bench/make_store.py /tmp/base-10m.duckdb --events 10000000
    .venv/bin/python bench/ingest_batches.py /tmp/base-1m.duckdb /tmp/base-10m.duckdb

A flat cost per batch reads the same at both sizes; a step that reads the whole store grows with it. With
``--hold SECONDS`` the batches keep the file open as the consumer's do under a backlog (``consumer.hold_seconds``),
and the figures are means, the checkpoint of each hold counted in the batch that ends it.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import itertools
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import events_file, record  # noqa: E402

from regaudit.ingest import derive as derive_module  # noqa: E402
from regaudit.ingest import store  # noqa: E402
from regaudit.ingest.hooks import load_hooks  # noqa: E402
from regaudit.ingest.normalize import BATCH_SCHEMA, NormalizedBatch, Normalizer  # noqa: E402
from regaudit.ingest.sinks import duckdb as sink_module  # noqa: E402
from regaudit.settings import Settings  # noqa: E402

BATCH = 25_000
#: statement text -> the derive step it belongs to (also as the sink's first attempt runs it, without ON CONFLICT)
STEPS = {
    text: name
    for name, steps in [
        *((name, derive_module.statements(sql)) for name, sql in derive_module.DERIVE_STEPS),
        *derive_module.DELTA_STEPS,
    ]
    for statement in steps
    for text in (statement, statement.removesuffix("\nON CONFLICT DO NOTHING"))
}


class Clock:
    """Wall and CPU seconds (this process: DuckDB runs the writer's statements on one thread, ``SET threads = 1``)
    per group. CPU time is what the machine's load does not inflate; wall time includes the file's I/O."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)

    @contextlib.contextmanager
    def timing(self, name: str) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.wall[name] += time.perf_counter() - wall
            self.cpu[name] += time.process_time() - cpu


class TimedConnection:
    """A DuckDB connection whose statements are timed under their group."""

    def __init__(self, con: Any, clock: Clock, holds_file: bool = True) -> None:
        self._con = con
        self._clock = clock
        self._holds_file = holds_file

    def cursor(self) -> TimedConnection:
        """A batch's session (``HeldWriter``), timed the same way; closing it closes no file."""
        return TimedConnection(self._con.cursor(), self._clock, holds_file=False)

    def execute(self, sql: str, *args: Any) -> Any:
        with self._clock.timing(group(sql)):
            return self._con.execute(sql, *args)

    def close(self) -> None:
        with self._clock.timing("close_checkpoint" if self._holds_file else "hooks_and_rest"):
            self._con.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def group(sql: str) -> str:
    if sql in STEPS:
        return f"derive.{STEPS[sql]}"
    words = " ".join(sql.split())
    if words.startswith(("INSERT INTO registry_events", "INSERT INTO access_log", "INSERT INTO dead_letters")):
        return "insert"
    if words.startswith("SELECT count(*) FROM registry_events") or words == "COMMIT":
        return "insert" if words != "COMMIT" else "commit"
    return "hooks_and_rest"


class TimedOpen:
    """``store.open_writer`` timed under "open", its connections timed by the clock of the batch in hand (a
    connection held across batches closes, and checkpoints, in the batch that ends the hold)."""

    def __init__(self) -> None:
        self.clock = Clock()
        self._real = store.open_writer

    def __call__(self, path: Path, timeout: float = 30.0) -> TimedConnection:
        with self.clock.timing("open"):
            con = self._real(path, timeout)
        return TimedConnection(con, self)  # type: ignore[arg-type]

    def timing(self, name: str) -> contextlib.AbstractContextManager[None]:
        return self.clock.timing(name)


def batches(events: Path, count: int, shift: timedelta) -> Iterator[NormalizedBatch]:
    """``count`` normalized batches of the events file, their event times moved by ``shift``."""
    normalizer = Normalizer("default")
    received = pa.scalar(int(time.time() * 1e6), pa.timestamp("us", tz="UTC"))
    try:
        with events.open("rb") as lines:
            for number in range(count):
                values = [line.rstrip(b"\n") for line in itertools.islice(lines, BATCH)]
                size = len(values)
                table = pa.table(
                    [pa.array(["event"] * size), pa.array(values, pa.binary()), pa.nulls(size, pa.string()),
                     pa.array([f"bench:{number}:{i}" for i in range(size)]), pa.repeat(received, size),
                     pa.nulls(size, pa.string()), pa.nulls(size, pa.string()), pa.repeat("application/json", size),
                     pa.nulls(size, pa.string()), pa.nulls(size, pa.string())],
                    schema=BATCH_SCHEMA,
                )  # fmt: skip
                normalized = normalizer.normalize_table(table)
                index = normalized.events.schema.get_field_index("event_at")
                moved = pc.add(normalized.events.column(index), pa.scalar(shift, pa.duration("us")))
                yield dataclasses.replace(normalized, events=normalized.events.set_column(index, "event_at", moved))
    finally:
        normalizer.close()


def measure(base: Path, events: Path, count: int, work: Path, hold: float) -> dict[str, object]:
    """Median seconds per batch and group on a copy of ``base``; with ``hold``, the mean (the batches keep the
    file open, as the consumer's do under a backlog, and the batch that ends a hold pays its checkpoint)."""
    path = work / base.name
    shutil.copy(base, path)
    with store.writer(path) as con:
        stored, last = con.execute("SELECT count(*), max(event_at) FROM registry_events").fetchall()[0]
        first = con.execute("SELECT min(event_at) FROM registry_events").fetchall()[0][0]
    with events.open("rb") as handle:
        earliest = Normalizer("default").normalize_table(
            pa.table([pa.array(["event"]), pa.array([handle.readline().rstrip(b"\n")], pa.binary())]
                     + [pa.nulls(1, f.type) for f in list(BATCH_SCHEMA)[2:]], schema=BATCH_SCHEMA)
        ).events.column("event_at")[0].as_py()  # fmt: skip
    shift = (last - earliest) + timedelta(minutes=1)
    clocks: list[Clock] = []
    opener = TimedOpen()
    sink = sink_module.DuckDBSink(path, 60, "default", hooks=load_hooks(Settings()), hold_seconds=hold)
    store.open_writer = opener  # type: ignore[assignment]
    try:
        for number, batch in enumerate(batches(events, count, shift)):
            opener.clock = clock = Clock()
            with clock.timing("total"):
                sink.write(batch, "bench", more_coming=hold > 0 and number < count - 1)
            clocks.append(clock)
    finally:
        store.open_writer = opener._real  # type: ignore[method-assign]
        sink.release()
    measured = clocks[1:]
    average = means if hold > 0 else medians
    return {
        "store_events": stored,
        "store_days": round((last - first).total_seconds() / 86_400, 1),
        "store_bytes": base.stat().st_size,
        "batches": len(measured),
        "cpu_seconds_per_batch": average([c.cpu for c in measured]),
        "wall_seconds_per_batch": average([c.wall for c in measured]),
    }


def medians(runs: list[dict[str, float]]) -> dict[str, float]:
    names = sorted({name for run in runs for name in run})
    return {name: round(statistics.median(run.get(name, 0.0) for run in runs), 4) for name in names}


def means(runs: list[dict[str, float]]) -> dict[str, float]:
    names = sorted({name for run in runs for name in run})
    return {name: round(statistics.mean(run.get(name, 0.0) for run in runs), 4) for name in names}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stores", type=Path, nargs="+", help="base stores (bench/make_store.py), smallest first")
    parser.add_argument("--batches", type=int, default=6, help="batches of 25,000 events per store (first: warm-up)")
    parser.add_argument("--events", type=int, default=1_000_000, help="size of the simulated events file read from")
    parser.add_argument(
        "--hold", type=float, default=0.0, help="consumer.hold_seconds: keep the file open across batches (a backlog)"
    )
    args = parser.parse_args()
    if args.events < args.batches * BATCH:
        parser.error(f"--events {args.events} holds fewer than --batches x {BATCH:,} events")
    events = events_file(args.events)
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="regaudit-bench-") as tmp:
        results = [measure(base, events, args.batches, Path(tmp), args.hold) for base in args.stores]
    small, large = results[0]["cpu_seconds_per_batch"], results[-1]["cpu_seconds_per_batch"]
    assert isinstance(small, dict)
    assert isinstance(large, dict)
    record(
        "ingest_batches",
        {
            "batch_events": BATCH,
            "hold_seconds": args.hold,
            "load_average": [round(load, 1), round(os.getloadavg()[0], 1)],  # before and after: a shared machine
            "stores": results,
            "cpu_growth_largest_vs_smallest": {
                name: round(large[name] / small[name], 2) for name in small if small[name] > 0.001 and name in large
            },
        },
    )


if __name__ == "__main__":
    main()
