"""JFrog's raw records into rows of the events table, beside what ``normalize_events.sql`` makes of Distribution's.

Artifactory posts one event per tag operation, so a batch holds few; they are parsed with the wire models
(``events.parse``, the receiver's own judgement) rather than a second SQL dialect of the same contract. Pure: no
clock (the receive time travels with the record), no I/O; bad input becomes a row with a reason, never an exception.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from regaudit.ingest.sources.artifactory.events import parse
from regaudit.ingest.sources.rows import Parsed, normalize_each, or_no_event


def normalize_records(records: pa.Table, schema: pa.Schema, default_registry: str) -> pa.Table:
    """One events row per JFrog Docker event (or a dead-letter row with its reason), in ``schema``'s columns."""
    return normalize_each(records, schema, default_registry, _parsed, _envelope_type)


def _parsed(record: dict[str, Any]) -> Parsed:
    event, reason = parse(record["value"] or b"", record["received_at"])
    return or_no_event(([] if event is None else [event], reason))


def _envelope_type(content_type: str | None) -> str | None:
    return content_type if content_type == "application/json" else None
