"""``regaudit analyze``: run the detections over the store once, or every interval with ``--every``."""

from __future__ import annotations

import argparse
import logging
import re
import time
from datetime import UTC, datetime, timedelta

from regaudit.analytics.runner import RunReport, analyze
from regaudit.errors import TransientError
from regaudit.settings import Settings

log = logging.getLogger(__name__)

_DURATION = re.compile(r"^(?P<amount>\d+(?:\.\d+)?)(?P<unit>[smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration(text: str) -> timedelta:
    """``30s``, ``5m``, ``1h``, ``1d``."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"not a duration like 30s, 5m or 1h: {text!r}")
    return timedelta(seconds=float(match["amount"]) * _UNIT_SECONDS[match["unit"]])


def moment(text: str) -> datetime:
    """An ISO time; without a zone it is UTC."""
    value = datetime.fromisoformat(text)
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


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
