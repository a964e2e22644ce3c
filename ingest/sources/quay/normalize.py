"""Quay's raw records into rows of the events table, beside what ``normalize_events.sql`` makes of Distribution's.

Like Harbor's (``regaudit.ingest.sources.harbor.normalize``): Quay logs one entry per action, so a batch holds few
of them, and each is parsed with the wire models (``logs.parse``). Pure: no clock, no I/O (the log kinds table is
read once by whoever builds the normalizer and passed in); bad input becomes a row with a reason, a dead letter.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from regaudit.ingest.sources.quay.logs import load_kinds, parse

#: the batch columns this reads (``regaudit.ingest.normalize.BATCH_SCHEMA``)
_READ = ("value", "origin", "received_at", "registry", "content_type")
#: the kinds of a database Quay's migrations created; a deployment with other ids passes its own (``quay_normalizer``)
DEFAULT_KINDS = load_kinds()


def normalize_records(
    records: pa.Table, schema: pa.Schema, default_registry: str, kinds: Mapping[int, str] = DEFAULT_KINDS
) -> pa.Table:
    """One events row per Quay log (or a dead-letter row with its reason), in ``schema``'s columns."""
    rows = [_row(record, default_registry, kinds) for record in records.select(list(_READ)).to_pylist()]
    return pa.Table.from_pylist(rows, schema=schema)


def _row(record: dict[str, Any], default_registry: str, kinds: Mapping[int, str]) -> dict[str, Any]:
    value: bytes = record["value"] or b""
    base = {
        "origin": record["origin"],
        "received_at": record["received_at"],
        "registry": record["registry"] or default_registry,
        "content_type": record["content_type"],
    }
    events, reason = parse(value, kinds)
    if not events:
        return {**base, "reason": reason or "no event", "value": value}
    return {**base, **events[0], "envelope_type": None, "raw": value.decode("utf-8")}
