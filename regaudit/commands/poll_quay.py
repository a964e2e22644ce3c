"""``regaudit poll quay``: read a Red Hat Quay's usage logs from its logs API, deliver each page, save the cursor."""

from __future__ import annotations

import argparse
from pathlib import Path

from regaudit.errors import TerminalError
from regaudit.ingest.receive.receivers import (
    add_sink_arguments,
    add_until_idle_argument,
    run_poller,
    sink_overrides,
)
from regaudit.settings import Settings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        "The OAuth token (repo:admin or org:admin scope) is quay.token, REGAUDIT_QUAY__TOKEN: never on the "
        "command line (docs/production.md)."
    )
    parser.add_argument("--url", help="Quay's base URL (default: quay.url).")
    parser.add_argument("--instance", help="Registry name stored with the events (default: quay.instance).")
    parser.add_argument("--repository", help="namespace/name of the repository polled (default: quay.repository).")
    parser.add_argument("--organization", help="Organization polled (default: quay.organization).")
    parser.add_argument("--cursor", type=Path, help="Cursor file (default: quay.cursor_path).")
    add_until_idle_argument(parser, "without new logs")
    add_sink_arguments(parser)


def overrides(args: argparse.Namespace) -> dict[str, dict[str, object]]:
    quay = {
        "url": args.url,
        "instance": args.instance,
        "repository": args.repository,
        "organization": args.organization,
        "cursor_path": args.cursor,
        "sink": args.sink,
    }
    return {"quay": quay, **sink_overrides(args)}


def run(args: argparse.Namespace, settings: Settings) -> int:
    from regaudit.ingest.sources.quay.logs_api import QuayLogsSource

    config = settings.quay
    if not config.url or config.token is None:
        raise TerminalError("poll quay needs quay.url and quay.token (--url, REGAUDIT_QUAY__TOKEN)")
    source = QuayLogsSource(
        config.url, config.instance, config.token, repository=config.repository, organization=config.organization,
        start=config.start, lag_seconds=config.lag_seconds, timeout_seconds=config.timeout_seconds,
        ca_file=config.ca_file,
    )  # fmt: skip
    delivered, poller = run_poller(
        source,
        settings,
        "quay",
        config.instance,
        config.sink,
        config.cursor_path,
        config.poll_seconds,
        args.until_idle,
    )
    print(f"polled={delivered} pages={poller.pages}")
    return 0
