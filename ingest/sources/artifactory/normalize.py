"""JFrog's raw records into rows of the events table, beside what ``normalize_events.sql`` makes of Distribution's.

Artifactory posts one event per tag operation, so a batch holds few; they are parsed with the wire models
(``events.parse``, the receiver's own judgement) rather than a second SQL dialect of the same contract. Pure: no
clock (the receive time travels with the record), no I/O; bad input becomes a row with a reason, never an exception.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from regaudit.ingest.sources.artifactory.events import parse

#: the batch columns this reads (``regaudit.ingest.normalize.BATCH_SCHEMA``)
_READ = ("value", "origin", "received_at", "registry", "content_type")


def normalize_records(records: pa.Table, schema: pa.Schema, default_registry: str) -> pa.Table:
    """One events row per JFrog Docker event (or a dead-letter row with its reason), in ``schema``'s columns."""
    rows = [_row(record, default_registry) for record in records.select(list(_READ)).to_pylist()]
    return pa.Table.from_pylist(rows, schema=schema)


def _row(record: dict[str, Any], default_registry: str) -> dict[str, Any]:
    value: bytes = record["value"] or b""
    base = {
        "origin": record["origin"],
        "received_at": record["received_at"],
        "registry": record["registry"] or default_registry,
        "content_type": record["content_type"],
    }
    event, reason = parse(value, record["received_at"])
    if event is None:
        return {**base, "reason": reason or "no event", "value": value}
    envelope_type = record["content_type"] if record["content_type"] == "application/json" else None
    return {**base, **event, "envelope_type": envelope_type, "raw": value.decode("utf-8")}
