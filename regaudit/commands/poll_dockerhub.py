"""``regaudit poll dockerhub``: read a Docker Hub organization's audit log, deliver each page, save the cursor."""

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
        "The personal or organization access token is dockerhub.secret, REGAUDIT_DOCKERHUB__SECRET: never on "
        "the command line (docs/production.md)."
    )
    parser.add_argument("--url", help="Docker Hub's API base URL (default: dockerhub.url).")
    parser.add_argument("--instance", help="Registry name stored with the events (default: dockerhub.instance).")
    parser.add_argument("--account", help="Organization whose audit log is polled (default: dockerhub.account).")
    parser.add_argument("--identifier", help="User or organization name of the token (default: dockerhub.identifier).")
    parser.add_argument("--cursor", type=Path, help="Cursor file (default: dockerhub.cursor_path).")
    add_until_idle_argument(parser, "without new events")
    add_sink_arguments(parser)


def overrides(args: argparse.Namespace) -> dict[str, dict[str, object]]:
    dockerhub = {
        "url": args.url,
        "instance": args.instance,
        "account": args.account,
        "identifier": args.identifier,
        "cursor_path": args.cursor,
        "sink": args.sink,
    }
    return {"dockerhub": dockerhub, **sink_overrides(args)}


def run(args: argparse.Namespace, settings: Settings) -> int:
    from regaudit.ingest.sources.dockerhub.audit_api import DockerHubAuditSource

    config = settings.dockerhub
    if not config.account or not config.identifier or config.secret is None:
        raise TerminalError("poll dockerhub needs dockerhub.account, dockerhub.identifier and dockerhub.secret"
                            " (--account, --identifier, REGAUDIT_DOCKERHUB__SECRET)")  # fmt: skip
    source = DockerHubAuditSource(
        config.url, config.instance, config.account, config.identifier, config.secret, start=config.start,
        lag_seconds=config.lag_seconds, window_seconds=config.window_seconds, page_size=config.page_size,
        timeout_seconds=config.timeout_seconds, ca_file=config.ca_file,
    )  # fmt: skip
    delivered, poller = run_poller(
        source,
        settings,
        "dockerhub",
        config.instance,
        config.sink,
        config.cursor_path,
        config.poll_seconds,
        args.until_idle,
    )
    print(f"polled={delivered} pages={poller.pages}")
    return 0
