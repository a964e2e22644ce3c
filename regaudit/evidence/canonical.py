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
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
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
    """The table digest: SHA-256 over the sorted row digests.

    Sorted by numpy as fixed-width bytes (``S32``), the bytewise order ``sorted`` gives (numpy compares them
    without trailing NULs, and a NUL is the least byte, so a shorter prefix sorts first either way; the bytes
    themselves are kept): 0.24 s CPU for 1,000,000 digests against 0.79 s, on the writer's thread of an import."""
    packed = np.frombuffer(b"".join(digests), dtype="S32")
    return hashlib.sha256(np.sort(packed).tobytes()).hexdigest()


def batch_digest(con: duckdb.DuckDBPyConnection, table: AuditTable, batch_id: int) -> tuple[int, str]:
    """(rows, digest) of one table's rows in one batch."""
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
