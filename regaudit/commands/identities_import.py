"""``regaudit identities import``: record which raw identities of which registries are one person, from a CSV or
an IdP's SCIM 2.0 Users export (the formats: ``regaudit.ingest.sources.identities``)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from regaudit.ingest import store
from regaudit.ingest.sources import identities
from regaudit.settings import Settings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files",
        nargs="+",
        type=Path,
        help="CSV mappings (raw_identity, person_id, display_name, registry, registry_kind) or SCIM Users (JSON).",
    )
    parser.add_argument(
        "--format",
        choices=["csv", "scim"],
        help="File format (default: scim for .json, else csv). scim: what a SCIM 2.0 GET /Users answers"
        " (a ListResponse), one User, or a list of Users; each User's userName and emails map to its userName.",
    )
    parser.add_argument("--db", help="DuckDB file (default: store.path).")


def overrides(args: argparse.Namespace) -> dict[str, dict[str, object]]:
    return {"store": {"path": args.db}}


def run(args: argparse.Namespace, settings: Settings) -> int:
    parsed = []
    for path in args.files:
        file_format = args.format or identities.detect_format(path)
        parsed.append((path, file_format, identities.parse(path, file_format)))
    imported_at = datetime.now(UTC)
    with store.writer(settings.store.path, settings.store.lock_timeout_seconds) as con:
        for path, file_format, mappings in parsed:
            count = identities.store_import(con, mappings, f"{file_format}:{path.resolve()}", imported_at)
            print(f"{path}: {count} identities mapped ({file_format})")
    return 0
