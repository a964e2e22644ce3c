"""``regaudit verify``: walk the hash chain, name the first batch that was changed, removed or inserted.

Exit 0 when the chain matches the store (and every ``--anchor`` is in it), 1 otherwise. The head printed last is
what to keep outside the store; ``--json`` prints the result as a document (the anchor included).

The key purge entries must verify with comes from outside the store: ``--public-key``, else
``chain.public_key_path``, else the public half of ``reports.signing_key_path``. With none of them, a store that
holds purge entries fails (exit 1): an unsigned entry could explain away any deleted rows.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from regaudit.ingest import chain, signing, store
from regaudit.ingest.verify import VerifyResult, verify
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
        help="Trusted PEM key of purges (default: chain.public_key_path, else the public half of the signing key).",
    )
    parser.add_argument(
        "--seal", action="store_true", help="First seal batches written without the chain hook (trusts them)."
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
        print(f"sealed {len(sealed)} batches: {', '.join(str(e.batch_id) for e in sealed) or 'none'}")
    key = public_key(args.public_key, settings)
    retention_days = settings.reports.retention_days()
    result = verify(lambda: store.reader(path, timeout), key, args.anchor, retention_days)
    if args.json:
        print(json.dumps(document(result, str(path)), indent=2))
    else:
        print("\n".join(lines(result)))
    return 0 if result.ok else 1


def document(result: VerifyResult, store_path: str) -> dict[str, object]:
    return {
        "ok": result.ok,
        "entries_count": result.entries_count,
        "problems": [{"batch_id": p.batch_id, "seq": p.seq, "message": p.message} for p in result.problems],
        "signatures_checked": result.signatures_checked,
        "signatures_unchecked": result.signatures_unchecked,
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
    head = result.head
    if head is None:
        out.append("chain is empty")
    else:
        when = head.committed_at.isoformat()
        what = f"batch {head.batch_id}" if head.kind == "batch" else "purge checkpoint"
        out.append(f"head: entry {head.seq} ({what}) committed {when}")
        out.append(f"head hash: {head.batch_hash}")
        out.append("keep it outside the store; later: regaudit verify --anchor <head hash>")
    return out
