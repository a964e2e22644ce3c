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
from regaudit.ingest.sources.rows import Parsed, normalize_each, or_no_event


def normalize_records(records: pa.Table, schema: pa.Schema, default_registry: str) -> pa.Table:
    """One events row per record (or a dead-letter row with its reason), in ``schema``'s columns."""
    return normalize_each(records, schema, default_registry, _parsed)


def _parsed(record: dict[str, Any]) -> Parsed:
    event, reason = parse(record["value"] or b"", record["received_at"])
    return or_no_event(([] if event is None else [event], reason))
