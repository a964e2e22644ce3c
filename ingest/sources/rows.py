"""What every registry source's normalizer does around its parser: each raw record (``BATCH_SCHEMA``'s columns)
becomes its events rows, or a dead-letter row with the reason, in the events table's columns.

A source's parser reads the bytes and says what the record holds (canonical event fields, one dict per event) and
what was wrong with it; this lays the rows out: the record's origin (``#<index>`` when it holds several events), its
registry (the receiver's, else the default), the bytes kept as ``raw`` and, for a dead letter, as ``value``. Pure and
never raising, like the parsers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pyarrow as pa

#: the batch columns a source normalizer reads
READ = ("value", "origin", "received_at", "registry", "content_type")
#: what a parser says of one record: its events, and why it is (also) a dead letter, or None
Parsed = tuple[Sequence[dict[str, Any]], str | None]


def base_row(record: dict[str, Any], default_registry: str) -> dict[str, Any]:
    """The columns every row of a record shares."""
    return {
        "origin": record["origin"],
        "received_at": record["received_at"],
        "registry": record["registry"] or default_registry,
        "content_type": record["content_type"],
    }


def event_rows(
    record: dict[str, Any], default_registry: str, parsed: Parsed, envelope_type: str | None = None
) -> list[dict[str, Any]]:
    """A dead-letter row when the parser gave a reason, then one row per event."""
    events, reason = parsed
    base = base_row(record, default_registry)
    value: bytes = record["value"] or b""
    rows = [{**base, "reason": reason, "value": value}] if reason else []
    if events:
        raw = value.decode("utf-8")  # the parser read it as text, so it is UTF-8
        rows += [
            {**base, **event, "origin": base["origin"] if len(events) == 1 else f"{base['origin']}#{index}",
             "envelope_type": envelope_type, "raw": raw}
            for index, event in enumerate(events)
        ]  # fmt: skip
    return rows


def or_no_event(parsed: Parsed) -> Parsed:
    """A record with no event and no reason is still a dead letter: "no event"."""
    events, reason = parsed
    return events, reason or (None if events else "no event")


def normalize_each(
    records: pa.Table,
    schema: pa.Schema,
    default_registry: str,
    parse: Callable[[dict[str, Any]], Parsed],
    envelope_type: Callable[[str | None], str | None] = lambda content_type: None,
) -> pa.Table:
    """Each record through ``parse``, its rows in ``schema``'s columns."""
    rows: list[dict[str, Any]] = []
    for record in records.select(list(READ)).to_pylist():
        rows += event_rows(record, default_registry, parse(record), envelope_type(record["content_type"]))
    return pa.Table.from_pylist(rows, schema=schema)
