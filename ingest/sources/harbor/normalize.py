"""Harbor's raw records into rows of the events table, beside what ``normalize_events.sql`` makes of Distribution's.

Three transports carry Harbor records under ``registry_kind`` harbor, told apart by the content type they mark
them with: webhook bodies (``events.parse``), audit-log API rows (``audit.parse_entry``: the poller) and forwarded
syslog lines (``syslog.parse_line``).

Harbor posts one event per request, a few per image operation, so a batch holds far fewer Harbor events than
Distribution's per-blob notifications; they are parsed here with the wire models (``events.parse``, the receiver's
own judgement) instead of a second SQL dialect of the same contract. Pure: no clock, no I/O; bad input becomes a
row with a reason (a dead letter), never an exception.
"""

from __future__ import annotations

from typing import Any

import orjson
import pyarrow as pa

from regaudit.ingest.sources.harbor.audit import AUDIT_TYPES, parse_entry
from regaudit.ingest.sources.harbor.events import ENVELOPE_TYPES, parse
from regaudit.ingest.sources.harbor.syslog import SYSLOG_TYPE, parse_line

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
    events, reason = _parse(value, record["content_type"])
    if not events:
        return [{**base, "reason": reason or "no event", "value": value}]
    known = (*ENVELOPE_TYPES, *AUDIT_TYPES, SYSLOG_TYPE)
    envelope_type = record["content_type"] if record["content_type"] in known else None
    raw = value.decode("utf-8")  # every parser read it as UTF-8
    if record["content_type"] == SYSLOG_TYPE:
        raw = orjson.dumps(raw).decode()  # raw is a JSON column: a syslog line is kept whole as a JSON string
    return [
        {**base, **event, "origin": base["origin"] if len(events) == 1 else f"{base['origin']}#{index}",
         "envelope_type": envelope_type, "raw": raw}
        for index, event in enumerate(events)
    ]  # fmt: skip


def _parse(value: bytes, content_type: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """The record's parser by the content type its transport marked it with: an audit-log API row, a forwarded
    syslog line, else a webhook body."""
    if content_type in AUDIT_TYPES:
        return parse_entry(value, content_type)
    if content_type == SYSLOG_TYPE:
        return parse_line(value)
    return parse(value)
