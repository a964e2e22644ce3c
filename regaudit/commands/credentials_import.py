"""``regaudit credentials import``: record the credential inventory from htpasswd, CSV or JSON files, Harbor's
robot accounts (the JSON of ``GET /api/v2.0/robots``), or IAM's credential report (the CSV of
``aws iam get-credential-report``)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from pathlib import Path

from regaudit.analytics.errors import InventoryError
from regaudit.errors import TerminalError
from regaudit.ingest import store
from regaudit.ingest.sources import credentials
from regaudit.settings import Settings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files", nargs="*", type=Path, help="htpasswd files, CSV/JSON inventories, or Harbor's robot list (JSON)."
    )
    parser.add_argument(
        "--from-harbor",
        metavar="URL",
        help="Read Harbor's robot accounts from its API (GET /api/v2.0/robots) as harbor_audit.username and "
        "harbor_audit.password (an account that may list robots).",
    )
    parser.add_argument(
        "--format",
        choices=["htpasswd", "csv", "json", "harbor-robots", "aws-credential-report"],
        help="File format (default: by extension; else htpasswd). harbor-robots: what GET /api/v2.0/robots answers;"
        " aws-credential-report: IAM's credential report CSV (aws iam get-credential-report).",
    )
    parser.add_argument("--db", help="DuckDB file (default: store.path).")


def overrides(args: argparse.Namespace) -> dict[str, dict[str, object]]:
    return {"store": {"path": args.db}}


def run(args: argparse.Namespace, settings: Settings) -> int:
    if not args.files and not args.from_harbor:
        raise TerminalError("credentials import needs inventory files or --from-harbor URL")
    parsed = []
    for path in args.files:
        file_format = args.format or credentials.detect_format(path)
        parsed.append((str(path), str(path.resolve()), file_format, credentials.parse(path, file_format)))
    if args.from_harbor:
        robots = _harbor_robots(args.from_harbor, settings)
        parsed.append((args.from_harbor, args.from_harbor, "harbor-robots", robots))
    started_at = datetime.now(UTC)
    with store.writer(settings.store.path, settings.store.lock_timeout_seconds) as con:
        for index, (path, where, file_format, entries) in enumerate(parsed):
            source = f"{file_format}:{where}"
            # each file its own moment: a name in two inventories of one command (a robot in a CSV and Harbor's
            # list) is two rows of the history, keyed by (name, imported_at), in the order given
            imported_at = started_at + timedelta(microseconds=index)
            count = credentials.store_import(con, entries, source, imported_at, carry_over=file_format == "htpasswd")
            print(f"{path}: {count} credentials ({file_format})")
    return 0


def _harbor_robots(url: str, settings: Settings) -> list[credentials.CredentialEntry]:
    from regaudit.ingest.sources.harbor.client import HarborClient
    from regaudit.ingest.sources.harbor.robots import fetch_robots

    config = settings.harbor_audit
    client = HarborClient(
        url, config.username, config.password, timeout_seconds=config.timeout_seconds, ca_file=config.ca_file
    )
    try:
        return credentials.parse_harbor_robots(fetch_robots(client))
    except ValueError as error:  # ValidationError is a ValueError
        raise InventoryError(f"{url}: {error}") from error
