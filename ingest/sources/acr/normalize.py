"""ACR's raw records into rows of the events table, beside Distribution's and ECR's.

Each raw record is one Event Hub event (``{"records": [...]}``, several rows), one storage account line or one
webhook POST, parsed with the wire models (``events.parse``, the same judgement the webhook makes). Pure: no
clock, no I/O; bad input becomes a row with a reason (a dead letter), and a body holding good records beside bad
ones stores the good ones and is kept whole as one dead letter too.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from regaudit.ingest.sources.acr.events import parse

#: the batch columns this reads (``regaudit.ingest.normalize.BATCH_SCHEMA``)
_READ = ("value", "origin", "received_at", "registry", "content_type")


def normalize_records(records: pa.Table, schema: pa.Schema, default_registry: str) -> pa.Table:
    """One events row per ACR record (and a dead-letter row per body with a problem), in ``schema``'s columns."""
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
    events, problems = parse(value)
    dead = [{**base, "reason": "; ".join(problems)[:2000], "value": value}] if problems else []
    if not events:
        return dead
    raw = value.decode("utf-8")  # parse read it as JSON, so it is UTF-8
    return dead + [
        {**base, **event, "origin": base["origin"] if len(events) == 1 else f"{base['origin']}#{index}",
         "envelope_type": None, "raw": raw}
        for index, event in enumerate(events)
    ]  # fmt: skip
