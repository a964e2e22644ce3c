from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import threading
import time

import duckdb
import pytest

from regaudit.errors import StoreSchemaError
from regaudit.ingest import store
from regaudit.ingest.normalize import Normalizer
from regaudit.ingest.sinks.duckdb import DuckDBSink
from regaudit.ingest.sinks.store import StoreRecordSink
from tests.samples import SAMPLES, access_records, event_records

HTPASSWD = SAMPLES / "distribution-2.8.2-htpasswd.events.jsonl"
NGINX = SAMPLES / "distribution-2.8.2-behind-nginx.events.jsonl"
NGINX_LOG = SAMPLES / "nginx-1.22-registry.access.json.log"


@pytest.fixture
def db(tmp_path):
    return tmp_path / "audit.duckdb"


def write(db, records):
    normalizer = Normalizer("default")
    try:
        return DuckDBSink(db).write(normalizer.normalize(records), "test")
    finally:
        normalizer.close()


def rows(db, sql, params=None):
    with store.reader(db) as con:
        return con.execute(sql, params or {}).fetchall()


def test_a_replayed_batch_stores_nothing_twice(db):
    records = event_records(HTPASSWD, "main") + access_records(NGINX_LOG)
    first = write(db, records)
    second = write(db, records)
    assert (first.events_count, first.access_count) == (18, 30)
    assert (second.events_count, second.access_count, second.dead_letters_count) == (0, 0, 0)
    assert rows(db, "SELECT count(*) FROM registry_events")[0][0] == 18
    assert rows(db, "SELECT count(*) FROM image_activity")[0][0] == len(
        rows(db, "SELECT DISTINCT activity_id FROM image_activity")
    )


def test_duplicates_inside_one_batch_are_stored_once(db):
    records = event_records(HTPASSWD, "main")
    assert write(db, records + records).events_count == 18


def test_tag_history_shows_the_overwrite_with_old_and_new_digest_and_who(db):
    write(db, event_records(HTPASSWD, "main"))
    history = rows(
        db,
        """SELECT tag, digest, previous_digest, is_overwrite, moved_by, valid_to_at IS NULL
                         FROM tag_history WHERE repository = 'team/app' ORDER BY valid_from_at""",
    )
    (_, first, _, first_over, first_by, _), (_, second, previous, over, by, _) = history
    assert (first_over, first_by) == (False, "ci-bot")
    assert (previous, over, by) == (first, True, "alice")
    assert second != first


def test_image_activity_joins_the_proxy_line_of_each_action(db):
    write(db, event_records(NGINX, "main") + access_records(NGINX_LOG))
    joined = rows(
        db,
        """SELECT actor, action, proxy_status, proxy_tls, proxy_user_agent FROM image_activity
                        WHERE source = 'registry' ORDER BY occurred_at""",
    )
    assert joined == [
        ("ci-bot", "push", 201, "TLSv1.3", "skopeo/1.9.3"),
        ("ci-bot", "push", 201, "TLSv1.3", "skopeo/1.9.3"),
        ("alice", "pull", 200, "TLSv1.3", "skopeo/1.9.3"),
    ]
    refused = rows(
        db,
        """SELECT actor, action, proxy_status, tag FROM image_activity WHERE source = 'proxy'
                         ORDER BY proxy_status, tag""",
    )
    assert refused == [("alice", "pull", 401, "v1.0.0"), ("alice", "pull", 404, "nosuchtag")]
    assert rows(db, "SELECT count(*) FROM image_activity WHERE audit_gap")[0][0] == 0


def test_events_and_lines_joined_whatever_batch_they_arrive_in(db):
    write(db, access_records(NGINX_LOG))
    write(db, event_records(NGINX, "main"))
    assert (
        rows(db, "SELECT count(*) FROM image_activity WHERE proxy_status IS NOT NULL AND source = 'registry'")[0][0]
        == 3
    )


def later_event(record, seconds):
    """The same event, ``seconds`` after the capture, under a new id: the feed moving on."""
    event = json.loads(record.value)
    event["id"] = f"later-{seconds}"
    minutes = 21 + seconds // 60
    event["timestamp"] = f"2026-11-26T{19 + minutes // 60}:{minutes % 60:02d}:00Z"
    return dataclasses.replace(record, value=json.dumps(event).encode(), origin=f"later:{seconds}")


def test_a_served_manifest_without_notification_is_an_audit_gap_once_the_feed_moved_on(db):
    events = event_records(NGINX, "main")
    dropped = [
        r
        for r in events
        if json.loads(r.value)["action"] == "pull"
        and json.loads(r.value)["target"]["mediaType"] != "application/octet-stream"
    ]
    assert len(dropped) == 1  # alice's manifest pull: the registry's queue lost it
    kept = [r for r in events if r not in dropped]
    write(db, kept + access_records(NGINX_LOG))
    assert rows(db, "SELECT count(*) FROM image_activity WHERE audit_gap")[0][0] == 0  # grace period
    write(db, [later_event(kept[0], 300)])
    gaps = rows(db, "SELECT actor, action, tag, proxy_status FROM image_activity WHERE audit_gap")
    assert gaps == [("alice", "pull", "v1.0.0", 200)]
    write(db, dropped)  # the notification arrives after all: the gap closes
    assert rows(db, "SELECT count(*) FROM image_activity WHERE audit_gap")[0][0] == 0


def test_the_line_steps_run_for_events_alone_within_their_reach_of_the_lines(db, tmp_path):
    """A batch of events alone runs the steps that pair and mark access lines only when a line lies within their
    reach (``_lines_near``): events stored before any line are paired when the lines come, as in one batch, and
    an hour after the lines (less a minute) a batch of events still marks their gaps once the feed moved past."""
    events = event_records(NGINX, "main")
    dropped = [
        r
        for r in events
        if json.loads(r.value)["action"] == "pull"
        and json.loads(r.value)["target"]["mediaType"] != "application/octet-stream"
    ]
    kept = [r for r in events if r not in dropped]
    write(db, kept)
    assert rows(db, "SELECT count(*) FROM image_activity WHERE proxy_line_key IS NOT NULL")[0][0] == 0
    write(db, access_records(NGINX_LOG))
    together = tmp_path / "together.duckdb"
    write(together, kept + access_records(NGINX_LOG))
    paired = "SELECT activity_id, proxy_line_key, proxy_status FROM image_activity ORDER BY ALL"
    assert rows(db, paired) == rows(together, paired)
    assert rows(db, "SELECT count(*) FROM image_activity WHERE proxy_line_key IS NOT NULL")[0][0] > 0
    write(db, [later_event(kept[0], 59 * 60)])
    gaps = rows(db, "SELECT actor, action, tag, proxy_status FROM image_activity WHERE audit_gap")
    assert gaps == [("alice", "pull", "v1.0.0", 200)]


def test_a_newer_store_is_refused(db):
    with store.writer(db) as con:
        con.execute("UPDATE schema_meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StoreSchemaError, match="newer than this regaudit"), store.writer(db):
        pass


def test_store_record_sink_group_commits_concurrent_deliveries(db):
    sink = StoreRecordSink(db, 30.0, "main", "test")
    records = event_records(HTPASSWD, "main")
    threads = [threading.Thread(target=sink.deliver, args=([(None, r)],)) for r in records]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sink.close()
    assert rows(db, "SELECT count(*) FROM registry_events")[0][0] == 18
    assert rows(db, "SELECT count(*) FROM ingest_batches")[0][0] < 18


def test_readers_see_committed_batches_only(db):
    write(db, event_records(HTPASSWD, "main"))
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM registry_events").fetchall()[0][0] == 18
    finally:
        con.close()


def test_a_reader_gets_its_turn_while_a_busy_writer_in_another_process_takes_the_file_back_quickly(db):
    # A consumer working off a backlog closes the file between batches for a few milliseconds only. Readers that
    # backed off up to 0.25 s between attempts waited up to 2.6 s for a 10 ms gap every 200 ms; at most 20 ms
    # between attempts, under 0.75 s.
    with store.writer(db):
        pass
    hog = subprocess.Popen([sys.executable, "-c", BUSY_WRITER, str(db)])
    try:
        time.sleep(0.5)
        for _ in range(5):
            with store.reader(db, timeout=3) as con:
                assert con.execute("SELECT count(*) FROM registry_events").fetchall() == [(0,)]
    finally:
        hog.kill()
        hog.wait()


BUSY_WRITER = """
import sys, time, duckdb
while True:
    try:
        con = duckdb.connect(sys.argv[1])
    except duckdb.IOException:  # a reader has it: take it back as soon as it is free
        time.sleep(0.001)
        continue
    time.sleep(0.2)
    con.close()
    time.sleep(0.01)
"""
