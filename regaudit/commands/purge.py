"""``regaudit purge``: remove rows past retention, leaving a signed checkpoint in the chain.

Each table is cut at ``--older-than`` or at its retention (``retention.*_days``), whichever keeps more.
``--dry-run`` shows the plan and changes nothing.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

from regaudit.arguments import duration, moment
from regaudit.evidence import retention, signing
from regaudit.ingest import store
from regaudit.settings import Settings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", help="DuckDB file (default: store.path).")
    parser.add_argument(
        "--older-than",
        type=duration,
        default=timedelta(0),
        help="Remove rows older than this (36h, 90d, 12w), never below a table's retention (default: retention).",
    )
    parser.add_argument("--dry-run", action="store_true", help="Show what would go; change nothing.")
    parser.add_argument("--now", type=moment, help="Purge as of this ISO time (replays and tests; default: the clock).")


def overrides(args: argparse.Namespace) -> dict[str, dict[str, object]]:
    return {"store": {"path": args.db}}


def run(args: argparse.Namespace, settings: Settings) -> int:
    path, timeout = settings.store.path, settings.store.lock_timeout_seconds
    key = None if args.dry_run else signing.load_private_key(settings.reports.signing_key_path)
    now = args.now or datetime.now(UTC)
    with store.writer(path, timeout) as con:
        plan = retention.plan(con, settings.retention.days(), args.older_than, now)
        for item in plan.tables:
            batches = ", ".join(f"{lo}-{hi}" if lo != hi else str(lo) for lo, hi in item.batches)
            print(
                f"{item.table:16} cut {item.cut_at:%Y-%m-%d %H:%M}Z (kept {item.retention_days}d at least):"
                f" {item.rows_count} rows" + (f" in batches {batches}" if batches else "")
            )
        if key is None:
            print("dry run: nothing removed")
            return 0
        entry = retention.purge(con, plan, key)
    if entry is None:
        print("nothing to purge")
        return 0
    print(f"purged {plan.rows_count} rows; signed checkpoint is chain entry {entry.seq}, hash {entry.batch_hash}")
    return 0
