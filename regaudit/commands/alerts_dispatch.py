"""``regaudit alerts dispatch``: deliver queued alerts and new analyze findings to the sinks, standalone.

``regaudit consume`` runs the same dispatcher as a thread unless ``alerts.dispatch_in_consumer`` is off; run
this one where the consumer does not (``webhook --sink duckdb`` deployments), or after ``regaudit analyze`` in
a scheduled job with ``--until-idle``. A lease in the store lets only one dispatcher deliver at a time.
"""

from __future__ import annotations

import argparse
import signal
from types import FrameType

from regaudit.analytics.alerts.errors import AlertsConfigError
from regaudit.settings import Settings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", help="DuckDB file (default: store.path).")
    parser.add_argument(
        "--until-idle",
        type=float,
        metavar="SECONDS",
        help="Exit once nothing was delivered, logged or picked up for SECONDS (scheduled jobs, tests).",
    )


def overrides(args: argparse.Namespace) -> dict[str, dict[str, object]]:
    return {"store": {"path": args.db}}


def run(args: argparse.Namespace, settings: Settings) -> int:
    from regaudit.analytics.alerts.dispatcher import Dispatcher

    if not settings.alerts.sinks:
        raise AlertsConfigError("no [[alerts.sinks]] configured: nothing to deliver to")
    dispatcher = Dispatcher(settings)

    def stop(signum: int, frame: FrameType | None) -> None:
        dispatcher.stop(timeout=0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    outcomes = dispatcher.run(until_idle=args.until_idle)
    print(" ".join(f"{name}={count}" for name, count in sorted(outcomes.items())) or "nothing to deliver")
    return 0
