"""ECR's raw records into rows of the events table, beside Distribution's and Harbor's.

Each record is one CloudTrail record or one EventBridge event (the S3 reader splits a log file into its ECR
records; the webhook and Kafka carry one event each), parsed with the wire models (``events.parse``, the same
judgement the receivers make). Pure: no clock, no I/O; bad input becomes a row with a reason (a dead letter).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from regaudit.ingest.sources.ecr.events import parse

#: the batch columns this reads (``regaudit.ingest.normalize.BATCH_SCHEMA``)
_READ = ("value", "origin", "received_at", "registry", "content_type")


def normalize_records(records: pa.Table, schema: pa.Schema, default_registry: str) -> pa.Table:
    """One events row per image an ECR record names (or a dead-letter row with its reason), in ``schema``'s columns."""
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
    raw = value.decode("utf-8")  # parse read it as JSON, so it is UTF-8
    return [
        {**base, **event, "origin": base["origin"] if len(events) == 1 else f"{base['origin']}#{index}",
         "envelope_type": None, "raw": raw}
        for index, event in enumerate(events)
    ]  # fmt: skip
