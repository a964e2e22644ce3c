"""``regaudit analyze``: run the detections over the store once, or every interval with ``--every``."""

from __future__ import annotations

import argparse
import logging
import time

from regaudit.analytics.runner import RunReport, analyze
from regaudit.arguments import duration, moment
from regaudit.errors import TransientError
from regaudit.settings import Settings

log = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", help="DuckDB file (default: store.path).")
    parser.add_argument("--detections", help="Comma-separated ids, families or globs (default: analytics.detections).")
    parser.add_argument("--every", type=duration, help="Run again every interval (e.g. 5m) until interrupted.")
    parser.add_argument("--now", type=moment, help="Analyse as of this ISO time (replays; default: the clock).")
    parser.add_argument("--since", type=moment, help="Re-evaluate windows from this ISO time (default: lookback).")
    parser.add_argument("--lookback-hours", type=float, help="Hours re-evaluated per run (analytics.lookback_hours).")
    parser.add_argument("--fail-on-findings", action="store_true", help="Exit 1 when a run opened new findings.")


def overrides(args: argparse.Namespace) -> dict[str, dict[str, object]]:
    detections = [p.strip() for p in args.detections.split(",") if p.strip()] if args.detections else None
    return {
        "store": {"path": args.db},
        "analytics": {"detections": detections, "lookback_hours": args.lookback_hours},
    }


def _once(args: argparse.Namespace, settings: Settings) -> RunReport:
    report = analyze(
        settings.store.path,
        settings.org,
        settings.analytics,
        now=args.now,
        since=args.since,
        lock_timeout=settings.store.lock_timeout_seconds,
    )
    new = set(report.outcome.new)
    for hit in report.hits:
        if hit.finding_id in new:
            print(f"{hit.severity.value:8}  {hit.detection_id:32}  {hit.subject}: {hit.summary}")
    print(report.summary())
    return report


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.every is None:
        report = _once(args, settings)
        return 1 if args.fail_on_findings and report.outcome.new else 0
    interval = args.every.total_seconds()
    while True:
        started = time.monotonic()
        try:
            _once(args, settings)
        except TransientError as error:
            log.warning("analyze skipped this run: %s", error)
        time.sleep(max(0.0, interval - (time.monotonic() - started)))
