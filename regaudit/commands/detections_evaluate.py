"""``regaudit detections evaluate``: precision and recall per family against the labeled traffic simulator."""

from __future__ import annotations

import argparse
import collections
import tempfile
from pathlib import Path

from regaudit.analytics.evaluation import Evaluation, detects, evaluate, missed
from regaudit.settings import Settings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=1, help="Simulator seed (default: 1).")
    parser.add_argument("--days", type=int, default=30, help="Simulated days (default: 30).")
    parser.add_argument("--scale", type=float, default=1.0, help="Size of the organisation (default: 1.0).")
    parser.add_argument("--db", type=Path, help="Keep the store in this new file (default: a temporary one).")
    parser.add_argument("--show-missed", action="store_true", help="List the incidents no finding detected.")


def _print(evaluation: Evaluation, show_missed: bool) -> None:
    load, report = evaluation.load, evaluation.report
    print(f"ingested events={load.events_count} access_lines={load.access_count}"
          f" credentials={load.credentials_count} seconds={load.seconds:.1f}")  # fmt: skip
    print(report.summary())
    header = ("family", "labels", "found", "recall", "findings", "true", "precision")
    print("\n{:18} {:>6} {:>6} {:>6} {:>8} {:>6} {:>9}".format(*header))
    for s in evaluation.scores:
        print(f"{s.name:18} {s.labels_count:6} {s.detected_count:6} {s.recall:6.2f} {s.findings_count:8}"
              f" {s.true_findings_count:6} {s.precision:9.2f}")  # fmt: skip
    now = report.context.now
    counts = collections.Counter(hit.detection_id for hit in report.hits)
    true = collections.Counter(
        hit.detection_id for hit in report.hits if any(detects(hit, label, now) for label in evaluation.labels)
    )
    print(f"\n{'detection':34} {'findings':>8} {'true':>6}")
    for detection_id in sorted(counts):
        print(f"{detection_id:34} {counts[detection_id]:8} {true[detection_id]:6}")
    if show_missed:
        for label in missed(report.hits, evaluation.labels, now):
            when = f"{label.start:%Y-%m-%d %H:%M}"
            print(f"missed {label.family}/{label.kind} {label.subject} at {when}: {label.detail}")


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.db is not None:
        if args.db.exists():
            print(f"regaudit: {args.db} exists; evaluate builds a fresh store")
            return 2
        _print(evaluate(args.db, args.seed, args.days, args.scale), args.show_missed)
        return 0
    with tempfile.TemporaryDirectory(prefix="regaudit-evaluate-") as folder:
        _print(evaluate(Path(folder) / "store.duckdb", args.seed, args.days, args.scale), args.show_missed)
    return 0
