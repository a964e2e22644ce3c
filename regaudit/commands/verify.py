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
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from regaudit.arguments import duration
from regaudit.errors import TerminalError
from regaudit.evidence import chain, checkpoints, decisions, signing, verify_derived
from regaudit.evidence.verify import VerifyResult, verify
from regaudit.ingest import store
from regaudit.settings import Settings

SHOWN = 10


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


def public_key(path: Path | None, settings: Settings) -> Ed25519PublicKey | None:
    """The given key, else the configured public key, else the public half of the configured signing key, else
    none. Never a key found in the store."""
    if path is not None:
        return signing.load_public_key(path)
    if settings.chain.public_key_path is not None:
        return signing.load_public_key(settings.chain.public_key_path)
    configured = settings.reports.signing_key_path
    if configured is not None and configured.exists():
        return signing.load_public_key(configured)
    return None


def run(args: argparse.Namespace, settings: Settings) -> int:
    path, timeout = settings.store.path, settings.store.lock_timeout_seconds
    if args.seal:
        with store.writer(path, timeout) as con:
            sealed = chain.seal_unsealed(con)
            recorded = decisions.seal_unrecorded(con, datetime.now(UTC))
        print(f"sealed {len(sealed)} batches: {', '.join(str(e.batch_id) for e in sealed) or 'none'}")
        print(f"recorded {len(recorded)} finding statuses set before decisions were recorded")
    key = public_key(args.public_key, settings)
    retention_days = settings.retention.days()
    series = checkpoint_series(args, settings)
    result = verify(lambda: store.reader(path, timeout), key, args.anchor, retention_days, series)
    derived = verify_derived.check(lambda: store.reader(path, timeout), settings.webhook.registry, not args.no_derived)
    if args.json:
        whole = document(result, str(path)) | {"derived": verify_derived.document(derived)}
        print(json.dumps(whole | {"ok": result.ok and derived.ok}, indent=2))
    else:
        print("\n".join(lines(result) + verify_derived.lines(derived)))
    return 0 if result.ok and derived.ok else 1


def checkpoint_series(args: argparse.Namespace, settings: Settings) -> checkpoints.Series | None:
    """The exported series to check against, or none when neither a flag nor a setting names one."""
    from regaudit.evidence.checkpoint_destinations import CheckpointFile, CheckpointTopic

    source: CheckpointFile | CheckpointTopic
    if args.checkpoints_from_kafka:
        if settings.chain.checkpoints_topic is None:
            raise TerminalError("--checkpoints-from-kafka: set chain.checkpoints_topic")
        source = CheckpointTopic(settings.kafka, settings.chain.checkpoints_topic)
    elif (path := args.checkpoints or settings.chain.checkpoints_path) is not None:
        source = CheckpointFile(path)
        if not source.path.exists():
            raise TerminalError(f"{source.path}: no checkpoint file (`regaudit checkpoint` writes it)")
    else:
        return None
    documents, complaints = source.read()
    return checkpoints.Series(
        str(source),
        checkpoints.store_id(settings),
        tuple(documents),
        tuple(complaints),
        args.max_checkpoint_age,
        datetime.now(UTC),
    )


def document(result: VerifyResult, store_path: str) -> dict[str, object]:
    return {
        "ok": result.ok,
        "entries_count": result.entries_count,
        "problems": [{"batch_id": p.batch_id, "seq": p.seq, "message": p.message} for p in result.problems],
        "signatures_checked": result.signatures_checked,
        "signatures_unchecked": result.signatures_unchecked,
        "checkpoints_checked": result.checkpoints_checked,
        "newest_checkpoint": result.newest_checkpoint,
        "head": chain.anchor_document(result.head, store_path) if result.head else None,
    }


def lines(result: VerifyResult) -> list[str]:
    out: list[str] = []
    if result.first is None:
        out.append(f"chain ok: {result.entries_count} entries; every audit row is covered and matches")
    else:
        out.append(f"verify FAILED: {result.first.message}")
        out += [f"  also: {p.message}" for p in result.problems[1:SHOWN]]
        if len(result.problems) > SHOWN:
            out.append(f"  … and {len(result.problems) - SHOWN} more problems")
    if result.signatures_checked:
        out.append(f"purge checkpoints: {result.signatures_checked} signatures checked with the trusted key")
    if result.signatures_unchecked:
        out.append(
            f"purge checkpoints: {result.signatures_unchecked} NOT checked: no trusted public key"
            " (chain.public_key_path or --public-key)"
        )
    out += _checkpoint_lines(result)
    head = result.head
    if head is None:
        out.append("chain is empty")
    else:
        when = head.committed_at.isoformat()
        what = f"batch {head.batch_id}" if head.kind == "batch" else f"{head.kind} entry"
        out.append(f"head: entry {head.seq} ({what}) committed {when}")
        out.append(f"head hash: {head.batch_hash}")
        out.append("keep it outside the store; later: regaudit verify --anchor <head hash>")
    return out


def _checkpoint_lines(result: VerifyResult) -> list[str]:
    newest = result.newest_checkpoint
    if not result.checkpoints_checked or newest is None:
        return []
    signed = newest.get("chain") or {}
    behind = result.entries_count - int(signed.get("seq") or 0)
    return [
        f"checkpoints: {result.checkpoints_checked} checked; the newest, {newest.get('sequence')} of"
        f" {newest.get('created_at')}, signed chain entry {signed.get('seq', 0)};"
        f" {behind} entries since are not checkpointed yet"
    ]
