"""``regaudit verify``: walk the hash chain, name the first batch that was changed, removed or inserted.

Exit 0 when the chain matches the store (and every ``--anchor`` is in it), 1 otherwise. The head printed last is
what to keep outside the store; ``--json`` prints the result as a document (the anchor included).

The key purge entries must verify with comes from outside the store: ``--public-key``, else
``chain.public_key_path``, else the public half of ``reports.signing_key_path``. With none of them, a store that
holds purge entries fails (exit 1): an unsigned entry could explain away any deleted rows.

``--checkpoints FILE`` (default: ``chain.checkpoints_path`` when set) and ``--checkpoints-from-kafka``
(``chain.checkpoints_topic``) check the store against the series of signed checkpoints that ``regaudit
checkpoint`` exported: a chain rewritten since any of them fails, naming the first one it no longer matches.

Then ``regaudit.evidence.verify_derived``: every finding's status must be its last decision recorded in the chain,
and ``image_activity`` and ``tag_history`` must be what a replay of the sealed tables derives (``--no-derived``
skips the replay); either failing exits 1 too.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from regaudit.arguments import duration
from regaudit.evidence import verification
from regaudit.settings import Settings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", help="DuckDB file (default: store.path).")
    parser.add_argument(
        "--anchor", action="append", default=[], metavar="HASH", help="A chain head kept elsewhere; repeatable."
    )
    parser.add_argument(
        "--public-key",
        type=Path,
        help="Trusted PEM key of purges and checkpoints (default: chain.public_key_path, else the public half of"
        " the signing key).",
    )
    parser.add_argument(
        "--checkpoints",
        type=Path,
        metavar="FILE",
        help="Signed checkpoints the chain must still match (default: chain.checkpoints_path, when set).",
    )
    parser.add_argument(
        "--max-checkpoint-age",
        type=duration,
        metavar="DURATION",
        help="Fail when the newest checkpoint is older than this (e.g. 2h, for checkpoints written every hour).",
    )
    parser.add_argument(
        "--checkpoints-from-kafka",
        action="store_true",
        help="Check against the checkpoints on chain.checkpoints_topic instead of a file.",
    )
    parser.add_argument(
        "--seal",
        action="store_true",
        help="First seal batches written without the chain hook, and record finding statuses set before decisions"
        " were recorded (trusts them).",
    )
    parser.add_argument(
        "--no-derived",
        action="store_true",
        help="Skip rebuilding image_activity and tag_history from the sealed tables to compare (about as long as"
        " ingesting them again); finding decisions are still checked.",
    )
    parser.add_argument("--json", action="store_true", help="Print the result as JSON.")


def overrides(args: argparse.Namespace) -> dict[str, dict[str, object]]:
    return {"store": {"path": args.db}}


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.seal:
        sealed, recorded = verification.seal(settings)
        print(f"sealed {len(sealed)} batches: {', '.join(str(e.batch_id) for e in sealed) or 'none'}")
        print(f"recorded {len(recorded)} finding statuses set before decisions were recorded")
    key = verification.public_key(args.public_key, settings)
    series = verification.checkpoint_series(
        settings, args.checkpoints, args.checkpoints_from_kafka, args.max_checkpoint_age
    )
    outcome = verification.verify_store(settings, args.anchor, key, series, replay=not args.no_derived)
    print(json.dumps(outcome.document(), indent=2) if args.json else "\n".join(outcome.lines()))
    return 0 if outcome.ok else 1
