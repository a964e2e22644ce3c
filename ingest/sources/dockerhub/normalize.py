"""Docker Hub's raw records into rows of the events table, beside what ``normalize_events.sql`` makes of
Distribution's. Like Quay's (``regaudit.ingest.sources.quay.normalize``): Hub's audit log holds few events, each
parsed with the wire models (``audit.parse``). The usage export's lines (``usage.parse``, registry kind
``dockerhub-usage`` on the raw record) become that many pull and check rows of kind ``dockerhub``: the same
registry as the audit log's. Pure: no clock, no I/O; bad input becomes a dead-letter row."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from regaudit.ingest.sources.dockerhub import usage
from regaudit.ingest.sources.dockerhub.audit import REGISTRY_KIND, parse
from regaudit.ingest.sources.rows import READ, base_row, normalize_each, or_no_event

#: and the usage lines' key: the part of a line's rows a record stands for (``usage.part_of``)
_READ_USAGE = (*READ, "key")


def normalize_records(records: pa.Table, schema: pa.Schema, default_registry: str) -> pa.Table:
    """One events row per Hub audit event (or a dead-letter row with its reason), in ``schema``'s columns."""
    return normalize_each(records, schema, default_registry, lambda record: or_no_event(parse(record["value"] or b"")))


def normalize_usage(records: pa.Table, schema: pa.Schema, default_registry: str) -> pa.Table:
    """Per usage line: its pulls as GET and its version checks as HEAD manifest rows at the hour's start (the
    header line: none), or a dead-letter row with its reason, in ``schema``'s columns."""
    tables = [_usage_rows(rec, schema, default_registry) for rec in records.select(list(_READ_USAGE)).to_pylist()]
    return pa.concat_tables(tables) if tables else schema.empty_table()


def _usage_rows(record: dict[str, Any], schema: pa.Schema, default_registry: str) -> pa.Table:
    value: bytes = record["value"] or b""
    base = base_row(record, default_registry)
    row, reason = usage.parse(value)
    if row is None:
        rows = [{**base, "reason": reason, "value": value}] if reason else []
        return pa.Table.from_pylist(rows, schema=schema)
    one = {
        **base,
        "event_at": row.hour,
        "action": "pull",
        "target_kind": "manifest",
        "repository": row.repository,
        "tag": row.tag,
        "digest": row.digest,
        "client_addr": row.client_addr,
        "actor": row.actor,
        "registry_kind": REGISTRY_KIND,
        "raw": row.raw,
    }
    template = pa.Table.from_pylist([one], schema=schema)
    # one row repeated by index, its id and method set per row: columns, not a dict per pull
    part = usage.part_of(record["key"], row.pulls + row.checks)  # rows: the pulls, then the checks
    table = template.take(pa.array([0] * len(part), pa.int64()))
    ids = [row.event_id("p", i) if i < row.pulls else row.event_id("c", i - row.pulls) for i in part]
    methods = pa.array(["GET" if i < row.pulls else "HEAD" for i in part], pa.string())
    table = table.set_column(schema.get_field_index("event_id"), "event_id", pa.array(ids, pa.string()))
    return table.set_column(schema.get_field_index("http_method"), "http_method", methods)
