"""Artifact Registry's raw records into rows of the events table, beside Distribution's and ECR's.

Each raw record is one audit log entry (a sink's line, a Pub/Sub message's data), one ``gcr`` notification or one
Pub/Sub push envelope holding either, parsed with the wire models (``events.parse``, the same judgement the
webhook makes). Pure: no clock (a notification without its envelope takes the record's receive time), no I/O; bad
input becomes a row with a reason (a dead letter).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from regaudit.ingest.sources.gar.events import parse

#: the batch columns this reads (``regaudit.ingest.normalize.BATCH_SCHEMA``)
_READ = ("value", "origin", "received_at", "registry", "content_type")


def normalize_records(records: pa.Table, schema: pa.Schema, default_registry: str) -> pa.Table:
    """One events row per record (or a dead-letter row with its reason), in ``schema``'s columns."""
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
    return {**base, **event, "envelope_type": None, "raw": value.decode("utf-8")}  # parse read it: UTF-8
