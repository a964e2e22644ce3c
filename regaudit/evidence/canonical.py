"""The canonical form the hash chain seals: how a batch's rows of the audit tables become one digest.

Version ``regaudit-chain-v1``. For each audit table (``registry_events``, ``access_log``, ``dead_letters``: the
source tables; ``image_activity`` and ``tag_history`` are derived from them and recomputed, so they are not
sealed) and each batch:

1. **Row text.** Every column of the table, in the fixed order of ``AUDIT_TABLES`` (the schema's order), each
   value encoded by its kind and the values joined with ``|``:

   - NULL is ``-``;
   - text (VARCHAR, JSON) is ``<length in UTF-8 bytes>:<text>``, so no value can forge a separator;
   - integers are decimal, timestamps are microseconds since 1970-01-01 UTC in decimal, floats are DuckDB's
     shortest round-trip decimal text (``CAST(x AS VARCHAR)``), blobs are upper-case hex.

   The row text is built in DuckDB SQL (``row_text_sql``) and is UTF-8.
2. **Row digest.** SHA-256 of the row text (computed with Python's hashlib, which uses the CPU's SHA
   instructions; DuckDB's own sha256 is several times slower).
3. **Table digest.** SHA-256 of the batch's row digests (32 raw bytes each) sorted bytewise and concatenated.
   Sorting by digest makes the order canonical without sorting the rows themselves; keys are unique, so no two
   rows share a digest. A table without rows in the batch has the SHA-256 of nothing (``e3b0c442…``).

The chain entry hash over these digests is in ``regaudit.evidence.chain`` (``entry_hash``).

The ingest sink may compute a batch's digests from the Arrow tables it inserts (``rows_digest``, on a thread of its
own while the inserts run) instead of reading its rows back: the same row text, from the same values cast to the
table's types, so the same digests, and ``regaudit verify`` recomputes them from the stored rows regardless. It
hands them to the chain hook through ``given_digests`` only when every row of the batch was stored as given.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import duckdb
import numpy as np
import pyarrow as pa

Kind = Literal["text", "json", "int", "time", "float", "blob"]
CANONICAL_VERSION = "regaudit-chain-v1"
EMPTY_DIGEST = hashlib.sha256(b"").hexdigest()


@dataclass(frozen=True)
class AuditTable:
    """One sealed table: its name, its columns with their kinds, and the name the chain uses for it."""

    name: str
    label: str
    columns: tuple[tuple[str, Kind], ...]


def _columns(spec: str) -> tuple[tuple[str, Kind], ...]:
    pairs = (item.split(":") for item in spec.split())
    return tuple((name, kind) for name, kind in pairs)  # type: ignore[misc]


AUDIT_TABLES: tuple[AuditTable, ...] = (
    AuditTable(
        "registry_events",
        "events",
        _columns(
            "registry:text event_id:text event_at:time action:text target_kind:text repository:text tag:text"
            " digest:text media_type:text size_bytes:int from_repository:text url:text request_id:text"
            " http_method:text client_addr:text request_host:text user_agent:text actor:text source_addr:text"
            " source_instance:text envelope_type:text received_at:time origin:text batch_id:int raw:json"
        ),
    ),
    AuditTable(
        "access_log",
        "access",
        _columns(
            "line_key:text request_at:time log_host:text client_addr:text forwarded_for:text remote_user:text"
            " auth_scheme:text http_method:text uri:text endpoint:text repository:text reference:text tag:text"
            " digest:text status:int body_bytes:int request_length:int request_seconds:float user_agent:text"
            " proxy_request_id:text tls_protocol:text server_host:text log_format:text shipper:text"
            " received_at:time origin:text batch_id:int raw:text"
        ),
    ),
    AuditTable(
        "dead_letters",
        "dead_letters",
        _columns(
            "dead_letter_id:text received_at:time source:text origin:text reason:text content_type:text"
            " batch_id:int raw:blob"
        ),
    ),
)

_ENCODERS: dict[Kind, str] = {
    "text": "coalesce(strlen({c})::VARCHAR || ':' || {c}, '-')",
    "json": "coalesce(strlen({c}::VARCHAR)::VARCHAR || ':' || {c}::VARCHAR, '-')",
    "int": "coalesce({c}::VARCHAR, '-')",
    "time": "coalesce(epoch_us({c})::VARCHAR, '-')",
    "float": "coalesce({c}::VARCHAR, '-')",
    "blob": "coalesce(hex({c}), '-')",
}


#: the store's column type of each kind, to which ``rows_digest`` casts a batch's Arrow columns as the INSERT does;
#: JSON as the text it is (a JSON column keeps the text it is given; the INSERT validates it, and a batch whose
#: INSERT fails is not sealed with these digests), which spares parsing every payload once more
_STORED_TYPES: dict[Kind, str] = {
    "text": "VARCHAR",
    "json": "VARCHAR",
    "int": "BIGINT",
    "time": "TIMESTAMPTZ",
    "float": "DOUBLE",
    "blob": "BLOB",
}

#: digests per table name, (rows, digest), or None when they could not be computed
GivenDigests = dict[str, tuple[int, str]] | None
#: (batch id, how to get its digests) while the sink runs the hooks of a batch stored exactly as given
_GIVEN: ContextVar[tuple[int, Callable[[], GivenDigests]] | None] = ContextVar("given_digests", default=None)


def epoch_us(moment: datetime) -> int:
    """Microseconds since 1970-01-01 UTC of an aware time, exactly (no float): how the store and chain count time."""
    delta = moment.astimezone(UTC) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def utc_iso(moment: datetime) -> str:
    """An aware time as the signed documents of the chain write it: UTC, microseconds, ``Z``."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def row_text_sql(table: AuditTable) -> str:
    """The SQL expression of one row's canonical text."""
    parts = ", ".join(_ENCODERS[kind].format(c=name) for name, kind in table.columns)
    return f"concat_ws('|', {parts})"


def row_digests(array: pa.ChunkedArray) -> list[bytes]:
    """SHA-256 of each string in the array, straight from Arrow's buffers (no Python strings made)."""
    digests: list[bytes] = []
    sha256 = hashlib.sha256
    for chunk in array.chunks:
        if len(chunk) == 0:
            continue
        if not (pa.types.is_string(chunk.type) or pa.types.is_large_string(chunk.type)):
            chunk = chunk.cast(pa.large_string())
        width = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
        offsets = np.frombuffer(chunk.buffers()[1], dtype=width)[chunk.offset : chunk.offset + len(chunk) + 1]
        data = memoryview(chunk.buffers()[2])
        bounds = offsets.tolist()
        digests.extend(sha256(data[lo:hi]).digest() for lo, hi in zip(bounds, bounds[1:], strict=False))
    return digests


def combine(digests: list[bytes]) -> str:
    """The table digest: SHA-256 over the sorted row digests."""
    return hashlib.sha256(b"".join(sorted(digests))).hexdigest()


def batch_digest(con: duckdb.DuckDBPyConnection, table: AuditTable, batch_id: int) -> tuple[int, str]:
    """(rows, digest) of one table's rows in one batch: the digests given for it (``given_digests``), else read
    back from the table."""
    given = _GIVEN.get()
    if given is not None and given[0] == batch_id:
        known = given[1]()
        if known is not None:
            return known[table.name]
    sql = f"SELECT {row_text_sql(table)} FROM {table.name} WHERE batch_id = $batch_id"  # noqa: S608 - fixed names
    texts = con.sql(sql, params={"batch_id": batch_id}).to_arrow_table().column(0)
    digests = row_digests(texts)
    return len(digests), combine(digests)


def rows_digest(con: duckdb.DuckDBPyConnection, table: AuditTable, rows: pa.Table, batch_id: int) -> tuple[int, str]:
    """(rows, digest) of Arrow rows as ``batch_digest`` will find them once inserted into the table with this batch
    id: each column cast to its stored type (``_STORED_TYPES``), the row text built by the same SQL."""
    if rows.num_rows == 0:
        return 0, EMPTY_DIGEST
    columns = ", ".join(
        "$batch_id::BIGINT AS batch_id" if name == "batch_id" else f"CAST({name} AS {_STORED_TYPES[kind]}) AS {name}"
        for name, kind in table.columns
    )
    con.register("given_rows", rows)
    try:
        sql = f"SELECT {row_text_sql(table)} FROM (SELECT {columns} FROM given_rows)"  # noqa: S608 - fixed names
        texts = con.sql(sql, params={"batch_id": batch_id}).to_arrow_table().column(0)
    finally:
        con.unregister("given_rows")
    digests = row_digests(texts)
    return len(digests), combine(digests)


@contextlib.contextmanager
def given_digests(batch_id: int, digests: Callable[[], GivenDigests]) -> Iterator[None]:
    """While the block runs, ``batch_digest`` of this batch takes ``digests()`` (computed once the rows are known to
    be stored as given: the caller's promise) instead of reading the rows back."""
    token = _GIVEN.set((batch_id, digests))
    try:
        yield
    finally:
        _GIVEN.reset(token)


def digests_by_batch(
    con: duckdb.DuckDBPyConnection, table: AuditTable, lo: int, hi: int
) -> Iterator[tuple[int, int, str]]:
    """(batch_id, rows, digest) for every batch from lo to hi (inclusive) that has rows in the table."""
    sql = (
        f"SELECT batch_id, {row_text_sql(table)} AS row_text FROM {table.name}"  # noqa: S608 - fixed names
        " WHERE batch_id BETWEEN $lo AND $hi ORDER BY batch_id"
    )
    rows = con.sql(sql, params={"lo": lo, "hi": hi}).to_arrow_table()
    if rows.num_rows == 0:
        return
    batch_ids = rows.column("batch_id").to_numpy()
    starts = np.flatnonzero(np.diff(batch_ids)) + 1
    bounds = [0, *starts.tolist(), rows.num_rows]
    texts = rows.column("row_text")
    for start, end in zip(bounds, bounds[1:], strict=False):
        digests = row_digests(texts.slice(start, end - start))
        yield int(batch_ids[start]), len(digests), combine(digests)
