"""``regaudit poll ghcr``: read the package events of a GitHub organization's audit log, deliver each page, save the
cursor."""

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
        "The token (read:audit_log only) is ghcr.token, REGAUDIT_GHCR__TOKEN: never on the command line "
        "(docs/production.md)."
    )
    parser.add_argument("--api-url", help="GitHub's REST API base URL (default: ghcr.api_url).")
    parser.add_argument("--instance", help="Registry name stored with the events (default: ghcr.instance).")
    parser.add_argument("--org", help="Organization whose audit log is polled (default: ghcr.org).")
    parser.add_argument("--cursor", type=Path, help="Cursor file (default: ghcr.cursor_path).")
    add_until_idle_argument(parser, "without new events")
    add_sink_arguments(parser)


def overrides(args: argparse.Namespace) -> dict[str, dict[str, object]]:
    ghcr = {
        "api_url": args.api_url,
        "instance": args.instance,
        "org": args.org,
        "cursor_path": args.cursor,
        "sink": args.sink,
    }
    return {"ghcr": ghcr, **sink_overrides(args)}


def run(args: argparse.Namespace, settings: Settings) -> int:
    from regaudit.ingest.sources.ghcr.audit_api import GhcrAuditSource

    config = settings.ghcr
    if not config.org or config.token is None:
        raise TerminalError("poll ghcr needs ghcr.org and ghcr.token (--org, REGAUDIT_GHCR__TOKEN)")
    source = GhcrAuditSource(
        config.api_url, config.instance, config.org, config.token, phrase=config.phrase, per_page=config.per_page,
        timeout_seconds=config.timeout_seconds, ca_file=config.ca_file,
    )  # fmt: skip
    delivered, poller = run_poller(
        source,
        settings,
        "ghcr",
        config.instance,
        config.sink,
        config.cursor_path,
        config.poll_seconds,
        args.until_idle,
    )
    print(f"polled={delivered} pages={poller.pages}")
    return 0
