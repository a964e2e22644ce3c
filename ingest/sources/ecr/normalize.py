"""ECR's raw records into rows of the events table, beside Distribution's and Harbor's.

Each record is one CloudTrail record or one EventBridge event (the S3 reader splits a log file into its ECR
records; the webhook and Kafka carry one event each), parsed with the wire models (``events.parse``, the same
judgement the receivers make). Pure: no clock, no I/O; bad input becomes a row with a reason (a dead letter).
"""

from __future__ import annotations

import pyarrow as pa

from regaudit.ingest.sources.ecr.events import parse
from regaudit.ingest.sources.rows import normalize_each, or_no_event


def normalize_records(records: pa.Table, schema: pa.Schema, default_registry: str) -> pa.Table:
    """One events row per image an ECR record names (or a dead-letter row with its reason), in ``schema``'s columns."""
    return normalize_each(records, schema, default_registry, lambda record: or_no_event(parse(record["value"] or b"")))
