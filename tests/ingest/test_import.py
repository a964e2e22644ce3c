"""``regaudit import``: real captures (tests/fixtures/samples), plain and gzip, run as the operator runs it.

Each test runs the real command in a process against a DuckDB file, and, where it says so, the real
``regaudit ship-logs`` over the same files into the same store.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import zlib
from pathlib import Path

from regaudit.ingest.derive import MAX_RANGES
from regaudit.ingest.importer import Importer
from regaudit.ingest.normalize import Normalizer
from regaudit.ingest.sinks.duckdb import DuckDBSink
from regaudit.ingest.sinks.store import StoreRecordSink
from tests.ingest import processes
from tests.samples import SAMPLES, event_records, posts

COMBINED = SAMPLES / "nginx-1.22-registry.access.combined.log"
COMBINED_EVENTS = SAMPLES / "distribution-2.8.2-behind-nginx-combined.events.jsonl"
JSON_LOG = processes.SAMPLES_LOG
#: image_activity's columns but the batch it was derived in
ACTIVITY = "SELECT * EXCLUDE (activity_id) FROM image_activity ORDER BY ALL"


def regaudit(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = processes.regaudit_env(db)
    return subprocess.run([*processes.REGAUDIT, *args], env=env, capture_output=True, text=True, timeout=120)


def summary(done: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """The key=value summary line of ``regaudit import``."""
    line = done.stdout.strip().splitlines()[-1]
    return dict(item.split("=", 1) for item in line.split())


def rows(db: Path, sql: str) -> list[tuple]:
    with processes.reader(db) as con:
        return con.execute(sql).fetchall()


def ship(db: Path, log: Path, host: str = "edge-1") -> subprocess.CompletedProcess[str]:
    args = ["ship-logs", str(log), "--sink", "duckdb", "--host", host, "--until-idle", "0.5"]
    return regaudit(db, *args, "--state", str(db.with_suffix(".pos")))  # one shipper's position per store


def envelopes_dump(capture: Path, path: Path, compress: bool = False) -> int:
    """The capture's notification envelopes, one a line (a JSON Lines dump); returns how many events."""
    bodies = [post["body"] for post in posts(capture)]
    data = b"".join(json.dumps(body).encode() + b"\n" for body in bodies)
    path.write_bytes(gzip.compress(data) if compress else data)
    return sum(len(body["events"]) for body in bodies)


def test_import_then_ship_logs_stores_every_line_once_and_the_same_image_activity(tmp_path):
    """The log shipped live in one store, imported then shipped in another: same lines once, same activity."""
    lines = COMBINED.read_bytes().splitlines()
    live, backfilled = tmp_path / "live.duckdb", tmp_path / "backfill.duckdb"
    (tmp_path / "a").mkdir()
    log = tmp_path / "a" / "access.log"
    log.write_bytes(COMBINED.read_bytes())
    events = envelopes_dump(COMBINED_EVENTS, tmp_path / "events.jsonl")
    sink = StoreRecordSink(live, 30.0, "default", "webhook")  # the webhook's embedded path, one POST's events
    sink.deliver([(None, record) for record in event_records(COMBINED_EVENTS, "default")])
    sink.close()
    assert ship(live, log).returncode == 0

    imported = regaudit(backfilled, "import", str(tmp_path / "events.jsonl"), str(log), "--host", "edge-1")
    assert imported.returncode == 0, imported.stderr
    assert summary(imported) | {"seconds": "", "lines_per_second": ""} == {
        "files": "2", "lines": str(len(lines) + len(posts(COMBINED_EVENTS))), "stored": str(len(lines) + events),
        "duplicates": "0", "dead_letters": "0", "unfinished": "0", "failed": "0", "seconds": "",
        "lines_per_second": "",
    }  # fmt: skip
    shipped = ship(backfilled, log)
    assert shipped.returncode == 0, shipped.stderr
    assert f"shipped={len(lines)}" in shipped.stdout  # ship-logs read every line; the store kept none twice
    count = "SELECT count(*), count(DISTINCT line_key) FROM access_log"
    assert rows(backfilled, count) == rows(live, count) == [(len(lines), len(lines))]
    assert rows(backfilled, "SELECT count(*) FROM registry_events") == [(events,)]
    assert rows(backfilled, ACTIVITY) == rows(live, ACTIVITY) != []
    verified = regaudit(backfilled, "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr  # the chain seals the import's batches
    webhook = StoreRecordSink(backfilled, 30.0, "default", "webhook")  # the same notifications, received live
    webhook.deliver([(None, record) for record in event_records(COMBINED_EVENTS, "default")])
    webhook.close()
    assert rows(backfilled, "SELECT count(*) FROM registry_events") == [(events,)]


def test_a_rotated_file_shipped_live_is_imported_once_and_gzip_rotations_in_time_order(tmp_path):
    """ship-logs read access.log; logrotate renamed it to .1; older .3.gz and .2.gz come from before regaudit."""
    lines = JSON_LOG.read_bytes().splitlines(keepends=True)
    db, log = tmp_path / "audit.duckdb", tmp_path / "access.log"
    (tmp_path / "access.log.3.gz").write_bytes(gzip.compress(b"".join(lines[:8])))
    (tmp_path / "access.log.2.gz").write_bytes(gzip.compress(b"".join(lines[8:16])))
    log.write_bytes(b"".join(lines[16:24]))
    assert ship(db, log).returncode == 0
    os.rename(log, tmp_path / "access.log.1")
    log.write_bytes(b"".join(lines[24:]))

    files = [tmp_path / name for name in ("access.log.1", "access.log.3.gz", "access.log.2.gz")]
    imported = regaudit(db, "import", *map(str, files), "--host", "edge-1", "--batch-lines", "4")
    assert imported.returncode == 0, imported.stderr
    assert (summary(imported)["stored"], summary(imported)["duplicates"]) == ("16", "8")
    assert ship(db, log).returncode == 0
    assert rows(db, "SELECT count(*), count(DISTINCT raw) FROM access_log") == [(len(lines), len(set(lines)))]
    by_batch = rows(db, "SELECT min(request_at), max(request_at) FROM access_log GROUP BY batch_id ORDER BY batch_id")
    assert all(earlier[1] <= later[0] for earlier, later in zip(by_batch, by_batch[1:], strict=False))
    assert len(by_batch) > 4  # the import's batches of four lines, oldest file first, then the live ones


def test_a_hostile_line_becomes_a_dead_letter_with_its_raw_bytes(tmp_path):
    lines = COMBINED.read_bytes().splitlines(keepends=True)
    hostile = b'\x1b[2J{"method": 7, "uri": ["/v2/"]} \xe2\x98\x83 DROP TABLE access_log;--\r\n'
    log = tmp_path / "access.log.1"
    log.write_bytes(b"".join(lines[:3]) + hostile + b"\n" + b"".join(lines[3:]))  # and an empty line
    imported = regaudit(tmp_path / "audit.duckdb", "import", str(log))
    assert imported.returncode == 0, imported.stderr
    assert (summary(imported)["stored"], summary(imported)["dead_letters"]) == (str(len(lines)), "1")
    dead = rows(tmp_path / "audit.duckdb", "SELECT source, reason, raw, origin FROM dead_letters")
    assert [(source, raw) for source, _, raw, _ in dead] == [("access", hostile.rstrip(b"\r\n"))]
    offset = sum(map(len, lines[:3]))
    assert dead[0][3].endswith(f":{tmp_path / 'access.log'}:{dead[0][3].split(':')[-2]}:{offset}")


def test_a_truncated_gzip_fails_clearly_and_loses_nothing_readable(tmp_path):
    """The other files are imported whole; the broken one up to its break, the bytes after as a dead letter."""
    data = JSON_LOG.read_bytes()
    whole = gzip.compress(data)
    broken = tmp_path / "access.log.2.gz"
    broken.write_bytes(whole[: len(whole) * 2 // 3])
    readable = zlib.decompressobj(wbits=31).decompress(broken.read_bytes())
    complete, partial = readable[: readable.rfind(b"\n") + 1], readable[readable.rfind(b"\n") + 1 :]
    good = tmp_path / "other.log.1"
    good.write_bytes(COMBINED.read_bytes())
    db = tmp_path / "audit.duckdb"

    imported = regaudit(db, "import", str(broken), str(good))
    assert imported.returncode == 1
    assert f"{broken}: gzip stream ends early" in imported.stderr
    expected = len(complete.splitlines()) + len(COMBINED.read_bytes().splitlines())
    assert (summary(imported)["stored"], summary(imported)["failed"]) == (str(expected), "1")
    assert rows(db, "SELECT raw FROM dead_letters") == [(partial,)]
    assert partial
    assert data.startswith(complete + partial)


def test_events_are_keyed_by_registry_and_event_id_whatever_file_they_come_from(tmp_path):
    """A dump of envelopes (gzip) and one of single events hold the same events: the second adds nothing."""
    capture = SAMPLES / "distribution-2.8.2-htpasswd.events.jsonl"
    count = envelopes_dump(capture, tmp_path / "notifications.jsonl.1.gz", compress=True)
    single = b"".join(record.value + b"\n" for record in event_records(capture, "default"))
    (tmp_path / "events.jsonl").write_bytes(single)
    db = tmp_path / "audit.duckdb"
    first = regaudit(db, "import", str(tmp_path / "notifications.jsonl.1.gz"))
    again = regaudit(db, "import", str(tmp_path / "events.jsonl"), "--kind", "event")
    assert (summary(first)["stored"], summary(again)["stored"], summary(again)["duplicates"]) == (
        str(count), "0", str(count),
    )  # fmt: skip
    assert rows(db, "SELECT count(DISTINCT (registry, event_id)), min(registry) FROM registry_events") == [
        (count, "default")
    ]


def test_import_keys_equal_ship_logs_keys_in_process(tmp_path):
    """The line keys themselves, not only the counts: the importer's equal the tail's for every line."""
    from regaudit.ingest.receive.tail import FileTail

    log = tmp_path / "registry.json"
    log.write_bytes(JSON_LOG.read_bytes() + b"\r\n\n")
    tail = FileTail(log, tmp_path / "pos", "edge-1")
    expected = [line.key for line in tail.read(10_000)]
    tail.close()
    normalizer = Normalizer()
    importer = Importer(DuckDBSink(tmp_path / "audit.duckdb"), normalizer, "edge-1", "default", batch_lines=7)
    importer.run(importer.plan([log]))
    normalizer.close()
    stored = rows(tmp_path / "audit.duckdb", "SELECT line_key FROM access_log")
    assert sorted(key for (key,) in stored) == sorted(expected)
    assert len(expected) == len(JSON_LOG.read_bytes().splitlines())


def test_the_progress_bar_redraws_one_line_and_ends_full(tmp_path):
    """On a terminal (or with --progress) the bar is one line redrawn in place; the summary goes to stdout."""
    log = tmp_path / "access.log.1"
    log.write_bytes(COMBINED.read_bytes())
    done = regaudit(tmp_path / "audit.duckdb", "import", str(log), "--progress", "--batch-lines", "5")
    assert done.returncode == 0, done.stderr
    bar = done.stderr.splitlines()[-1]  # text mode reads each \r as a line end
    assert bar.startswith("[" + "#" * 30 + "] 100%")
    assert f"{len(COMBINED.read_bytes().splitlines())} lines" in bar
    assert "batch=" not in done.stderr  # the sink's line per batch would break the bar up
    assert summary(done)["stored"] == str(len(COMBINED.read_bytes().splitlines()))


def test_a_line_longer_than_the_limit_is_a_clipped_dead_letter_and_the_lines_after_it_are_read(tmp_path, monkeypatch):
    """A gzip file whose first line never ends (here 40 MB of one byte, 40 KB compressed; the limit lowered to 1 MB
    from 64): its head is one dead letter, the rest is read past instead of held (and copied at every block)."""
    from regaudit.ingest.receive import backfill

    monkeypatch.setattr(backfill, "MAX_LINE_BYTES", 1 << 20)
    lines = COMBINED.read_bytes()
    log = tmp_path / "access.log.2.gz"
    log.write_bytes(gzip.compress(b"a" * (40 << 20) + b"\n" + lines, compresslevel=1))
    normalizer = Normalizer()
    importer = Importer(DuckDBSink(tmp_path / "audit.duckdb"), normalizer, "edge-1", "default")
    importer.run(importer.plan([log]))
    normalizer.close()
    dead = rows(tmp_path / "audit.duckdb", "SELECT octet_length(raw), origin FROM dead_letters")
    assert dead == [(1 << 20, dead[0][1])]
    assert dead[0][1].endswith(":0")
    assert rows(tmp_path / "audit.duckdb", "SELECT count(*) FROM access_log") == [(len(lines.splitlines()),)]


def test_batches_are_filled_across_blocks_and_keep_every_line(tmp_path, monkeypatch):
    """A block of the file holds a few lines (here one or two: 300-byte chunks and blocks; in use 32 MiB, about 39,000
    JSON lines): each batch is still --batch-lines lines, the last one the rest, and every line is stored once."""
    from regaudit.ingest import importer as importer_module
    from regaudit.ingest.receive import backfill

    monkeypatch.setattr(importer_module, "read_blocks", lambda chunks: backfill.read_blocks(chunks, 300))
    monkeypatch.setattr(importer_module, "FileReader", lambda path, _chunk_bytes: backfill.FileReader(path, 300))
    log = tmp_path / "access.log.1"
    log.write_bytes(COMBINED.read_bytes())
    lines = len(COMBINED.read_bytes().splitlines())
    normalizer = Normalizer()
    importer = Importer(DuckDBSink(tmp_path / "audit.duckdb"), normalizer, "edge-1", "default", batch_lines=3)
    done = importer.run(importer.plan([log]))
    normalizer.close()
    sizes = [count for (count,) in rows(tmp_path / "audit.duckdb", "SELECT access_count FROM ingest_batches")]
    assert sorted(sizes, reverse=True) == [3] * (lines // 3) + [lines % 3]
    assert (done.lines, done.stored) == (lines, lines)
    assert rows(tmp_path / "audit.duckdb", "SELECT count(DISTINCT line_key) FROM access_log") == [(lines,)]


def test_the_store_is_held_across_batches_and_given_back_at_the_end(tmp_path, monkeypatch):
    """With the sink's hold the import opens the file once for all its batches (each is still its own transaction
    and chain entry, which verify), and gives it back when done: a writer opens it right after."""
    from regaudit.evidence.chain import seal_batch
    from regaudit.evidence.verify import verify
    from regaudit.ingest import store
    from regaudit.ingest.sinks import held

    opened: list[Path] = []
    open_writer = store.open_writer
    monkeypatch.setattr(
        held.store, "open_writer", lambda path, timeout: opened.append(path) or open_writer(path, timeout)
    )
    log = tmp_path / "access.log.1"
    log.write_bytes(COMBINED.read_bytes())
    lines = len(COMBINED.read_bytes().splitlines())
    db = tmp_path / "audit.duckdb"
    normalizer = Normalizer()
    sink = DuckDBSink(db, hooks=[seal_batch], hold_seconds=60.0)
    importer = Importer(sink, normalizer, "edge-1", "default", batch_lines=3)
    done = importer.run(importer.plan([log]))
    normalizer.close()
    assert (done.lines, done.stored, opened) == (lines, lines, [db])
    with store.writer(db, timeout=1.0) as con:
        assert con.execute("SELECT count(*) FROM ingest_batches").fetchall() == [(-(-lines // 3),)]
        assert verify(con).ok


def test_a_dump_scattered_over_years_is_derived_whole_by_the_end_of_the_import(tmp_path):
    """Events years apart (a shuffled export, a broken clock): one batch queues the time ranges it does not
    derive with it (derive_pending.sql), and the import derives every one of them before it ends."""
    capture = SAMPLES / "distribution-2.8.2-htpasswd.events.jsonl"
    values = []
    for i, record in enumerate(event_records(capture, "default") * 5):  # 90: more ranges than derived at once
        event = json.loads(record.value)
        event["id"], event["timestamp"] = f"far-{i}", f"{2001 + 2 * i}-03-01T08:00:00Z"
        values.append(json.dumps(event).encode() + b"\n")
    (tmp_path / "events.jsonl").write_bytes(b"".join(values))
    db = tmp_path / "audit.duckdb"
    done = regaudit(db, "import", str(tmp_path / "events.jsonl"), "--kind", "event")
    assert summary(done)["stored"] == str(len(values)), done.stderr
    [(queued, derived)] = rows(db, "SELECT count(*), count(derived_by) FROM derive_pending")
    assert queued == len(values) - MAX_RANGES  # each event its own range; MAX_RANGES derived with the batch
    assert derived == queued
    verify = regaudit(db, "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
