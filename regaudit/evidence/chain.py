"""The hash chain that makes the audit tables tamper-evident.

Every ingest batch extends the chain inside its own transaction (``seal_batch`` is a batch hook, see
``regaudit.ingest.hooks``): the entry records the batch's row counts and digests of ``registry_events``,
``access_log`` and ``dead_letters`` (canonical form: ``regaudit.evidence.canonical``) and a hash over the previous
entry's hash and its own fields (``entry_hash``). A purge appends a ``purge`` entry, a signed checkpoint of what
it removed (``regaudit.evidence.retention``). Each person's decision on a finding (acknowledge, suppress, reopen)
appends a ``decision`` entry whose ``detail`` is the decision record (``regaudit.evidence.decisions``).
``regaudit verify`` (``regaudit.evidence.verify``) recomputes all of it.

Whoever can write the DuckDB file can rewrite the whole chain; what stops that is a chain head kept elsewhere.
Heads leave the store as signed checkpoints on a schedule (``regaudit checkpoint``: ``regaudit.evidence.checkpoints``,
to an append-only file, a Kafka topic and the alert sinks), in every report's manifest, and printed by ``regaudit
verify``. A rewritten chain no longer holds a checkpointed or anchored hash at its position, which ``regaudit
verify --checkpoints FILE`` (the whole series) and ``--anchor HASH`` (one head) detect.

Batches written by a sink without the hook (tests, ``regaudit demo``'s simulator) are not sealed; ``verify``
names them, and ``seal_unsealed`` (``regaudit verify --seal``) appends them, trusting what they hold now.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import duckdb

from regaudit.evidence.canonical import AUDIT_TABLES, CANONICAL_VERSION, batch_digest, epoch_us

if TYPE_CHECKING:
    from regaudit.settings import Settings

EntryKind = Literal["batch", "purge", "decision"]
GENESIS = "0" * 64
COLUMNS = (
    "seq", "kind", "batch_id", "previous_hash", "batch_hash", "events_count", "events_digest", "access_count",
    "access_digest", "dead_letters_count", "dead_letters_digest", "committed_at", "detail", "signature",
)  # fmt: skip
_HASHED = tuple(name for name in COLUMNS if name not in ("batch_hash", "signature"))


@dataclass(frozen=True)
class ChainEntry:
    """One row of ``chain``. ``batch_hash`` is this entry's hash; counts and digests are per audit table (for a
    purge, the counts are rows removed and the digests none); ``detail`` is a purge's canonical JSON checkpoint,
    ``signature`` its Ed25519 signature over ``batch_hash`` (hex)."""

    seq: int
    kind: EntryKind
    batch_id: int | None
    previous_hash: str
    batch_hash: str
    events_count: int
    events_digest: str | None
    access_count: int
    access_digest: str | None
    dead_letters_count: int
    dead_letters_digest: str | None
    committed_at: datetime
    detail: str | None = None
    signature: str | None = None

    def counts(self) -> dict[str, int]:
        """Rows per audit table, by table name."""
        return {t.name: int(getattr(self, f"{t.label}_count")) for t in AUDIT_TABLES}

    def digests(self) -> dict[str, str | None]:
        """Digest per audit table, by table name."""
        return {t.name: getattr(self, f"{t.label}_digest") for t in AUDIT_TABLES}


def entry_hash(entry: ChainEntry) -> str:
    """SHA-256 over ``regaudit-chain-v1`` and ``name=value`` lines of every field but the hash and signature;
    none is ``-``, committed_at is microseconds since the epoch."""
    lines = [CANONICAL_VERSION]
    for name in _HASHED:
        value = getattr(entry, name)
        if isinstance(value, datetime):
            value = epoch_us(value)
        lines.append(f"{name}={'-' if value is None else value}")
    return hashlib.sha256(("\n".join(lines) + "\n").encode()).hexdigest()


def seal_batch(con: duckdb.DuckDBPyConnection, batch_id: int, settings: Settings | None = None) -> None:
    """Batch hook: append the chain entry of this batch (inside the batch's transaction)."""
    if not _sealed(con, batch_id):
        seal(con, batch_id)


def seal(con: duckdb.DuckDBPyConnection, batch_id: int, committed_at: datetime | None = None) -> ChainEntry:
    """Compute and append the entry of one batch as its rows stand now."""
    values: dict[str, Any] = {}
    for table in AUDIT_TABLES:
        values[f"{table.label}_count"], values[f"{table.label}_digest"] = batch_digest(con, table, batch_id)
    return append(con, "batch", batch_id, values, committed_at=committed_at)


def append(
    con: duckdb.DuckDBPyConnection,
    kind: EntryKind,
    batch_id: int | None,
    values: dict[str, Any],
    detail: str | None = None,
    committed_at: datetime | None = None,
    signer: Callable[[str], str] | None = None,
) -> ChainEntry:
    """Append an entry after the current head; ``signer(hash) -> hex`` signs it when given."""
    last = head(con)
    draft = ChainEntry(
        seq=1 if last is None else last.seq + 1,
        kind=kind,
        batch_id=batch_id,
        previous_hash=GENESIS if last is None else last.batch_hash,
        batch_hash="",
        committed_at=committed_at or datetime.now(UTC),
        detail=detail,
        **values,
    )
    entry = replace(draft, batch_hash=entry_hash(draft))
    if signer is not None:
        entry = replace(entry, signature=signer(entry.batch_hash))
    placeholders = ", ".join(f"${name}" for name in COLUMNS)
    con.execute(f"INSERT INTO chain ({', '.join(COLUMNS)}) VALUES ({placeholders})", asdict(entry))  # noqa: S608
    return entry


def _sealed(con: duckdb.DuckDBPyConnection, batch_id: int) -> bool:
    found = con.execute("SELECT count(*) FROM chain WHERE kind = 'batch' AND batch_id = $b", {"b": batch_id})
    return bool(found.fetchall()[0][0])


def _entry(row: Sequence[Any]) -> ChainEntry:
    return ChainEntry(**dict(zip(COLUMNS, row, strict=True)))


def head(con: duckdb.DuckDBPyConnection) -> ChainEntry | None:
    """The newest entry, or none on an empty chain."""
    rows = con.execute(f"SELECT {', '.join(COLUMNS)} FROM chain ORDER BY seq DESC LIMIT 1").fetchall()  # noqa: S608
    return _entry(rows[0]) if rows else None


def entries(con: duckdb.DuckDBPyConnection) -> list[ChainEntry]:
    """Every entry, in chain order."""
    return [_entry(row) for row in con.execute(f"SELECT {', '.join(COLUMNS)} FROM chain ORDER BY seq").fetchall()]  # noqa: S608


def unsealed_batches(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Batch ids that hold audit rows or an ingest_batches row but no chain entry."""
    sources = " UNION ".join(f"SELECT DISTINCT batch_id FROM {t.name}" for t in AUDIT_TABLES)  # noqa: S608
    sql = f"""SELECT batch_id FROM ({sources} UNION SELECT batch_id FROM ingest_batches)
              WHERE batch_id NOT IN (SELECT batch_id FROM chain WHERE kind = 'batch' AND batch_id IS NOT NULL)
              ORDER BY batch_id"""  # noqa: S608 - fixed names
    return [int(row[0]) for row in con.execute(sql).fetchall()]


def seal_unsealed(con: duckdb.DuckDBPyConnection) -> list[ChainEntry]:
    """Append entries for every unsealed batch, in batch order, trusting what they hold now."""
    return [seal(con, batch_id) for batch_id in unsealed_batches(con)]


def anchor_document(entry: ChainEntry, store: str) -> dict[str, Any]:
    """The chain head as a JSON document to keep outside the store (alert sinks, a ticket, a notary)."""
    return {
        "type": "regaudit.chain_head",
        "store": store,
        "seq": entry.seq,
        "kind": entry.kind,
        "batch_id": entry.batch_id,
        "hash": entry.batch_hash,
        "committed_at": entry.committed_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "canonical_form": CANONICAL_VERSION,
        "check": f"regaudit verify --anchor {entry.batch_hash}",
    }
