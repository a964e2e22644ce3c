"""Purge entries are believed only with the trusted key's signature: ``regaudit verify``'s checks of them.

A purge entry tells ``verify`` which batches were removed on purpose. Whoever can write the store could
otherwise delete rows and append a purge entry of their own that explains the gap away. So each purge entry
must carry an Ed25519 signature of its hash that verifies with the public key the verifier trusts (from its
configuration or ``--public-key``, never from the store); without such a key a store holding purges does not
verify. A signed purge must also have respected retention: every table it cut was cut at least its retention
before the purge's time, both the retention recorded in the signed checkpoint and the one configured where
``verify`` runs (``[retention]``), and a table configured to be kept for ever lost nothing.

Results are ``(position, seq, message)`` triples (``Issue``) that ``regaudit.evidence.verify`` turns into problems.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from regaudit.evidence import signing
from regaudit.evidence.chain import ChainEntry

Issue = tuple[int, int, str]
NO_KEY = (
    "set chain.public_key_path or pass --public-key (the .pub.pem of the key that signs purges, kept off the"
    " store's volume)"
)


def name(entry: ChainEntry) -> str:
    return f"purge checkpoint (entry {entry.seq})"


def check(
    chain: Iterable[ChainEntry], key: Ed25519PublicKey | None, retention_days: Mapping[str, int] | None = None
) -> tuple[int, int, list[Issue]]:
    """(signatures checked, purges left unchecked for want of a key, issues), in chain order."""
    checked = unchecked = 0
    issues: list[Issue] = []
    position = 0
    for entry in chain:
        position = entry.batch_id if entry.batch_id is not None else position
        if entry.kind != "purge":
            continue
        if key is None:
            unchecked += 1
            issues.append((position, entry.seq, f"{name(entry)}: cannot be trusted without a public key: {NO_KEY}"))
            continue
        checked += 1
        problem = _signature_problem(entry, key)
        if problem is None:
            issues += [(position, entry.seq, f"{name(entry)}: {m}") for m in _retention_problems(entry, retention_days)]
        else:
            issues.append((position, entry.seq, f"{name(entry)}: {problem}"))
    return checked, unchecked, issues


def _signature_problem(entry: ChainEntry, key: Ed25519PublicKey) -> str | None:
    if not entry.signature:
        return "is not signed: a purge is believed only with the trusted key's signature (forged?)"
    try:
        signature = bytes.fromhex(entry.signature)
    except ValueError:
        return "its signature is not hex (forged?)"
    if not signing.is_valid(key, signature, entry.batch_hash.encode()):
        fingerprint = signing.fingerprint(key)[:16]
        return f"signature does not verify with the trusted key {fingerprint}… (forged, or signed by another key)"
    return None


def _retention_problems(entry: ChainEntry, configured: Mapping[str, int] | None) -> Iterator[str]:
    detail = _detail(entry)
    purged_at = _moment(detail.get("purged_at"))
    tables = detail.get("tables")
    if purged_at is None or not isinstance(tables, dict):
        yield "its checkpoint does not say when it purged what"
        return
    for table, item in sorted(tables.items()):
        removed = int(item.get("rows_count", 0))
        if removed == 0:
            continue
        days = {int(item.get("retention_days", 0))}
        if configured is not None:
            days.add(configured.get(table, 0))
        if 0 in days:
            yield f"removed {removed} rows of {table}, which has no retention (kept for ever)"
            continue
        limit = purged_at - timedelta(days=max(days))
        cut = _moment(item.get("cut_at"))
        if cut is None:
            yield f"removed {removed} rows of {table} without saying where it cut"
        elif cut > limit:
            yield (
                f"cut {table} at {cut.isoformat()}, inside its retention of {max(days)} days: at the purge"
                f" ({purged_at.isoformat()}) only rows before {limit.isoformat()} could go"
            )


def _detail(entry: ChainEntry) -> dict[str, Any]:
    try:
        detail = json.loads(entry.detail or "")
    except ValueError:
        return {}
    return detail if isinstance(detail, dict) else {}


def _moment(text: object) -> datetime | None:
    """An ISO time with its zone, else none."""
    try:
        moment = datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        return None
    return moment if moment is not None and moment.tzinfo is not None else None
