"""GitHub's raw records into rows of the events table, beside what ``normalize_events.sql`` makes of
Distribution's. Like Quay's (``regaudit.ingest.sources.quay.normalize``): GitHub's audit log holds few events, each
parsed with the wire models (``audit.parse``). Pure: no clock, no I/O; bad input becomes a dead-letter row."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from regaudit.ingest.sources.ghcr.audit import parse

#: the batch columns this reads (``regaudit.ingest.normalize.BATCH_SCHEMA``)
_READ = ("value", "origin", "received_at", "registry", "content_type")


def normalize_records(records: pa.Table, schema: pa.Schema, default_registry: str) -> pa.Table:
    """One events row per GitHub audit event (or a dead-letter row with its reason), in ``schema``'s columns."""
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
    events, reason = parse(value)
    if not events:
        return {**base, "reason": reason or "no event", "value": value}
    return {**base, **events[0], "envelope_type": None, "raw": value.decode("utf-8")}
