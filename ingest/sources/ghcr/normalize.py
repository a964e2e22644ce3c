"""GitHub's raw records into rows of the events table, beside what ``normalize_events.sql`` makes of
Distribution's. Like Quay's (``regaudit.ingest.sources.quay.normalize``): GitHub's audit log holds few events, each
parsed with the wire models (``audit.parse``). Pure: no clock, no I/O; bad input becomes a dead-letter row."""

from __future__ import annotations

import pyarrow as pa

from regaudit.ingest.sources.ghcr.audit import parse
from regaudit.ingest.sources.rows import normalize_each, or_no_event


def normalize_records(records: pa.Table, schema: pa.Schema, default_registry: str) -> pa.Table:
    """One events row per GitHub audit event (or a dead-letter row with its reason), in ``schema``'s columns."""
    return normalize_each(records, schema, default_registry, lambda record: or_no_event(parse(record["value"] or b"")))
