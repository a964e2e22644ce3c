"""Run every benchmark, one after the other, and write the results table.

    .venv/bin/python bench/run_all.py            # the issue's sizes (30 min on 2 cores with the stores cached)
    .venv/bin/python bench/run_all.py --quick    # small sizes, a few minutes: checks the benchmarks run (the
                                                 # table is printed, not written)
    .venv/bin/python bench/run_all.py --table    # only re-render the table from bench/results/*.jsonl

Each benchmark runs as its own process (so one's memory does not weigh on the next) and appends its figures to
``bench/results/<name>.jsonl``. The table takes the newest record of each benchmark and is written to
``bench/RESULTS.md``, which always shows the last full run. README's table is kept by hand: the newest figure of
each benchmark, whichever command measured it, with its date, commit and load. Every row pairs regaudit's figure
with a baseline measured in the same run on the same data.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import QUICK_ENV, RESULTS, ROOT  # noqa: E402

BENCH = ROOT / "bench"
TABLE = BENCH / "RESULTS.md"
BEFORE = json.loads((BENCH / "before.json").read_text(encoding="utf-8"))
#: the line under the table in RESULTS.md: where the per-batch figures are broken down
SCALING = "The writer's cost per batch step by step, and what still grows with the store: [docs/scaling.md](../docs/scaling.md)."  # noqa: E501

Record = dict[str, Any]

#: name -> arguments at the issue's sizes, and with --quick
RUNS: dict[str, tuple[list[str], list[str]]] = {
    "ingest_events": (["--events", "1000000"], ["--events", "100000", "--naive-sample", "2000"]),
    "ingest_access": (["--lines", "1000000"], ["--lines", "20000"]),
    "detections": (["--events", "1000000", "5000000", "10000000"], ["--events", "200000", "1000000"]),
    # on the stores detections.py built and cached
    "dashboard_timings": (
        [".cache/bench/store-10000000.duckdb"],
        [".cache/bench/store-1000000.duckdb", "--rounds", "5", "--page-rounds", "1"],
    ),
    # the writer's cost per batch on the smallest and the largest of those stores
    "ingest_batches": (
        [".cache/bench/store-1000000.duckdb", ".cache/bench/store-10000000.duckdb", "--batches", "5"],
        [
            ".cache/bench/store-200000.duckdb",
            ".cache/bench/store-1000000.duckdb",
            "--batches",
            "3",
            "--events",
            "100000",
        ],
    ),
    "webhook": (["--seconds", "20", "--connections", "32"], ["--seconds", "5", "--connections", "16"]),
    "webhook_serial": (["--seconds", "20", "--connections", "32"], ["--seconds", "4", "--connections", "16"]),
    "import_backfill": (["--lines", "1000000", "--events", "1000000"], ["--lines", "20000", "--events", "20000"]),
    # a batch scattered over years, against this code before schema 21 (derive_pending.sql)
    "scattered_batch": (
        [".cache/bench/store-1000000.duckdb", ".cache/bench/store-10000000.duckdb", "--baseline", "fea2d44"],
        [".cache/bench/store-200000.duckdb", "--baseline", "fea2d44"],
    ),
}


def run(names: list[str], quick: bool) -> None:
    python = sys.executable
    for name in names:
        full, small = RUNS[name]
        args = [python, str(BENCH / f"{name}.py"), *(small if quick else full)]
        print(f"== {name}: {' '.join(args[1:])}", flush=True)
        started = time.perf_counter()
        env = os.environ | ({QUICK_ENV: "1"} if quick else {})
        subprocess.run(args, cwd=ROOT, env=env, check=True)
        print(f"== {name}: {time.perf_counter() - started:.0f} s", flush=True)


def newest(name: str, quick: bool = False) -> list[Record]:
    """The newest record of a benchmark (of each format, for the access log), of full runs or of quick ones."""
    path = RESULTS / f"{name}.jsonl"
    if not path.exists():
        return []
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    latest: dict[str, Record] = {}
    for rec in records:
        if rec.get("quick", False) == quick:
            latest[str(rec.get("format", ""))] = rec  # later lines win
    return list(latest.values())


def n(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}".rstrip("0").rstrip(".")


def met(ok: bool) -> str:
    return "met" if ok else "**not met**"


def events_rows(rec: Record) -> list[str]:
    ratio, naive, rss = rec["ratio_vs_read_json"], rec["ratio_vs_naive"], rec["regaudit_peak_rss_mib"]
    old = BEFORE["ingest_events"]
    return [
        f"| notification ingest, {n(rec['events'])} events of {rec['bytes_per_event']} B, Kafka → `regaudit "
        f"consume` → DuckDB | {n(rec['regaudit_events_per_second'])} events/s, peak RSS {n(rss)} MiB | DuckDB "
        f"`read_json` into the same table: {n(rec['read_json_events_per_second'])} events/s; naive per-row "
        f"consumer: {n(rec['naive_events_per_second'])} events/s{events_floors(rec)} | {ratio} of `read_json`; "
        f"{events_floor_ratio(rec)}{naive}× naive | "
        f"{n(old['regaudit_events_per_second'])} events/s, {old['ratio_vs_read_json']}, {old['ratio_vs_naive']}×, "
        f"{n(old['regaudit_peak_rss_mib'])} MiB | ≥ 0.5: {met(ratio >= 0.5)}{events_floor_target(rec)}; "
        f"≥ 50×: {met(naive >= 50)}; < 1 GiB: {met(rss < 1024)} |"
    ]


def events_floors(rec: Record) -> str:
    """The floors of the same run: what kafka-python alone, and kafka-python plus read_json, reach."""
    if "kafka_python_floor_events_per_second" not in rec:
        return ""
    return (
        f"; floors: kafka-python alone {n(rec['kafka_python_floor_events_per_second'])} events/s "
        f"({rec['ratio_floor_vs_read_json']} of `read_json`), kafka-python + `read_json` per batch, no validation: "
        f"{n(rec['kafka_read_json_events_per_second'])} events/s ({rec['ratio_kafka_read_json_vs_read_json']}; "
        f"{rec['ratio_kafka_read_json_overlapped_vs_read_json']} if its two parts overlapped perfectly)"
    )


def kafka_ratio(rec: Record) -> float | None:
    """regaudit's rate as a share of kafka-python alone in the same run (issue 19's target), where it was measured."""
    floor = rec.get("kafka_python_floor_events_per_second")
    return round(rec["regaudit_events_per_second"] / floor, 3) if floor else None


def events_floor_ratio(rec: Record) -> str:
    ratio = kafka_ratio(rec)
    return "" if ratio is None else f"{ratio} of kafka-python alone; "


def events_floor_target(rec: Record) -> str:
    ratio = kafka_ratio(rec)
    return "" if ratio is None else f"; ≥ 0.35 of kafka-python alone (issue 19): {met(ratio >= 0.35)}"


def access_rows(rec: Record) -> list[str]:
    ratio = rec["ratio_import_vs_goaccess"]
    old = BEFORE.get(f"ingest_access:{rec['format']}", {})
    rows = [
        f"| access log, {n(rec['lines'])} `{rec['format']}` lines, file import (`regaudit ship-logs --sink "
        f"duckdb`) | {n(rec['regaudit_import_lines_per_second'])} lines/s, peak RSS {n(rec['peak_rss_mib'])} MiB "
        f"| GoAccess: {n(rec['goaccess_lines_per_second'])} lines/s{access_floor(rec)} | {ratio}× GoAccess | "
        f"{n(old.get('regaudit_import_lines_per_second', 0))} lines/s, {old.get('ratio_import_vs_goaccess')}× | "
        f"≥ 5×: {met(ratio >= 5)} |"
    ]
    if "kafka_ship_seconds" in rec:
        total = rec["kafka_ship_seconds"] + rec["kafka_consume_seconds"]
        rows.append(
            f"| same, through Kafka (`ship-logs` → topic → `consume`) | ship {n(rec['kafka_ship_seconds'])} s + "
            f"consume {n(rec['kafka_consume_seconds'])} s = {n(rec['lines'] / total)} lines/s | GoAccess "
            f"{n(rec['goaccess_seconds'])} s | {round(rec['goaccess_seconds'] / total, 2)}× GoAccess | "
            f"ship {n(old.get('kafka_ship_seconds', 0))} s + consume {n(old.get('kafka_consume_seconds', 0))} s | |"
        )
    return rows


def access_floor(rec: Record) -> str:
    """The floor of the same run: DuckDB alone parsing the file into a table shaped like access_log."""
    if "duckdb_floor_lines_per_second" not in rec:
        return ""
    return (
        f"; floor, DuckDB alone (parallel read, one {'regex' if rec['format'] == 'combined' else 'JSON parse'} a "
        f"line, same table shape, key and raw line): {n(rec['duckdb_floor_lines_per_second'])} lines/s = "
        f"{rec['ratio_floor_vs_goaccess']}× GoAccess"
    )


def import_rows(rec: Record) -> list[str]:
    """``regaudit import`` (issue 19 section 2) against DuckDB alone on the same file, in the same run."""
    ratio = rec["ratio_import_vs_floor"]
    unit = "lines/s"
    if rec["format"] == "notifications":
        what = f"notification dump, {n(rec['lines'])} events (JSON Lines)"
        floor = "DuckDB `read_json` into `registry_events`"
        unit = "events/s"
    else:
        what = f"access log, {n(rec['lines'])} `{rec['format']}` lines"
        parse = "regex" if rec["format"] == "combined" else "JSON parse"
        floor = f"floor, DuckDB alone (parallel read, one {parse} a line, access_log's shape, key and raw line)"
    return [
        f"| backfill, {what}, `regaudit import` (process wall time, derived tables and chain) | "
        f"{n(rec['import_lines_per_second'])} {unit} ({rec['import_seconds']} s), peak RSS "
        f"{n(rec['peak_rss_mib'])} MiB | {floor}: {n(rec['floor_lines_per_second'])} {unit} "
        f"({rec['floor_seconds']} s){_cpu(rec)} | {ratio} of the floor | (new) | ≥ 0.7: {met(ratio >= 0.7)} |"
    ]


def _cpu(rec: Record) -> str:
    """CPU seconds of both sides and the machine's load, where the run recorded them (a shared machine)."""
    if "import_cpu_seconds" not in rec:
        return ""
    return (
        f"; CPU {rec['import_cpu_seconds']} s against {rec['floor_cpu_seconds']} s "
        f"({rec['ratio_cpu_import_vs_floor']}), load average {rec['load_average_1m']}"
    )


def batches_rows(rec: Record) -> list[str]:
    """The writer's CPU per batch on the smallest and the largest store: issue 19 wants the tag history's rebuild
    and the checkpoint constant per batch as the store grows (taken here as at most 1.25× over the sizes run)."""
    small, large, old = rec["stores"][0], rec["stores"][-1], BEFORE["ingest_batches"]
    first, last = small["cpu_seconds_per_batch"], large["cpu_seconds_per_batch"]
    sizes = f"{n(small['store_events'])} and {n(large['store_events'])}"
    steps = {"total": "in all", "derive.rebuild_tag_history": "tag history", "close_checkpoint": "checkpoint on close"}
    growth = {step: round(last[step] / first[step], 2) for step in steps}
    return [
        f"| consumer's writer, CPU per {n(rec['batch_events'])}-event batch (median of {small['batches']}, "
        f"`ingest_batches.py`) on stores of {sizes} events | "
        f"{'; '.join(f'{label} {n(first[step])} s → {n(last[step])} s' for step, label in steps.items())} | the "
        f"same batches on the {n(small['store_events'])}-event store{batches_load(rec)} | "
        f"{'; '.join(f'×{growth[step]} {label}' for step, label in steps.items())} | {old['summary']} | constant "
        f"per batch (≤ 1.25×): tag history {met(growth['derive.rebuild_tag_history'] <= 1.25)}, checkpoint "
        f"{met(growth['close_checkpoint'] <= 1.25)} |"
    ]


def scattered_rows(rec: Record) -> list[str]:
    """Per store: a batch of events scattered over years, as a multiple of the live batch before it, now and with
    the code before schema 21, which derived it as one range over the whole store."""
    rows = []
    for store in rec["stores"]:
        now, before = store["now"], store.get("before")
        baseline = f"{n(before['scattered'])} s, ×{store['before_scattered_vs_live']}" if before else "not run"
        rows.append(
            f"| a batch of {rec['scattered_events']} events scattered over 2001-2192 on `{store['store']}` "
            f"(`scattered_batch.py`) | {n(now['scattered'])} s, ×{store['now_scattered_vs_live']} the live batch "
            f"before it ({n(now['live'])} s); the next three {n(now['live_after'])}, {n(now['live_after_2'])}, "
            f"{n(now['live_after_3'])} s | the live batch of {rec['live_events']} events, same run | "
            f"×{store['now_scattered_vs_live']} | {baseline} ({rec['baseline']}) | bounded, not the store read |"
        )
    return rows


def batches_load(rec: Record) -> str:
    """The machine's load average before and after the run, where it was recorded: CPU seconds still vary with it."""
    if "load_average" not in rec:
        return ""
    return f"; load average {rec['load_average'][0]} before, {rec['load_average'][1]} after"


def webhook_rows(rec: Record) -> list[str]:
    kafka, memory, old = rec["kafka_acks_all"], rec["memory_sink"], BEFORE["webhook"]
    return [
        f"| webhook, {rec['connections']} connections on loopback, Kafka acks=all | {n(kafka['per_second'])} "
        f"notifications/s, p99 {n(kafka['p99_ms'])} ms | same server, in-memory sink: {n(memory['per_second'])}/s, "
        f"p99 {n(memory['p99_ms'])} ms | {rec['ratio_kafka_vs_memory']} | {n(old['per_second'])}/s, p99 "
        f"{n(old['p99_ms'])} ms | (none set) |"
    ]


def webhook_serial_rows(rec: Record) -> list[str]:
    serial, floor, concurrent, old = rec["serial"], rec["floor"], rec["concurrent"], BEFORE["webhook_serial"]
    ratio = rec["ratio_serial_vs_floor"]
    times = rec.get("ratio_concurrent_vs_before_same_run", rec["ratio_concurrent_vs_before"])
    return [
        f"| webhook as a registry calls it: 1 connection, one event per POST, each answer awaited (wrk, "
        f"{rec['envelopes']} captured envelopes), Kafka acks=all | {n(serial['per_second'])} notifications/s, p50 "
        f"{n(serial['p50_ms'])} ms, p99 {n(serial['p99_ms'])} ms | floor: kafka-python alone, one acks=all produce "
        f"awaited at a time, alternating with the webhook in {rec['rounds']} rounds: {n(floor['per_second'])}/s, "
        f"p50 {n(floor['p50_ms'])} ms, p99 {n(floor['p99_ms'])} ms; load average {rec.get('load_average', '?')} | "
        f"{ratio} of the floor | "
        f"{n(old['per_second'])}/s, p99 {n(old['p99_ms'])} ms, {old['ratio_serial_vs_floor']} (66f0121) | ≥ 0.5: "
        f"{met(ratio >= 0.5)}; p99 < 10 ms: {met(serial['p99_ms'] < 10)} |",
        f"| same server, {rec['connections']} connections | {n(concurrent['per_second'])} notifications/s, p50 "
        f"{n(concurrent['p50_ms'])} ms, p99 {n(concurrent['p99_ms'])} ms | {then(rec)} | {times}× | "
        f"{n(old['concurrent_per_second'])}/s, p99 {n(old['concurrent_p99_ms'])} ms "
        f"(66f0121) | ≥ 3×: {met(times >= 3)}; p99 < 50 ms: {met(concurrent['p99_ms'] < 50)} |",
    ]


def then(rec: Record) -> str:
    """The concurrent case's baseline: the webhook before issue 19 in the same run, else its figure of then."""
    if "before_concurrent" not in rec:
        return "1,121/s, the `webhook` row at 66f0121, before issue 19"
    before = rec["before_concurrent"]
    return (
        f"the webhook of {rec['before_revision']} (before issue 19), alternating with it on the same broker: "
        f"{n(before['per_second'])}/s, p99 {n(before['p99_ms'])} ms; against 1,121/s then: "
        f"{rec['ratio_concurrent_vs_before']}×"
    )


def detections_rows(rec: Record) -> list[str]:
    sizes = "/".join(f"{e / 1e6:g}M" for e in rec["events"])
    wall, scan = rec["analyze_wall_seconds"], rec["scan_seconds"]
    slowest = sorted(rec["per_detection_seconds"].items(), key=lambda kv: -kv[1][-1])[:3]
    growth, old = rec["analyze_growth"], BEFORE["detections"]
    return [
        f"| detections, `regaudit analyze` ({len(rec['per_detection_seconds'])} detections) over {sizes} events | "
        f"{' / '.join(n(w) + ' s' for w in wall)} in total; slowest at {sizes.split('/')[-1]}: "
        f"{', '.join(f'{name} {n(times[-1])} s' for name, times in slowest)}; growth exponent {growth:.2f} | "
        f"one scan of image_activity: {' / '.join(n(t) + ' s' for t in scan)} | analyze ÷ scan: "
        f"{' / '.join(n(r) for r in rec['analyze_to_scan'])} | {n(old['analyze_wall_seconds_10m'])} s at 10M | "
        f"< 60 s at 10M: {met(wall[-1] < 60)}; ≤ linear: {met(growth <= 1.0)} |"
    ]


def dashboard_rows(rec: Record) -> list[str]:
    pages = rec["pages"]
    worst = ", ".join(f"{page} {n(info['worst_p95'])} s" for page, info in pages.items())
    queries = [(name, q) for info in pages.values() for name, q in info["queries"].items()]
    name, slowest = max(queries, key=lambda item: item[1]["fresh_p95"])
    old = BEFORE["dashboard"]
    return [
        f"| dashboard, {n(rec['image_activity_rows'])} events, every page's queries × {rec['rounds']} on fresh "
        f"connections | worst p95 per page: {worst} | slowest query `{name}`: median {n(slowest['fresh_median'])} s, "
        f"p95 {n(slowest['fresh_p95'])} s | | {old['summary']} | p95 < 1 s: "
        f"{met(rec['every_p95_under_1s'])} |"
    ]


RENDER: dict[str, Callable[[Record], list[str]]] = {
    "ingest_events": events_rows,
    "ingest_access": access_rows,
    "detections": detections_rows,
    "dashboard": dashboard_rows,
    "ingest_batches": batches_rows,
    "webhook": webhook_rows,
    "webhook_serial": webhook_serial_rows,
    "import_backfill": import_rows,
    "scattered_batch": scattered_rows,
}


def table(quick: bool = False) -> str:
    rows = [
        "| benchmark | regaudit | baseline (same run) | ratio | before (1a826bb) | target |",
        "|---|---|---|---|---|---|",
    ]
    dates = []
    for name, render in RENDER.items():
        for rec in newest(name, quick):
            rows += render(rec)
            dates.append(rec["at"])
    machine = f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}"
    span = f"{min(dates)} to {max(dates)}" if dates else "no runs yet"
    return "\n".join([f"Runs of {span} on {machine}.", "", *rows])


def write_table(quick: bool) -> None:
    text = table(quick)
    print(text)
    if quick:
        return
    TABLE.write_text(
        f"# Benchmark results\n\nWritten by `bench/run_all.py`; see README.md.\n\n{text}\n\n{SCALING}\n", "utf-8"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes: checks that every benchmark runs")
    parser.add_argument("--table", action="store_true", help="only render the table from the recorded results")
    parser.add_argument("--only", nargs="+", choices=list(RUNS), default=list(RUNS), help="benchmarks to run")
    args = parser.parse_args()
    if not args.table:
        run(args.only, args.quick)
    write_table(args.quick)  # a quick run's small figures never replace the table


if __name__ == "__main__":
    main()
