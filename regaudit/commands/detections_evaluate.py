"""``regaudit detections evaluate``: recall, precision and false alarms against the labeled traffic simulator.

One seed in one mode prints the detail (per family, per detection, optionally the misses); several seeds or
modes print the benchmark table of issue 16 (``regaudit.analytics.benchmark``).
"""

from __future__ import annotations

import argparse
import collections
import tempfile
from pathlib import Path

from regaudit.analytics import benchmark
from regaudit.analytics.benchmark import DEFAULT_CADENCE_HOURS, MODES, Row
from regaudit.analytics.evaluation import Evaluation, detects, missed
from regaudit.settings import Settings

FAMILY_HEADS = ("pull", "credential", "tag", "push", "proxy")


def _numbers(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def _modes(text: str) -> list[str]:
    modes = [part.strip() for part in text.split(",") if part.strip()]
    unknown = set(modes) - set(MODES)
    if unknown or not modes:
        raise argparse.ArgumentTypeError(f"modes are {', '.join(MODES)}")
    return modes


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=1, help="Simulator seed (default: 1).")
    parser.add_argument("--seeds", type=_numbers, help="Several seeds, e.g. 1,2,3,4,5 (prints the table).")
    parser.add_argument("--days", type=int, default=30, help="Simulated days (default: 30).")
    parser.add_argument("--scale", type=float, default=1.0, help="Size of the organisation (default: 1.0).")
    parser.add_argument(
        "--modes",
        type=_modes,
        default=["backfill"],
        help="backfill (ingest all, analyze --since the first day, once), live (analyze every --cadence-hours "
        "with the default lookback as the store grows), or both: backfill,live (default: backfill).",
    )
    parser.add_argument(
        "--cadence-hours",
        type=int,
        default=DEFAULT_CADENCE_HOURS,
        help=f"Hours between live analyses (default: {DEFAULT_CADENCE_HOURS}).",
    )
    parser.add_argument("--db", type=Path, help="Keep the stores in this new folder (default: a temporary one).")
    parser.add_argument("--show-missed", action="store_true", help="List the incidents no finding detected.")


def _print_detail(evaluation: Evaluation, show_missed: bool) -> None:
    load, report = evaluation.load, evaluation.report
    print(f"ingested events={load.events_count} access_lines={load.access_count}"
          f" credentials={load.credentials_count} seconds={load.seconds:.1f}")  # fmt: skip
    print(f"mode={evaluation.mode} analyses={evaluation.runs_count} last: {report.summary()}")
    header = ("family", "labels", "found", "recall", "findings", "true", "precision")
    print("\n{:18} {:>6} {:>6} {:>6} {:>8} {:>6} {:>9}".format(*header))
    for s in evaluation.scores:
        print(f"{s.name:18} {s.labels_count:6} {s.detected_count:6} {s.recall:6.2f} {s.findings_count:8}"
              f" {s.true_findings_count:6} {s.precision:9.2f}")  # fmt: skip
    print(f"\nfalse alarms (medium and above) per day per 100 identities: {evaluation.false_alarms_per_day():.2f}"
          f" ({evaluation.identities_count} identities, {evaluation.days:g} days)")  # fmt: skip
    now, hits = evaluation.now, evaluation.hits
    counts = collections.Counter(hit.detection_id for hit in hits)
    true = collections.Counter(
        hit.detection_id for hit in hits if any(detects(hit, label, now) for label in evaluation.labels)
    )
    print(f"\n{'detection':34} {'findings':>8} {'true':>6}")
    for detection_id in sorted(counts):
        print(f"{detection_id:34} {counts[detection_id]:8} {true[detection_id]:6}")
    if show_missed:
        for label in missed(hits, evaluation.labels, now):
            when = f"{label.start:%Y-%m-%d %H:%M}"
            print(f"missed {label.family}/{label.kind} {label.subject} at {when}: {label.detail}")


def table_lines(rows: list[Row], cadence_hours: int) -> list[str]:
    """The benchmark table: recall/precision per family, total, total at medium and above, false alarms."""
    heads = " ".join(f"{head:>10}" for head in (*FAMILY_HEADS, "total", "medium+"))
    lines = [f"{'seed':>4} {'mode':8} {heads} {'FA/day/100id':>12}", "-" * (27 + 11 * 7)]
    for row in rows:
        cells = [f"{s.recall:.2f}/{s.precision:.2f}" for s in (*row.scores, row.medium)]
        lines.append(f"{row.seed:>4} {row.mode:8} " + " ".join(f"{cell:>10}" for cell in cells)
                     + f" {row.false_alarms_per_day:12.2f}")  # fmt: skip
    lines.append("cells: recall/precision; medium+: findings of severity medium and above only; FA/day/100id:")
    lines.append("false alarms at medium and above per day per 100 identities;")
    lines.append(f"live: analyze every {cadence_hours} h with the default lookback as the store grows")
    return lines


def _evaluate(folder: Path, args: argparse.Namespace) -> None:
    seeds = args.seeds or [args.seed]
    rows = benchmark.run(folder, seeds, args.days, args.scale, args.modes, args.cadence_hours)
    if len(rows) == 1:
        _print_detail(rows[0][1], args.show_missed)
        return
    for row, evaluation in rows:
        print(f"seed={row.seed} mode={row.mode} analyses={row.runs_count} findings={len(evaluation.hits)}"
              f" identities={row.identities_count} seconds={row.seconds:.0f}")  # fmt: skip
        if args.show_missed:
            for label in missed(evaluation.hits, evaluation.labels, evaluation.now):
                print(f"  missed {label.family}/{label.kind} {label.subject} at {label.start:%Y-%m-%d %H:%M}")
    print()
    print("\n".join(table_lines([row for row, _ in rows], args.cadence_hours)))


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.db is not None:
        if args.db.exists():
            print(f"regaudit: {args.db} exists; evaluate builds fresh stores")
            return 2
        args.db.mkdir(parents=True)
        _evaluate(args.db, args)
        return 0
    with tempfile.TemporaryDirectory(prefix="regaudit-evaluate-") as folder:
        _evaluate(Path(folder), args)
    return 0
