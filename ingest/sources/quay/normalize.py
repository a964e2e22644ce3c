"""Quay's raw records into rows of the events table, beside what ``normalize_events.sql`` makes of Distribution's.

Like Harbor's (``regaudit.ingest.sources.harbor.normalize``): Quay logs one entry per action, so a batch holds few
of them, and each is parsed with the wire models (``logs.parse``). Pure: no clock, no I/O (the log kinds table is
read once by whoever builds the normalizer and passed in); bad input becomes a row with a reason, a dead letter.
"""

from __future__ import annotations

from collections.abc import Mapping

import pyarrow as pa

from regaudit.ingest.sources.quay.logs import load_kinds, parse
from regaudit.ingest.sources.rows import normalize_each, or_no_event

#: the kinds of a database Quay's migrations created; a deployment with other ids passes its own (``quay_normalizer``)
DEFAULT_KINDS = load_kinds()


def normalize_records(
    records: pa.Table, schema: pa.Schema, default_registry: str, kinds: Mapping[int, str] = DEFAULT_KINDS
) -> pa.Table:
    """One events row per Quay log (or a dead-letter row with its reason), in ``schema``'s columns."""
    return normalize_each(
        records, schema, default_registry, lambda record: or_no_event(parse(record["value"] or b"", kinds))
    )
