"""Signed chain checkpoints: the chain's head exported on a schedule, the way CloudTrail delivers digest files.

Whoever can write the store can rewrite every row and then the whole chain (``DELETE FROM chain``, then
``regaudit verify --seal``): the chain alone proves nothing against them. A checkpoint is the chain head written
*outside* the store, signed with the Ed25519 key (``reports.signing_key_path``), and linked to the checkpoint
before it, so the series itself cannot be edited, shortened in the middle or re-ordered unnoticed::

    {"type": "regaudit.checkpoint", "format": 1, "store_id": "regaudit.duckdb", "sequence": 7,
     "created_at": "2026-12-04T21:00:00.000000Z",
     "chain": {"seq": 1042, "hash": "…", "kind": "batch", "committed_at": "…", "batches_count": 1040,
               "last_batch_id": 1040},                          (null while the chain is empty)
     "previous": "<sha256 of checkpoint 6's line>",             (64 zeros for checkpoint 1)
     "signer": "<sha256 of the public key>", "signature": "<Ed25519 over the line without signature, hex>"}

One checkpoint is one line of canonical JSON (sorted keys, no spaces); its hash is the SHA-256 of that line.
``regaudit checkpoint`` writes them (``build``, then ``regaudit.evidence.checkpoint_destinations``);
``regaudit verify --checkpoints`` checks the store against the series (``check``): every signature with the
trusted public key, sequence numbers 1, 2, 3 … with each ``previous`` the hash of the line before, and the
chain still holding each checkpointed head at the stated position. A rewritten chain fails at the first
checkpoint it no longer matches. What a rewrite can still hide is what was written since the newest checkpoint:
the checkpoint interval is the window of exposure.

Errors: ``ChainRewritten`` when ``build`` finds that the head the previous checkpoint signed is no longer in the
chain (it refuses to sign a rewritten chain).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import duckdb
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from regaudit.errors import RegauditError
from regaudit.evidence import signing
from regaudit.evidence.canonical import utc_iso
from regaudit.evidence.chain import COLUMNS, GENESIS, ChainEntry, entry_hash, head

if TYPE_CHECKING:
    from regaudit.settings import Settings

TYPE = "regaudit.checkpoint"
FORMAT = 1
Issue = tuple[int, int, str]  # (batch position, chain seq, message), as regaudit.evidence.verify orders problems


class ChainRewritten(RegauditError):
    """The chain no longer holds the head that the previous checkpoint signed, or no longer links up to it."""


@dataclass(frozen=True)
class Series:
    """The checkpoints read from one place (a file, a topic), for one store, with the lines that were not ones;
    ``max_age``: how old the newest may be at ``checked_at`` (a writer that stopped leaves a gap in the evidence)."""

    origin: str
    store_id: str
    documents: tuple[Mapping[str, Any], ...]
    complaints: tuple[str, ...] = ()
    max_age: timedelta | None = None
    checked_at: datetime | None = None

    @property
    def newest(self) -> Mapping[str, Any] | None:
        mine = [d for d in self.documents if d.get("store_id") == self.store_id]
        return mine[-1] if mine else None


def store_id(settings: Settings) -> str:
    """The store's name in its checkpoints: ``chain.store_id``, else the store file's name."""
    return settings.chain.store_id or settings.store.path.name


def canonical(document: Mapping[str, Any]) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest(document: Mapping[str, Any]) -> str:
    """SHA-256 of the checkpoint's line: what the next checkpoint's ``previous`` names."""
    return hashlib.sha256(canonical(document).encode()).hexdigest()


def build(
    con: duckdb.DuckDBPyConnection,
    store_id: str,
    previous: Mapping[str, Any] | None,
    key: Ed25519PrivateKey,
    now: datetime,
) -> dict[str, Any]:
    """The next signed checkpoint of the store's chain; ``ChainRewritten`` if the chain lost the previous head."""
    if previous is not None:
        _still_extends(con, previous)
    last = head(con)
    chain: dict[str, Any] | None = None
    if last is not None:
        count, last_batch = con.execute("SELECT count(*), max(batch_id) FROM chain WHERE kind = 'batch'").fetchall()[0]
        chain = {
            "seq": last.seq,
            "hash": last.batch_hash,
            "kind": last.kind,
            "committed_at": utc_iso(last.committed_at),
            "batches_count": int(count),
            "last_batch_id": None if last_batch is None else int(last_batch),
        }
    body: dict[str, Any] = {
        "type": TYPE,
        "format": FORMAT,
        "store_id": store_id,
        "sequence": 1 if previous is None else int(previous["sequence"]) + 1,
        "created_at": utc_iso(now),
        "chain": chain,
        "previous": GENESIS if previous is None else digest(previous),
        "signer": signing.fingerprint(key.public_key()),
    }
    return body | {"signature": key.sign(canonical(body).encode()).hex()}


def _still_extends(con: duckdb.DuckDBPyConnection, previous: Mapping[str, Any]) -> None:
    """The previous checkpoint's head is still in the chain and every entry since links back to it."""
    signed = previous.get("chain")
    if not signed:
        return
    sql = f"SELECT {', '.join(COLUMNS)} FROM chain WHERE seq >= $seq ORDER BY seq"  # noqa: S608 - fixed names
    rows = con.execute(sql, {"seq": signed["seq"]}).fetchall()
    since = [ChainEntry(**dict(zip(COLUMNS, row, strict=True))) for row in rows]
    label = f"checkpoint {previous['sequence']} signed chain entry {signed['seq']} ({signed['hash']})"
    if not since or since[0].seq != signed["seq"] or since[0].batch_hash != signed["hash"]:
        raise ChainRewritten(f"{label}, which is no longer in the chain: it was rewritten; not signing it")
    for before, entry in zip(since, since[1:], strict=False):
        linked = entry.seq == before.seq + 1 and entry.previous_hash == before.batch_hash
        if not linked or entry_hash(entry) != entry.batch_hash:
            raise ChainRewritten(f"{label}, but chain entry {entry.seq} no longer links back to it; not signing it")


def parse(lines: Sequence[str], origin: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Checkpoint documents from JSON lines, and a complaint per line that is not one (blank lines skipped)."""
    documents: list[dict[str, Any]] = []
    complaints: list[str] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            document = json.loads(line)
        except ValueError:
            document = None
        if isinstance(document, dict) and document.get("type") == TYPE:
            documents.append(document)
        else:
            complaints.append(f"{origin} line {number} is not a regaudit checkpoint")
    return documents, complaints


def signature_ok(document: Mapping[str, Any], key: Ed25519PublicKey) -> bool:
    body = {k: v for k, v in document.items() if k != "signature"}
    try:
        signature = bytes.fromhex(str(document.get("signature", "")))
    except ValueError:
        return False
    return signing.is_valid(key, signature, canonical(body).encode())


def check(series: Series, chain: Sequence[ChainEntry], key: Ed25519PublicKey | None) -> tuple[int, list[Issue]]:
    """(checkpoints of this store checked, issues): signatures, the series' links, the chain against each head."""
    mine = [d for d in series.documents if d.get("store_id") == series.store_id]
    issues: list[Issue] = [(0, 0, f"checkpoints: {complaint}") for complaint in series.complaints]
    if not mine:
        others = sorted({str(d.get("store_id")) for d in series.documents})
        message = f"checkpoints: none of store {series.store_id!r} in {series.origin}" + (
            f" (it holds {', '.join(others)}: set chain.store_id to the store's name there)" if others else ""
        )
        return 0, [*issues, (0, 0, message)]
    if key is None:
        message = "checkpoints: cannot be checked without a trusted public key (chain.public_key_path, --public-key)"
        return 0, [*issues, (0, 0, message)]
    by_seq = {e.seq: e for e in chain}
    expected, previous = 1, GENESIS
    for document in mine:
        issues += _issues(document, expected, previous, by_seq, key)
        expected, previous = _number(document.get("sequence")) + 1, digest(document)
    return len(mine), issues + _staleness(series, mine[-1])


def _staleness(series: Series, newest: Mapping[str, Any]) -> list[Issue]:
    if series.max_age is None:
        return []
    try:
        created_at = datetime.fromisoformat(str(newest.get("created_at")))
    except ValueError:
        return []  # the signature check names a mangled checkpoint
    age = (series.checked_at or datetime.now(UTC)) - created_at
    age -= timedelta(microseconds=age.microseconds)
    if age <= series.max_age:
        return []
    chain = newest.get("chain")
    seq = _number(chain.get("seq")) if isinstance(chain, dict) else 0
    message = (
        f"checkpoints: the newest, {newest.get('sequence')} of {newest.get('created_at')}, is {age} old, more than"
        f" {series.max_age}: the checkpoint writer stopped, or its output no longer reaches {series.origin}"
    )
    return [(_number(chain.get("last_batch_id")) if isinstance(chain, dict) else 0, seq, message)]


def _issues(
    document: Mapping[str, Any], expected: int, previous: str, by_seq: Mapping[int, ChainEntry], key: Ed25519PublicKey
) -> Iterator[Issue]:
    chain = document.get("chain")
    signed: Mapping[str, Any] = chain if isinstance(chain, dict) else {}
    position, seq, sequence = (
        _number(signed.get("last_batch_id")),
        _number(signed.get("seq")),
        _number(document.get("sequence")),
    )
    label = f"checkpoint {sequence} of {document.get('created_at')}"
    if not signature_ok(document, key):
        yield position, seq, f"{label}: its signature does not verify with the trusted key (forged?)"
        return
    if sequence != expected:
        gap = f"checkpoints {expected}..{sequence - 1} are missing" if sequence > expected else "repeated"
        yield position, seq, f"{label}: expected checkpoint {expected}: {gap} (the series was cut or edited)"
    elif document.get("previous") != previous:
        yield position, seq, f"{label}: does not follow the checkpoint before it (the series was edited)"
    if not signed:
        return
    entry = by_seq.get(seq)
    if entry is None:
        yield position, seq, f"{label}: chain entry {seq} is gone from the chain: it was cut back or rewritten"
    elif entry.batch_hash != signed.get("hash"):
        yield (
            position,
            seq,
            f"{label}: chain entry {seq} no longer has the checkpointed hash {signed.get('hash')}:"
            " the chain was rewritten since",
        )


def _number(value: object) -> int:
    """An integer field of a checkpoint, 0 when it is not one (the signature check names the forgery)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
