"""Backfill: ``regaudit import`` of access logs (combined, JSON) and a notification dump, against DuckDB alone.

Floors, same file, same run (issue 19 section 2): for access logs, DuckDB alone reading the file in parallel and
parsing each line into a table of access_log's shape (``ingest_access.duckdb_floor``: one regex or one JSON
transform a line, primary key and raw line, nothing else); for notifications, DuckDB's ``read_json`` of the same
JSON Lines file into ``registry_events`` (``ingest_events.READ_JSON_INSERT``). ``regaudit import`` does all that
regaudit does live: validation, dead letters, ship-logs' line keys, idempotent inserts, derived tables, hash chain.

The ratio is floor seconds / import seconds (wall time of the whole ``regaudit import`` process, startup
included); each side is run ``--repeat`` times, alternating, and the best of each kept (the machine is shared).

    .venv/bin/python bench/import_backfill.py --lines 1000000 --events 1000000

With ``--ladder`` the notification dump's record also holds ``writer_ladder``'s steps, timed on the same file in
the same run: what keeping regaudit's tables costs at the least against the same floor (``--formats`` with no
format and ``--repeat 1`` time the notifications alone, once).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import access_file, events_file, record, regaudit_env, run_process, timed_statement  # noqa: E402
from ingest_access import duckdb_floor  # noqa: E402
from ingest_events import READ_JSON_INSERT  # noqa: E402
from writer_ladder import ladder  # noqa: E402

REGAUDIT = [sys.executable, "-m", "regaudit.cli", "--log-level", "WARNING"]


def import_seconds(path: Path, db: Path) -> tuple[float, int, dict[str, str]]:
    """Wall seconds of ``regaudit import`` into a new store, its peak RSS and its summary line."""
    seconds, peak, output = run_process(
        [*REGAUDIT, "import", str(path), "--host", "bench"], regaudit_env(REGAUDIT_STORE__PATH=str(db))
    )
    line = output.strip().splitlines()[-1]
    return seconds, peak, dict(item.split("=", 1) for item in line.split())


def cpu_seconds(who: int) -> float:
    """User + system CPU seconds so far of this process (RUSAGE_SELF) or of its waited-for children."""
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def compare(name: str, path: Path, count: int, floor: object, repeat: int) -> dict[str, object]:
    """Best of ``repeat`` alternating runs of the floor and the import, and their ratio.

    CPU seconds are recorded too: on a machine other work loads, they say what each side costs whatever it waited.
    """
    floors, imports, floor_cpu, import_cpu, peak, stored = [], [], [], [], 0, ""
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="regaudit-bench-") as tmp:
        for attempt in range(repeat):
            work = Path(tmp) / str(attempt)
            work.mkdir()
            before = cpu_seconds(resource.RUSAGE_SELF)
            floors.append(floor(path, work))  # type: ignore[operator]
            floor_cpu.append(cpu_seconds(resource.RUSAGE_SELF) - before)
            before = cpu_seconds(resource.RUSAGE_CHILDREN)
            seconds, peak, summary = import_seconds(path, work / "import.duckdb")
            import_cpu.append(cpu_seconds(resource.RUSAGE_CHILDREN) - before)
            imports.append(seconds)
            stored = summary["stored"]
    best_floor, best_import = min(floors), min(imports)
    return {
        "format": name,
        "lines": count,
        "stored": int(stored),
        "floor_seconds": round(best_floor, 2),
        "floor_lines_per_second": round(count / best_floor),
        "import_seconds": round(best_import, 2),
        "import_lines_per_second": round(count / best_import),
        "ratio_import_vs_floor": round(best_floor / best_import, 3),
        "import_runs_seconds": [round(s, 2) for s in imports],
        "floor_runs_seconds": [round(s, 2) for s in floors],
        "floor_cpu_seconds": round(min(floor_cpu), 2),
        "import_cpu_seconds": round(min(import_cpu), 2),
        "ratio_cpu_import_vs_floor": round(min(floor_cpu) / min(import_cpu), 3),
        "load_average_1m": round(max(load, os.getloadavg()[0]), 1),
        "peak_rss_mib": round(peak / 2**20),
    }


def events_floor(path: Path, work: Path) -> float:
    return timed_statement(work / "floor.duckdb", READ_JSON_INSERT, {"path": str(path)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--formats", nargs="*", default=["combined", "json"])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--ladder", action="store_true", help="also time writer_ladder's steps on the events file")
    args = parser.parse_args()
    for access_format in args.formats:
        path = access_file(args.lines, access_format)
        floor = lambda p, w, f=access_format: duckdb_floor(p, f, w)  # noqa: E731
        record("import_backfill", compare(access_format, path, args.lines, floor, args.repeat))
    if args.events:
        path = events_file(args.events)
        result = compare("notifications", path, args.events, events_floor, args.repeat)
        if args.ladder:
            with tempfile.TemporaryDirectory(prefix="regaudit-bench-") as tmp:
                steps = ladder(path, Path(tmp), READ_JSON_INSERT)
            imported = result["import_seconds"]
            assert isinstance(imported, float)
            result |= steps | {"ratio_ladder_least_vs_import": round(steps["ladder_least_wall_seconds"] / imported, 3)}
        record("import_backfill", result)


if __name__ == "__main__":
    main()
