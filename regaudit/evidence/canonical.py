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

   The row text is built in DuckDB SQL (``row_text_sql``) and is UTF-8. A writer may build it before the rows
   are stored (``row_parts``, the text on either side of the batch id, from the values cast to the store's
   column types): the same SQL over the same values, so the same text.
2. **Row digest.** SHA-256 of the row text (computed with Python's hashlib, which uses the CPU's SHA
   instructions; DuckDB's own sha256 is several times slower).
3. **Table digest.** SHA-256 of the batch's row digests (32 raw bytes each) sorted bytewise and concatenated.
   Sorting by digest makes the order canonical without sorting the rows themselves; keys are unique, so no two
   rows share a digest. A table without rows in the batch has the SHA-256 of nothing (``e3b0c442…``).

The chain entry hash over these digests is in ``regaudit.evidence.chain`` (``entry_hash``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
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
    "text": "CASE WHEN {c} IS NULL THEN '-' ELSE concat(strlen({c}), ':', {c}) END",
    "json": "CASE WHEN {c} IS NULL THEN '-' ELSE concat(strlen({c}::VARCHAR), ':', {c}::VARCHAR) END",
    "int": "coalesce({c}::VARCHAR, '-')",
    "time": "coalesce(epoch_us({c})::VARCHAR, '-')",
    "float": "coalesce({c}::VARCHAR, '-')",
    "blob": "coalesce(hex({c}), '-')",
}


#: the store's type of each kind of sealed column (``schema.sql``; ``tests/evidence/test_seal_parts.py`` holds
#: them to the store)
STORE_TYPES: dict[Kind, str] = {
    "text": "VARCHAR", "json": "JSON", "int": "BIGINT", "time": "TIMESTAMPTZ", "float": "DOUBLE", "blob": "BLOB",
}  # fmt: skip
_BATCH_ID = "batch_id"


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
    return _text_sql(table.columns, lambda name, _kind: name)


def _text_sql(columns: tuple[tuple[str, Kind], ...], value: Callable[[str, Kind], str]) -> str:
    """The columns' values (``value``: the SQL of one) encoded by their kind and joined with ``|``: one
    ``concat`` of them all and the separators (every encoding is non-NULL), which builds each row's text once,
    where ``concat_ws`` over ``||`` chains built it in steps (a quarter more of the time of ``row_parts``)."""
    encoded = (_ENCODERS[kind].format(c=value(name, kind)) for name, kind in columns)
    return "concat(" + ", '|', ".join(encoded) + ")"


def row_parts(con: duckdb.DuckDBPyConnection, table: AuditTable, rows: pa.Table) -> pa.Table | None:
    """The row texts of rows not yet stored, in parts around the batch id, which the rows get only in the
    writer's transaction: ``before`` it, and ``after`` it or, where the one column after it is the row's text
    payload with no NULL (``raw`` of events and access lines), that column itself as ``value``, hashed from the
    rows' own buffers behind its length rather than copied. Each value is cast to the store's type of its column
    first, as the INSERT casts it, and encoded as ``row_text_sql`` encodes it: joined around the id
    (``digests_of_parts``), the parts give the text the stored row gives. ``rows`` holds the sealed columns but
    the batch id; other columns are ignored. None when it lacks one, or holds a time without its zone (which a
    cast would read in a session's zone): the writer reads those rows back."""
    if not _castable(rows, table.columns):
        return None
    at = [name for name, _kind in table.columns].index(_BATCH_ID)
    after = table.columns[at + 1 :]

    def cast(name: str, kind: Kind) -> str:
        return f'CAST("{name}" AS {STORE_TYPES[kind]})'

    payload = rows.column(after[0][0]) if len(after) == 1 and after[0][1] in ("text", "json") else None
    plain = payload is not None and pa.types.is_string(payload.type) and payload.null_count == 0
    con.register("sealed_rows", rows)
    try:
        outputs = f"{_text_sql(table.columns[:at], cast)} AS before"
        if not plain:
            outputs += f", {_text_sql(after, cast)} AS after"
        parts = con.sql(f"SELECT {outputs} FROM sealed_rows").to_arrow_table()  # noqa: S608 - fixed names
    finally:
        con.unregister("sealed_rows")
    return parts.append_column("value", payload) if plain else parts


def _castable(rows: pa.Table, columns: tuple[tuple[str, Kind], ...]) -> bool:
    """Whether ``rows`` holds every sealed column but the batch id, its times with their zone."""
    names = set(rows.column_names)
    for name, kind in columns:
        if name == _BATCH_ID:
            continue
        if name not in names:
            return False
        arrow_type = rows.schema.field(name).type
        if kind == "time" and not (pa.types.is_timestamp(arrow_type) and arrow_type.tz):
            return False
    return True


def digests_of_parts(parts: pa.Table, batch_id: int) -> list[bytes]:
    """Row digests of ``row_parts`` joined around ``batch_id``, hashed straight from Arrow's buffers with the id
    between the parts (Arrow's own join of the texts first cost three times the hashing)."""
    middle = f"|{batch_id}|".encode()
    sha256 = hashlib.sha256
    digests: list[bytes] = []
    if "value" in parts.column_names:  # the payload's text is its length in bytes, a colon and its bytes
        for before, value in zip(_values(parts.column("before")), _values(parts.column("value")), strict=True):
            digest = sha256(before)
            digest.update(b"%s%d:" % (middle, len(value)))
            digest.update(value)
            digests.append(digest.digest())
        return digests
    for before, after in zip(_values(parts.column("before")), _values(parts.column("after")), strict=True):
        digest = sha256(before)
        digest.update(middle)
        digest.update(after)
        digests.append(digest.digest())
    return digests


def _values(array: pa.ChunkedArray) -> Iterator[memoryview]:
    """Each value's bytes of a string array, in order, without a Python string made."""
    for chunk in array.chunks:
        data, bounds = _spans(chunk)
        for row in range(len(chunk)):
            yield data[bounds[row] : bounds[row + 1]]


def _spans(chunk: pa.Array) -> tuple[memoryview, list[int]]:
    """A string array's bytes and its values' offsets into them."""
    if not (pa.types.is_string(chunk.type) or pa.types.is_large_string(chunk.type)):
        chunk = chunk.cast(pa.large_string())
    if len(chunk) == 0:
        return memoryview(b""), [0]
    width = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
    offsets = np.frombuffer(chunk.buffers()[1], dtype=width)[chunk.offset : chunk.offset + len(chunk) + 1]
    return memoryview(chunk.buffers()[2]), offsets.tolist()


#: hashes the parts of a batch on its own thread while the writer's thread inserts the rows (DuckDB lets go of
#: the GIL while it works): 1,000,000 JSON access lines' row digests took 1.2-1.5 s of the writer's thread
_HASHING = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chain-digests")

#: (rows, digest) by table name of the rows a writer sent: computed (a future), or None
SentDigests = Future[dict[str, tuple[int, str]]]
_SENT: ContextVar[tuple[int, SentDigests] | None] = ContextVar("sent_rows", default=None)


def digests_soon(parts: Mapping[str, pa.Table] | None, batch_id: int) -> SentDigests | None:
    """Start hashing ``parts`` (``row_parts`` by table name) joined around ``batch_id``; None without parts."""
    if parts is None:
        return None

    def digest_all() -> dict[str, tuple[int, str]]:
        digests = {name: digests_of_parts(rows, batch_id) for name, rows in parts.items()}
        return {name: (len(values), combine(values)) for name, values in digests.items()}

    return _HASHING.submit(digest_all)


@contextmanager
def sent_rows(batch_id: int, digests: SentDigests | None) -> Iterator[None]:
    """While the hooks of batch ``batch_id`` run: every row the batch holds is one the writer sent, stored as
    sent (the writer knows: it stored all the rows it sent, and only those carry the id), so ``batch_digest``
    takes the digests of their parts (``digests_soon``) instead of reading the rows back. None, or a table not
    among them: read back."""
    token = _SENT.set(None if digests is None else (batch_id, digests))
    try:
        yield
    finally:
        _SENT.reset(token)


def row_digests(array: pa.ChunkedArray) -> list[bytes]:
    """SHA-256 of each string in the array, straight from Arrow's buffers (no Python strings made)."""
    digests: list[bytes] = []
    sha256 = hashlib.sha256
    for chunk in array.chunks:
        if len(chunk) == 0:
            continue
        data, bounds = _spans(chunk)
        digests.extend(sha256(data[lo:hi]).digest() for lo, hi in zip(bounds, bounds[1:], strict=False))
    return digests


def combine(digests: list[bytes]) -> str:
    """The table digest: SHA-256 over the sorted row digests.

    Sorted by numpy as fixed-width bytes (``S32``), the bytewise order ``sorted`` gives (numpy compares them
    without trailing NULs, and a NUL is the least byte, so a shorter prefix sorts first either way; the bytes
    themselves are kept): 0.24 s CPU for 1,000,000 digests against 0.79 s, on the writer's thread of an import."""
    packed = np.frombuffer(b"".join(digests), dtype="S32")
    return hashlib.sha256(np.sort(packed).tobytes()).hexdigest()


def batch_digest(con: duckdb.DuckDBPyConnection, table: AuditTable, batch_id: int) -> tuple[int, str]:
    """(rows, digest) of one table's rows in one batch."""
    sent = _SENT.get()
    if sent is not None and sent[0] == batch_id and table.name in (known := sent[1].result()):
        return known[table.name]
    sql = f"SELECT {row_text_sql(table)} FROM {table.name} WHERE batch_id = $batch_id"  # noqa: S608 - fixed names
    texts = con.sql(sql, params={"batch_id": batch_id}).to_arrow_table().column(0)
    digests = row_digests(texts)
    return len(digests), combine(digests)


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
