"""``regaudit ship-logs``: follow an nginx access log (JSON or combined) and ship each line."""

from __future__ import annotations

import argparse
import signal
from pathlib import Path
from types import FrameType

from regaudit.ingest.receive.receivers import add_sink_arguments, build_sink, sink_overrides
from regaudit.settings import Settings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", nargs="?", type=Path, help="Access log to follow (default: ship_logs.path).")
    parser.add_argument("--state", type=Path, help="Position file (default: the log path plus .regaudit-pos).")
    parser.add_argument("--host", help="Host name stored with each line (default: this machine's name).")
    parser.add_argument("--batch-lines", type=int, help="Lines per delivery (default: ship_logs.batch_lines).")
    parser.add_argument(
        "--until-idle",
        type=float,
        metavar="SECONDS",
        help="Exit after SECONDS without new lines (cron, scripts, tests). A sink that stays down for longer than "
        "SECONDS (3 attempts at least) ends the run with exit code 75, the position before the lines it could not "
        "deliver.",
    )
    add_sink_arguments(parser)


def overrides(args: argparse.Namespace) -> dict[str, dict[str, object]]:
    ship = {
        "path": args.path,
        "state_path": args.state,
        "host": args.host,
        "sink": args.sink,
        "batch_lines": args.batch_lines,
    }
    return {"ship_logs": ship, **sink_overrides(args)}


def run(args: argparse.Namespace, settings: Settings) -> int:
    from regaudit.ingest.receive.shipper import Shipper
    from regaudit.ingest.receive.tail import FileTail

    config = settings.ship_logs
    state = config.state_path or config.path.with_name(config.path.name + ".regaudit-pos")
    sink = build_sink(settings, config.sink, settings.webhook.registry, source="ship-logs")
    shipper = Shipper(FileTail(config.path, state, config.host), sink, config.poll_seconds, config.batch_lines)

    def stop(signum: int, frame: FrameType | None) -> None:
        shipper.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        shipped = shipper.run(max_idle_seconds=args.until_idle)
    finally:
        sink.close()
    print(f"shipped={shipped}")
    return 0
