"""Schema version 8: every stored event says which kind of registry sent it (issue 17, the source seam)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from regaudit.ingest import store
from regaudit.ingest.normalize import Normalizer
from regaudit.ingest.records import RawRecord
from regaudit.ingest.sinks.duckdb import DuckDBSink

AT = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def distribution_event(event_id: str) -> RawRecord:
    body = {"id": event_id, "timestamp": "2026-05-01T12:00:00Z", "action": "push",
            "target": {"repository": "team/app", "mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": "sha256:" + "a" * 64, "tag": "v1"},
            "request": {"addr": "10.0.0.7:41234", "method": "PUT"}, "actor": {"name": "alice"}}  # fmt: skip
    return RawRecord("event", json.dumps(body).encode(), f"test:{event_id}", AT, "main")


def write(path, records):
    normalizer = Normalizer()
    try:
        DuckDBSink(path).write(normalizer.normalize(records), "test")
    finally:
        normalizer.close()


def kinds(path):
    with store.reader(path) as con:
        return con.execute("SELECT event_id, registry, registry_kind FROM registry_events ORDER BY 1").fetchall()


def test_a_distribution_notification_is_stored_as_the_distribution_kind(tmp_path):
    db = tmp_path / "store.duckdb"
    write(db, [distribution_event("e1")])
    assert kinds(db) == [("e1", "main", "distribution")]


def test_events_stored_before_version_8_are_distribution_events(tmp_path):
    db = tmp_path / "store.duckdb"
    write(db, [distribution_event("e1")])
    with store.writer(db) as con:  # as version 7 left it: no column
        con.execute("ALTER TABLE registry_events DROP COLUMN registry_kind")
        con.execute("UPDATE schema_meta SET value = '7' WHERE key = 'schema_version'")
    write(db, [distribution_event("e2")])  # the writer upgrades the file first
    assert kinds(db) == [("e1", "main", "distribution"), ("e2", "main", "distribution")]
