"""``regaudit webhook``: serve the notification receiver (see ``regaudit.ingest.receive.webhook``)."""

from __future__ import annotations

import argparse
import socket
from pathlib import Path

from regaudit.errors import TerminalError
from regaudit.ingest.receive.receivers import add_sink_arguments, build_sink, sink_overrides
from regaudit.ingest.receive.webhook_auth import BearerTokens
from regaudit.settings import Settings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        "Routes: POST /events and /events/<registry> (Distribution, GitLab), /events/harbor/<instance>, "
        "/events/artifactory/<instance> (token in X-JFrog-Event-Auth), /events/ecr/<instance> (EventBridge), "
        "/events/acr/<instance>; GET /healthz, /metrics, /docs. Authorization: Bearer <token>, one of the tokens "
        "(docs/sources.md, docs/production.md)."
    )
    parser.add_argument("--host", help="Listen address (default: webhook.host).")
    parser.add_argument("--port", type=int, help="Listen port (default: webhook.port).")
    parser.add_argument(
        "--token-file",
        type=Path,
        help="File with the accepted bearer tokens, one per line: '<token>' for every registry, or "
        "'<token> <registry>[,<registry>...]' for those only; '#' starts a comment line; a token is 16 to 4096 "
        "characters, e.g. openssl rand -hex 32 (or set REGAUDIT_WEBHOOK__TOKENS / REGAUDIT_WEBHOOK__REGISTRY_TOKENS "
        "as JSON).",
    )
    parser.add_argument("--registry", help="Registry name for events posted to /events (default: webhook.registry).")
    parser.add_argument("--max-body-bytes", type=int, help="Body size limit (default: webhook.max_body_bytes).")
    parser.add_argument(
        "--workers",
        type=int,
        help="Processes answering on the port, up to one per core (default: webhook.workers; sink kafka only).",
    )
    add_sink_arguments(parser)


def overrides(args: argparse.Namespace) -> dict[str, dict[str, object]]:
    webhook: dict[str, object] = {
        "host": args.host,
        "port": args.port,
        "registry": args.registry,
        "max_body_bytes": args.max_body_bytes,
        "workers": args.workers,
        "sink": args.sink,
    }
    if args.token_file is not None:
        webhook.update(read_token_file(args.token_file))
    return {"webhook": webhook, **sink_overrides(args)}


def read_token_file(path: Path) -> dict[str, object]:
    """``tokens`` and ``registry_tokens`` from a token file; the tokens themselves are checked at start."""
    tokens: list[str] = []
    bound: dict[str, list[str]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        if len(fields) > 2:
            raise TerminalError(f"{path}:{number}: expected '<token>' or '<token> <registry>[,<registry>...]'")
        if len(fields) == 1:
            tokens.append(fields[0])
            continue
        for registry in fields[1].split(","):
            bound.setdefault(registry, []).append(fields[0])
    return {"tokens": tokens, "registry_tokens": bound}


def run(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from regaudit.ingest.receive.webhook import COLUMNS, Metrics, create_app
    from regaudit.ingest.receive.workers import CounterTable, supervise

    config = settings.webhook
    BearerTokens.from_settings(config)  # refuse empty, short or odd tokens before anything starts
    if config.workers > 1 and config.sink != "kafka":
        raise TerminalError("webhook.workers above 1 needs webhook.sink = 'kafka': the store has one writer")
    server_config = {
        "host": config.host,  # where uvicorn binds for one worker (several share the listener below)
        "port": config.port,
        "http": "httptools",  # C parser (a locked dependency): h11's pure Python cost a serial registry ~25%
        "loop": "auto",  # uvloop where installed (a dependency except on Windows), else asyncio's own loop
        "log_level": args.log_level.lower(),
        "access_log": False,
        "timeout_graceful_shutdown": 10,
    }
    # Several workers: bound before the fork, so every worker accepts on the same socket (uvicorn's backlog)
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    listener = (
        None if config.workers == 1 else socket.create_server((config.host, config.port), family=family, backlog=2048)
    )
    table = CounterTable(config.workers, COLUMNS)

    def serve(index: int) -> None:
        """One worker: its own sink (built after the fork), the app counting in its row of the shared table."""
        sink = build_sink(settings, config.sink, config.registry, "webhook", max_value_bytes=config.max_body_bytes)
        try:
            server = uvicorn.Server(uvicorn.Config(create_app(config, sink, Metrics(table, index)), **server_config))
            server.run(sockets=None if listener is None else [listener])
            if not server.started:
                raise TerminalError(f"the webhook did not start on {config.host}:{config.port}")
        finally:
            sink.close()

    if listener is None:
        serve(0)
        return 0
    return supervise(config.workers, serve)
