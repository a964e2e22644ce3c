"""Schema version 9: an event carries the outcome its source reports, and a failure is a refusal (docs/sources.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from regaudit.ingest import store
from regaudit.ingest.normalize import Normalizer
from regaudit.ingest.records import RawRecord
from regaudit.ingest.sinks.duckdb import DuckDBSink

AT = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
DIGEST = "sha256:" + "a" * 64


def push(event_id: str) -> RawRecord:
    """A Distribution push of team/app:v1, the shape of tests/ingest/test_registry_kind.py's."""
    body = {"id": event_id, "timestamp": "2026-05-01T12:00:00Z", "action": "push",
            "target": {"repository": "team/app", "mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": DIGEST, "tag": "v1"},
            "request": {"addr": "10.0.0.7:41234", "method": "PUT"}, "actor": {"name": "alice"}}  # fmt: skip
    return RawRecord("event", json.dumps(body).encode(), f"test:{event_id}", AT, "main")


def quay_delete(kind: str, minute: int) -> RawRecord:
    """Quay's delete_tag (or delete_tag_failed) of the same tag, as its logs API renders it."""
    log = {"kind": kind, "metadata": {"namespace": "team", "repo": "app", "tag": "v1", "username": "bob"},
           "ip": "10.0.0.9", "datetime": f"Fri, 01 May 2026 12:{minute:02d}:00 -0000",
           "performer": {"kind": "user", "name": "bob", "is_robot": False}}  # fmt: skip
    return RawRecord("event", json.dumps(log).encode(), f"test:{kind}", AT, "main", registry_kind="quay")


def write(path, records):
    normalizer = Normalizer()
    try:
        DuckDBSink(path).write(normalizer.normalize(records), "test")
    finally:
        normalizer.close()


def query(path, sql):
    with store.reader(path) as con:
        return con.execute(sql).fetchall()


def test_a_refused_delete_moves_no_tag_and_counts_as_refused(tmp_path):
    db = tmp_path / "store.duckdb"
    write(db, [push("e1")])
    write(db, [quay_delete("delete_tag_failed", 5)])
    assert query(db, "SELECT digest, valid_to_at FROM tag_history") == [(DIGEST, None)]
    write(db, [quay_delete("delete_tag", 9)])
    assert query(db, "SELECT valid_to_at FROM tag_history") == [(datetime(2026, 5, 1, 12, 9, tzinfo=UTC),)]
    counted = query(db, "SELECT actor, action, outcome, counted_as FROM counted_activity ORDER BY occurred_at")
    assert counted == [("alice", "push", None, "push"), ("bob", "delete", "failure", "refused"),
                       ("bob", "delete", None, "delete")]  # fmt: skip


def test_a_store_of_version_8_gets_the_outcome_columns(tmp_path):
    db = tmp_path / "store.duckdb"
    write(db, [push("e1")])
    with store.writer(db) as con:  # as version 8 left it: no column, the view without it
        con.execute("DROP VIEW counted_activity")
        con.execute("ALTER TABLE image_activity DROP COLUMN outcome")
        con.execute("ALTER TABLE registry_events DROP COLUMN outcome")
        con.execute("UPDATE schema_meta SET value = '8' WHERE key = 'schema_version'")
    write(db, [quay_delete("delete_tag_failed", 5)])  # the writer upgrades the file first
    assert query(db, "SELECT outcome, counted_as FROM counted_activity ORDER BY occurred_at") == [
        (None, "push"), ("failure", "refused"),
    ]  # fmt: skip
