"""Time ``regaudit analyze`` per detection and in total over stores of 1, 5 and 10 million events, and how
the time grows with the data.

    .venv/bin/python bench/detections.py                      # 1M, 5M and 10M events
    .venv/bin/python bench/detections.py --events 1000000 2000000 --rounds 3
    .venv/bin/python bench/detections.py --store /tmp/base-10m.duckdb --store /tmp/base-100m.duckdb  # in place
    .venv/bin/python bench/detections.py --store /tmp/base-100m.duckdb --memory-limit 4GB  # analytics.memory_limit

Each store comes from make_store.py's ``build()`` (deterministic SQL, 30 days) and is cached as
``.cache/bench/store-<events>.duckdb``; every run analyses a fresh copy of it, since analyze writes findings.
The real ``regaudit analyze`` process runs end to end (wall time) as of the end of the data, with an
organisation (CI robots and networks, production pullers, protected and public repositories) that gives
every detection rows to judge; the seconds of each detection come from the ``detection=... seconds=...``
line the runner logs. The baseline, measured on the same store in the same run, is one full scan of
``image_activity`` (the columns the detections read most): "analyze / scan" is the ratio that holds on a
noisy machine. Targets: under a minute at 10M, under five minutes at 100M (issue 19), with the analyze
process's peak RSS reported. Growth exponent: log(t_last / t_first) / log(events_last / events_first); 1 is linear.
"""

from __future__ import annotations

import argparse
import math
import re
import shutil
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CACHE, record, regaudit_env, run_process, timed  # noqa: E402
from make_store import build  # noqa: E402

DAYS = 30
NOW = "2025-03-31T00:00:00+00:00"  # make_store's data runs from 2025-03-01 for DAYS days
ORG = f"""
[org]
ci_identities = {[f"robot$team{n}+ci" for n in range(40)]!r}
ci_networks = {[f"10.{n}.0.0/16" for n in range(0, 200, 10)]!r}
production_identities = ["user1", "user2", "user3"]
internal_networks = ["10.0.0.0/9"]
admin_identities = ["user1"]
public_repositories = ["team3/*"]
protected_repositories = ["team1/*", "team2/*"]
"""
DETECTION_LINE = re.compile(r"detection=(?P<id>\S+) findings=(?P<findings>\d+) seconds=(?P<seconds>[\d.]+)")
SUMMARY_LINE = re.compile(r"analyze detections=\d+ findings=(?P<findings>\d+) .*write_seconds=(?P<write>[\d.]+)")
SCAN = """
SELECT count(*), sum(blob_bytes), max(occurred_at), max(actor), max(client_addr), max(repository), count(digest)
FROM image_activity
"""


@dataclass(frozen=True)
class Run:
    """One ``regaudit analyze`` process: wall seconds, the write phase, findings, and each detection's seconds."""

    wall: float
    peak_rss: int
    write: float
    findings: int
    detections: dict[str, float]


def cached_store(events: int) -> Path:
    """The store of ``events`` events over DAYS days, built once."""
    path = CACHE / f"store-{events}.duckdb"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        build(partial, events, DAYS)
        partial.rename(path)
    return path


def activity_rows(path: Path) -> int:
    """How many image_activity rows a store holds (its size in events, as make_store.py counts them)."""
    with duckdb.connect(str(path), read_only=True) as con:
        row = con.execute("SELECT count(*) FROM image_activity").fetchone()
    return int(row[0]) if row else 0


def scan_seconds(path: Path, rounds: int = 3) -> float:
    """The fastest of ``rounds`` full scans of image_activity on one read-only connection."""
    times = []
    with duckdb.connect(str(path), read_only=True) as con:
        for _ in range(rounds):
            with timed() as timing:
                con.execute(SCAN).fetchall()
            times.append(timing.seconds)
    return min(times)


def analyze_once(
    store: Path, config: Path, directory: Path, in_place: bool = False, memory_limit: str | None = None
) -> Run:
    """Run ``regaudit analyze`` as of NOW on a fresh copy of ``store``, or on ``store`` itself if ``in_place``
    (a store too large to copy on this disk; the findings the run writes stay in it)."""
    target = store if in_place else directory / "store.duckdb"
    if not in_place:
        shutil.copyfile(store, target)
    args = [sys.executable, "-m", "regaudit.cli", "--config", str(config), "analyze", "--db", str(target)]
    try:
        limit = {"REGAUDIT_ANALYTICS__MEMORY_LIMIT": memory_limit} if memory_limit else {}
        wall, peak, output = run_process([*args, "--now", NOW], regaudit_env(**limit))
    finally:
        if not in_place:
            target.unlink(missing_ok=True)
    summary = SUMMARY_LINE.search(output)
    detections = {m["id"]: float(m["seconds"]) for m in DETECTION_LINE.finditer(output)}
    if summary is None or not detections:
        raise RuntimeError(f"no timings in the output of analyze: {output[-2000:]}")
    return Run(wall, peak, float(summary["write"]), int(summary["findings"]), detections)


def median_run(runs: list[Run]) -> Run:
    """Each figure's median over the runs."""
    return Run(
        wall=statistics.median(run.wall for run in runs),
        peak_rss=max(run.peak_rss for run in runs),
        write=statistics.median(run.write for run in runs),
        findings=runs[0].findings,
        detections={d: statistics.median(run.detections[d] for run in runs) for d in runs[0].detections},
    )


def growth(first: float, last: float, ratio: float) -> float | None:
    """The exponent k of t ~ events^k between the smallest and the largest store; None under timer noise."""
    if first < 0.02 or last <= 0 or ratio <= 1:
        return None
    return math.log(last / first) / math.log(ratio)


def show(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def report(events: list[int], runs: list[Run], scans: list[float]) -> dict[str, object]:
    """Print the table and return what is recorded."""
    ratio = events[-1] / events[0]
    labels = [f"{n / 1e6:g}M s" for n in events]
    print(f"\n{'detection':34}" + "".join(f" {label:>9}" for label in labels) + f" {'growth':>7}")
    per_detection, exponents = {}, {}
    for detection in runs[0].detections:
        seconds = [run.detections[detection] for run in runs]
        per_detection[detection], exponents[detection] = seconds, growth(seconds[0], seconds[-1], ratio)
        print(f"{detection:34}" + "".join(f" {s:9.3f}" for s in seconds) + f" {show(exponents[detection]):>7}")
    rows = {
        "sum of detections": [sum(run.detections.values()) for run in runs],
        "findings write": [run.write for run in runs],
        "analyze process (wall)": [run.wall for run in runs],
        "baseline: image_activity scan": scans,
        "analyze / scan": [run.wall / scan for run, scan in zip(runs, scans, strict=True)],
    }
    for label, values in rows.items():
        exponent = show(growth(values[0], values[-1], ratio))
        print(f"{label:34}" + "".join(f" {v:9.3f}" for v in values) + f" {exponent:>7}")
    print(f"{'findings':34}" + "".join(f" {run.findings:9,}" for run in runs))
    print(f"{'analyze peak RSS (MiB)':34}" + "".join(f" {run.peak_rss / 2**20:9,.0f}" for run in runs))
    total_growth = growth(runs[0].wall, runs[-1].wall, ratio)
    return {
        "events": events,
        "now": NOW,
        "per_detection_seconds": per_detection,
        "per_detection_growth": exponents,
        "detections_sum_seconds": rows["sum of detections"],
        "write_seconds": rows["findings write"],
        "analyze_wall_seconds": rows["analyze process (wall)"],
        "analyze_growth": total_growth,
        "scan_seconds": scans,
        "analyze_to_scan": rows["analyze / scan"],
        "findings": [run.findings for run in runs],
        "analyze_peak_rss_bytes": [run.peak_rss for run in runs],
        "target_met": runs[-1].wall < (300 if events[-1] >= 100_000_000 else 60)
        and total_growth is not None
        and total_growth <= 1.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000, 5_000_000, 10_000_000])
    parser.add_argument("--rounds", type=int, default=1, help="Analyze runs per store; the median is shown.")
    parser.add_argument("--note", default="", help="Recorded with the result (e.g. what changed).")
    parser.add_argument(
        "--store",
        type=Path,
        action="append",
        help="An existing make_store.py store (repeatable), analysed in place instead of a cached copy: for "
        "stores too large to copy (100M events is ~35 GB). Its findings table keeps what the runs wrote.",
    )
    parser.add_argument(
        "--memory-limit", help="analytics.memory_limit for the analyze runs, e.g. 4GB (default: unset)."
    )
    args = parser.parse_args()
    if args.store:
        stores = sorted(args.store, key=lambda path: path.stat().st_size)
        events = [activity_rows(path) for path in stores]
    else:
        events = sorted(args.events)
        stores = [cached_store(n) for n in events]
    runs, scans = [], []
    with tempfile.TemporaryDirectory() as directory:
        config = Path(directory) / "regaudit.toml"
        config.write_text(ORG, encoding="utf-8")
        for count, store in zip(events, stores, strict=True):
            scans.append(scan_seconds(store))
            analyses = [
                analyze_once(store, config, Path(directory), bool(args.store), args.memory_limit)
                for _ in range(args.rounds)
            ]
            runs.append(median_run(analyses))
            rss = runs[-1].peak_rss / 2**20
            print(f"{count:,} events: analyze {runs[-1].wall:.2f}s, peak RSS {rss:,.0f} MiB, scan {scans[-1]:.3f}s")
    record(
        "detections",
        {"note": args.note, "rounds": args.rounds, "memory_limit": args.memory_limit, **report(events, runs, scans)},
    )


if __name__ == "__main__":
    main()
