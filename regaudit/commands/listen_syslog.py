"""``regaudit listen-syslog``: receive Harbor's forwarded audit log over syslog (TCP and UDP) and deliver each line."""

from __future__ import annotations

import argparse
import signal
from types import FrameType

from regaudit.ingest.receive.receivers import add_sink_arguments, build_sink, sink_overrides
from regaudit.settings import Settings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="Address to bind (default: harbor_syslog.host).")
    parser.add_argument("--port", type=int, help="TCP and UDP port (default: harbor_syslog.port).")
    parser.add_argument("--instance", help="Registry name stored with the events (default: harbor_syslog.instance).")
    parser.add_argument(
        "--until-idle", type=float, metavar="SECONDS", help="Exit after SECONDS without a line (scripts, tests)."
    )
    add_sink_arguments(parser)


def overrides(args: argparse.Namespace) -> dict[str, dict[str, object]]:
    listen = {"host": args.host, "port": args.port, "instance": args.instance, "sink": args.sink}
    return {"harbor_syslog": listen, **sink_overrides(args)}


def run(args: argparse.Namespace, settings: Settings) -> int:
    from regaudit.ingest.receive.syslog import SyslogListener
    from regaudit.ingest.sources.harbor.events import REGISTRY_KIND
    from regaudit.ingest.sources.harbor.syslog import SYSLOG_TYPE

    config = settings.harbor_syslog
    sink = build_sink(settings, config.sink, config.instance, source="listen-syslog")
    listener = SyslogListener(
        sink, host=config.host, port=config.port, protocols=list(config.protocols), instance=config.instance,
        registry_kind=REGISTRY_KIND, content_type=SYSLOG_TYPE, batch_lines=config.batch_lines,
        max_line_bytes=config.max_line_bytes,
    )  # fmt: skip

    def stop(signum: int, frame: FrameType | None) -> None:
        listener.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        delivered = listener.run(max_idle_seconds=args.until_idle)
    finally:
        sink.close()
    print(f"received={delivered}")
    return 0
