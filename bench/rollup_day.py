"""The daily rollups as one day of a store fills: does a batch cost more the more rows its day holds already?

The simulator's events (the file ``ingest_events.py`` produces to Kafka), normalized as ``regaudit consume`` does,
are spread over one UTC day in time order and written in batches of 25,000 through the DuckDB sink with the batch
hooks, as the consumer's writer does, into a fresh store, three times in the same run: with the rollups kept by each
batch's window difference (``rollup_delta``), by summing the touched keys' days again (``derive.sql``), and as
``rollup_delta.pays`` chooses per batch (regaudit's way). Every statement is timed (``ingest_batches.Clock``), so
the figures are process CPU seconds per batch: in all, and in the rollup steps (``daily_rollups``, ``daily_clients``,
``daily_pages`` and the window's copy). With ``--spread-days`` each batch lands on a day of its own instead, the
case of a batch that spans its day (a backfill, the consume benchmark's 30 days of events). With ``--then-small N``
each way's store then takes 10 batches of N events at 21:00 of the filled day, as a quiet minute of a live consumer
sends them (the figure: the median of the last 9).

    .venv/bin/python bench/rollup_day.py --batches 40 --then-small 20
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ingest_batches  # noqa: E402
from common import events_file, record  # noqa: E402

from regaudit.ingest import rollup_delta, store  # noqa: E402
from regaudit.ingest.hooks import load_hooks  # noqa: E402
from regaudit.ingest.normalize import NormalizedBatch  # noqa: E402
from regaudit.ingest.sinks import duckdb as sink_module  # noqa: E402
from regaudit.settings import Settings  # noqa: E402

ROLLUP_GROUPS = ("derive.rollup_before", "derive.daily_rollups", "derive.daily_clients", "derive.daily_pages")
DAY = datetime(2026, 11, 2, tzinfo=UTC)


def placed(batches: list[NormalizedBatch], spread: bool) -> list[NormalizedBatch]:
    """The batches' events moved into one day (in time order, the day's share of each batch alike), or each batch
    into a day of its own (its events spread over that day)."""
    times = [b.events.column("event_at") for b in batches]
    first = min(pc.min(t).as_py() for t in times)
    span = (max(pc.max(t).as_py() for t in times) - first).total_seconds() * 1e6
    moved = []
    for number, (batch, column) in enumerate(zip(batches, times, strict=True)):
        share = pc.divide(pc.cast(pc.subtract(pc.cast(column, pa.int64()), int(first.timestamp() * 1e6)), pa.float64()),
                          span)  # fmt: skip
        if spread:  # the batch's own share of the run, stretched over its day
            share = pc.multiply(pc.subtract(share, number / len(batches)), len(batches))
        day = DAY + timedelta(days=number if spread else 0)
        micros = pc.add(pc.cast(pc.floor(pc.multiply(share, 86_000e6)), pa.int64()), int(day.timestamp() * 1e6))
        at = pc.cast(micros, pa.timestamp("us", tz="UTC"))
        index = batch.events.schema.get_field_index("event_at")
        moved.append(dataclasses.replace(batch, events=batch.events.set_column(index, "event_at", at)))
    return moved


def small_batches(batch: NormalizedBatch, events: int) -> list[NormalizedBatch]:
    """10 batches of ``events`` of the batch's events each, 10 seconds apart from 21:00 of the day on, no lines."""
    index = batch.events.schema.get_field_index("event_at")
    start = DAY + timedelta(hours=21)
    smalls = []
    for number in range(10):
        rows = batch.events.slice(number * events, events)
        at = pa.array([start + timedelta(seconds=10 * number, milliseconds=i) for i in range(rows.num_rows)],
                      pa.timestamp("us", tz="UTC"))  # fmt: skip
        smalls.append(
            dataclasses.replace(
                batch,
                events=rows.set_column(index, "event_at", at),
                access=batch.access.slice(0, 0),
                dead_letters=batch.dead_letters.slice(0, 0),
            )
        )
    return smalls


def write(
    batches: list[NormalizedBatch], pays: Callable[[datetime, datetime], bool], path: Path
) -> list[dict[str, float]]:
    """CPU seconds of every batch written into a fresh store, the rollups kept as ``pays`` says."""
    real_pays, real_open = rollup_delta.pays, store.open_writer
    opener = ingest_batches.TimedOpen()
    sink = sink_module.DuckDBSink(path, 60, "default", hooks=load_hooks(Settings()), hold_seconds=0)
    rollup_delta.pays, store.open_writer = pays, opener  # type: ignore[assignment]
    figures = []
    try:
        for batch in batches:
            opener.clock = clock = ingest_batches.Clock()
            with clock.timing("total"):
                sink.write(batch, "bench", more_coming=False)
            rollups = sum(clock.cpu.get(name, 0.0) for name in ROLLUP_GROUPS)
            figures.append({"batch_cpu": round(clock.cpu["total"], 3), "rollups_cpu": round(rollups, 3)})
    finally:
        rollup_delta.pays, store.open_writer = real_pays, real_open  # type: ignore[method-assign]
        sink.release()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=40, help="batches of 25,000 events (40: 1M events in a day)")
    parser.add_argument("--spread-days", action="store_true", help="each batch on a day of its own")
    parser.add_argument("--then-small", type=int, default=0, metavar="N", help="then 10 batches of N events at 21:00")
    args = parser.parse_args()
    events = events_file(max(args.batches * ingest_batches.BATCH, 1_000_000))
    batches = placed(list(ingest_batches.batches(events, args.batches, timedelta(0))), args.spread_days)
    smalls = small_batches(batches[-1], args.then_small) if args.then_small else []
    ways = {"difference": lambda lo, hi: True, "summed_again": lambda lo, hi: False, "chosen": rollup_delta.pays}
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="regaudit-bench-") as tmp:
        runs = {name: write(batches + smalls, pays, Path(tmp) / f"{name}.duckdb") for name, pays in ways.items()}
    quarter = max(1, args.batches // 4)
    figures: dict[str, float] = {}
    for name, run in runs.items():  # the first batch warms up; then the first and the last quarter of the day
        day = run[: len(batches)]
        for part, rows in (("early", day[1 : 1 + quarter]), ("late", day[-quarter:])):
            for figure in ("batch_cpu", "rollups_cpu"):
                figures[f"{name}_{part}_{figure}"] = round(sum(r[figure] for r in rows) / len(rows), 3)
        if smalls:  # the median of the small batches after their first
            for figure in ("batch_cpu", "rollups_cpu"):
                figures[f"{name}_small_{figure}"] = statistics.median(r[figure] for r in run[len(batches) + 1 :])
    for part in ("early", "late", "small") if smalls else ("early", "late"):
        ratio = figures[f"chosen_{part}_batch_cpu"] / figures[f"summed_again_{part}_batch_cpu"]
        figures[f"ratio_chosen_vs_summed_again_{part}"] = round(ratio, 2)
    result = {
        "batch_events": ingest_batches.BATCH,
        "batches": args.batches,
        "one_day": not args.spread_days,
        "small_batch_events": args.then_small,
        "load_average": [round(load, 1), round(os.getloadavg()[0], 1)],
        **figures,
    }
    record("rollup_day", result)


if __name__ == "__main__":
    main()
