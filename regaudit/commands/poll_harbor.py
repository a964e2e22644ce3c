"""``regaudit poll harbor``: read Harbor's audit log from its API, deliver each page, then save the cursor."""

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
        "The account's secret is harbor_audit.password, REGAUDIT_HARBOR_AUDIT__PASSWORD: never on the command "
        "line (docs/production.md)."
    )
    parser.add_argument("--url", help="Harbor's base URL (default: harbor_audit.url).")
    parser.add_argument("--instance", help="Registry name stored with the events (default: harbor_audit.instance).")
    parser.add_argument("--username", help="Robot account or user (default: harbor_audit.username).")
    parser.add_argument(
        "--endpoint", choices=["auditlog-exts", "audit-logs"], help="API to read (default: harbor_audit.endpoint)."
    )
    parser.add_argument("--cursor", type=Path, help="Cursor file (default: harbor_audit.cursor_path).")
    add_until_idle_argument(parser, "without new rows")
    add_sink_arguments(parser)


def overrides(args: argparse.Namespace) -> dict[str, dict[str, object]]:
    audit = {
        "url": args.url,
        "instance": args.instance,
        "username": args.username,
        "endpoint": args.endpoint,
        "cursor_path": args.cursor,
        "sink": args.sink,
    }
    return {"harbor_audit": audit, **sink_overrides(args)}


def run(args: argparse.Namespace, settings: Settings) -> int:
    from regaudit.ingest.sources.harbor.audit_api import HarborAuditSource

    config = settings.harbor_audit
    if not config.url or not config.username:
        raise TerminalError("poll harbor needs harbor_audit.url and harbor_audit.username (--url, --username)")
    source = HarborAuditSource(
        config.url, config.instance, config.username, config.password, endpoint=config.endpoint,
        page_size=config.page_size, lag_seconds=config.lag_seconds, start=config.start,
        timeout_seconds=config.timeout_seconds, ca_file=config.ca_file,
    )  # fmt: skip
    delivered, poller = run_poller(
        source,
        settings,
        "harbor",
        config.instance,
        config.sink,
        config.cursor_path,
        config.poll_seconds,
        args.until_idle,
    )
    print(f"polled={delivered} pages={poller.pages}")
    return 0
