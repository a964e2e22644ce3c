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
from regaudit.ingest.sources.rows import Parsed, normalize_each


def normalize_records(records: pa.Table, schema: pa.Schema, default_registry: str) -> pa.Table:
    """One events row per ACR record (and a dead-letter row per body with a problem), in ``schema``'s columns."""
    return normalize_each(records, schema, default_registry, _parsed)


def _parsed(record: dict[str, Any]) -> Parsed:
    """A body's records, and its problems as one reason (a body with neither holds nothing to store)."""
    events, problems = parse(record["value"] or b"")
    return events, "; ".join(problems)[:2000] or None
