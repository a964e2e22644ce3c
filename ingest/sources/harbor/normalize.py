"""Harbor's raw records into rows of the events table, beside what ``normalize_events.sql`` makes of Distribution's.

Harbor posts one event per request, a few per image operation, so a batch holds far fewer Harbor events than
Distribution's per-blob notifications; they are parsed here with the wire models (``events.parse``, the receiver's
own judgement) instead of a second SQL dialect of the same contract. Pure: no clock, no I/O; bad input becomes a
row with a reason (a dead letter), never an exception.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from regaudit.ingest.sources.harbor.events import ENVELOPE_TYPES, parse

#: the batch columns this reads (``regaudit.ingest.normalize.BATCH_SCHEMA``)
_READ = ("value", "origin", "received_at", "registry", "content_type")


def normalize_records(records: pa.Table, schema: pa.Schema, default_registry: str) -> pa.Table:
    """One events row per Harbor artifact (or a dead-letter row with its reason), in ``schema``'s columns."""
    rows: list[dict[str, Any]] = []
    for record in records.select(list(_READ)).to_pylist():
        rows.extend(_rows(record, default_registry))
    return pa.Table.from_pylist(rows, schema=schema)


def _rows(record: dict[str, Any], default_registry: str) -> list[dict[str, Any]]:
    value: bytes = record["value"] or b""
    base = {
        "origin": record["origin"],
        "received_at": record["received_at"],
        "registry": record["registry"] or default_registry,
        "content_type": record["content_type"],
    }
    events, reason = parse(value)
    if not events:
        return [{**base, "reason": reason or "no event", "value": value}]
    envelope_type = record["content_type"] if record["content_type"] in ENVELOPE_TYPES else None
    raw = value.decode("utf-8")  # parse read it as JSON, so it is UTF-8
    return [
        {**base, **event, "origin": base["origin"] if len(events) == 1 else f"{base['origin']}#{index}",
         "envelope_type": envelope_type, "raw": raw}
        for index, event in enumerate(events)
    ]  # fmt: skip
