"""``regaudit store``: create or upgrade the DuckDB store, or show what it holds."""

from __future__ import annotations

import argparse

from regaudit.ingest import store
from regaudit.settings import Settings

TABLES = ("registry_events", "access_log", "image_activity", "tag_history", "dead_letters", "findings")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["upgrade", "status"], help="upgrade: create or upgrade; status: counts.")
    parser.add_argument("--db", help="DuckDB file (default: store.path).")


def overrides(args: argparse.Namespace) -> dict[str, dict[str, object]]:
    return {"store": {"path": args.db}}


def run(args: argparse.Namespace, settings: Settings) -> int:
    path, timeout = settings.store.path, settings.store.lock_timeout_seconds
    if args.action == "upgrade":
        with store.writer(path, timeout) as con:
            print(f"{path}: schema version {store.schema_version(con)}")
        return 0
    with store.reader(path, timeout) as con:
        print(f"{path}: schema version {store.schema_version(con)}")
        for table in TABLES:
            count = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]  # noqa: S608 - fixed names
            print(f"  {table:16} {count:>12,}")
    return 0
