"""``regaudit webhook``: serve the notification receiver (see ``regaudit.ingest.webhook``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from regaudit.errors import TerminalError
from regaudit.ingest.receivers import add_sink_arguments, build_sink, sink_overrides
from regaudit.settings import Settings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="Listen address (default: webhook.host).")
    parser.add_argument("--port", type=int, help="Listen port (default: webhook.port).")
    parser.add_argument(
        "--token-file",
        type=Path,
        help="File with the accepted bearer tokens, one per line (or set REGAUDIT_WEBHOOK__TOKENS as a JSON list).",
    )
    parser.add_argument("--registry", help="Registry name for events posted to /events (default: webhook.registry).")
    parser.add_argument("--max-body-bytes", type=int, help="Body size limit (default: webhook.max_body_bytes).")
    add_sink_arguments(parser)


def overrides(args: argparse.Namespace) -> dict[str, dict[str, object]]:
    webhook: dict[str, object] = {
        "host": args.host,
        "port": args.port,
        "registry": args.registry,
        "max_body_bytes": args.max_body_bytes,
        "sink": args.sink,
    }
    if args.token_file is not None:
        lines = args.token_file.read_text(encoding="utf-8").splitlines()
        webhook["tokens"] = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    return {"webhook": webhook, **sink_overrides(args)}


def run(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from regaudit.ingest.webhook import create_app

    config = settings.webhook
    if not config.tokens:
        raise TerminalError("no bearer token configured: set webhook.tokens or pass --token-file")
    sink = build_sink(settings, config.sink, config.registry, source="webhook")
    try:
        uvicorn.run(
            create_app(config, sink),
            host=config.host,
            port=config.port,
            log_level=args.log_level.lower(),
            access_log=False,
            timeout_graceful_shutdown=10,
        )
    finally:
        sink.close()
    return 0
