"""``regaudit credentials import``: record the credential inventory from htpasswd, CSV or JSON files, Harbor's
robot accounts (the JSON of ``GET /api/v2.0/robots``), or IAM's credential report (the CSV of
``aws iam get-credential-report``)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from regaudit.ingest import store
from regaudit.ingest.sources import credentials
from regaudit.settings import Settings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files", nargs="+", type=Path, help="htpasswd files, CSV/JSON inventories, or Harbor's robot list (JSON)."
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
    parsed = []
    for path in args.files:
        file_format = args.format or credentials.detect_format(path)
        parsed.append((path, file_format, credentials.parse(path, file_format)))
    imported_at = datetime.now(UTC)
    with store.writer(settings.store.path, settings.store.lock_timeout_seconds) as con:
        for path, file_format, entries in parsed:
            source = f"{file_format}:{path.resolve()}"
            count = credentials.store_import(con, entries, source, imported_at, carry_over=file_format == "htpasswd")
            print(f"{path}: {count} credentials ({file_format})")
    return 0
