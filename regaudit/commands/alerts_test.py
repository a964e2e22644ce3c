"""``regaudit alerts test --sink NAME``: send one sample alert to a sink now, to check the wiring.

The sample is marked as a test in every field a person reads. It bypasses the sink's severity and detection
filters, its rate limit and the outbox, and is sent once; the attempt is logged in ``alerts`` like any other.
Exit code 0 when the sink took it, 75 when it was unavailable, 1 when it refused it.
"""

from __future__ import annotations

import argparse
import getpass
import socket
from datetime import UTC, datetime

from regaudit.analytics.alerts.errors import AlertsConfigError, SinkRejected, SinkUnavailable
from regaudit.analytics.alerts.outbox import OutcomeName
from regaudit.settings import Settings

EXIT_REFUSED = 1
EXIT_UNAVAILABLE = 75


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sink", required=True, help="Name of the sink in [[alerts.sinks]].")
    parser.add_argument("--db", help="DuckDB file the attempt is logged in (default: store.path).")


def overrides(args: argparse.Namespace) -> dict[str, dict[str, object]]:
    return {"store": {"path": args.db}}


def run(args: argparse.Namespace, settings: Settings) -> int:
    from regaudit.analytics.alerts.alert import sample_alert
    from regaudit.analytics.alerts.outbox import Outcome, record
    from regaudit.analytics.alerts.sinks import build_sink
    from regaudit.ingest import store

    try:
        sink_settings = settings.alerts.sink(args.sink)
    except KeyError:
        names = ", ".join(s.name for s in settings.alerts.sinks) or "none configured"
        raise AlertsConfigError(f"no sink named {args.sink!r} (sinks: {names})") from None
    now = datetime.now(UTC)
    alert = sample_alert(now, f"{getpass.getuser()}@{socket.gethostname()}")
    sink = build_sink(sink_settings, settings.alerts.dashboard_url, settings.kafka)
    code, detail = 0, None
    outcome: OutcomeName = "delivered"
    try:
        sink.send(alert)
    except SinkUnavailable as error:
        code, outcome, detail = EXIT_UNAVAILABLE, "failed", str(error)
    except SinkRejected as error:
        code, outcome, detail = EXIT_REFUSED, "rejected", str(error)
    finally:
        sink.close()
    with store.writer(settings.store.path, settings.store.lock_timeout_seconds) as con:
        record(con, [Outcome(alert.alert_id, alert.finding_id, sink_settings.name, 1, now, outcome, detail)])
    print(
        f"sink={sink_settings.name} alert={alert.alert_id} outcome={outcome}" + (f" detail={detail}" if detail else "")
    )
    return code
