"""Notification ingest: events from a real Kafka topic into DuckDB through ``regaudit consume``.

Baselines, same events, same run:
  (a) DuckDB's own ``read_json`` of the events as newline-delimited JSON into the same ``registry_events``
      table: the practical limit (it does less: no validation, no dead letters, no derived tables, no raw copy);
  (b) a straightforward consumer: kafka-python, ``json.loads`` per message, one INSERT per row, what a user
      would write first; timed on the first ``--naive-sample`` messages and reported as a rate.
Two floors are measured too, with the consumer's fetch sizes: kafka-python alone reading every message and
doing nothing with it (``regaudit consume`` polls with the same client), and kafka-python handing each batch
to ``read_json`` into the same table, one after the other: a consumer with no validation, dead letters, derived
tables, hash chain or raw copy.

    .venv/bin/python bench/ingest_events.py --events 1000000
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    empty_store,
    events_file,
    kafka_broker,
    produce_file,
    record,
    regaudit_env,
    run_process,
    timed,
    timed_statement,
)

from regaudit.ingest import store  # noqa: E402

READ_JSON_INSERT = """
INSERT INTO registry_events (registry, event_id, event_at, action, target_kind, repository, tag, digest,
    media_type, size_bytes, from_repository, url, request_id, http_method, client_addr, request_host, user_agent,
    actor, source_addr, source_instance, envelope_type, received_at, origin, batch_id, raw)
SELECT 'bench', id, "timestamp"::TIMESTAMPTZ, action,
       CASE WHEN target.mediaType = 'application/octet-stream' THEN 'blob' ELSE 'manifest' END,
       target.repository, target.tag, target.digest, target.mediaType, target.size, target.fromRepository,
       target.url, request.id, request.method, request.addr, request.host, request.useragent, actor.name,
       source.addr, source.instanceID, NULL, now(), 'bench', 1, '{}'
FROM read_json($path, format = 'newline_delimited', columns = {
    id: 'VARCHAR', "timestamp": 'VARCHAR', action: 'VARCHAR',
    target: 'STRUCT(mediaType VARCHAR, digest VARCHAR, size BIGINT, repository VARCHAR, tag VARCHAR,
                    fromRepository VARCHAR, url VARCHAR)',
    request: 'STRUCT(id VARCHAR, addr VARCHAR, host VARCHAR, method VARCHAR, useragent VARCHAR)',
    actor: 'STRUCT(name VARCHAR)', source: 'STRUCT(addr VARCHAR, instanceID VARCHAR)'})
"""

#: the columns the naive consumer writes, named so that a column a later schema adds cannot shift them
NAIVE_COLUMNS = (
    "registry, event_id, event_at, action, target_kind, repository, tag, digest, media_type, size_bytes, "
    "from_repository, url, request_id, http_method, client_addr, request_host, user_agent, actor, source_addr, "
    "source_instance, received_at, origin, batch_id, raw"
)
NAIVE_PLACEHOLDERS = ", ".join("?" for _ in NAIVE_COLUMNS.split(","))
NAIVE_INSERT = f"INSERT INTO registry_events ({NAIVE_COLUMNS}) VALUES ({NAIVE_PLACEHOLDERS})"  # noqa: S608


def read_json_baseline(events: Path, work: Path) -> float:
    return timed_statement(work / "read_json.duckdb", READ_JSON_INSERT, {"path": str(events)})


def naive_row(value: bytes) -> list[object]:
    """The NAIVE_INSERT values of one message: ``json.loads`` and a lookup per field."""
    e = json.loads(value)
    t, r, a, s = e.get("target", {}), e.get("request", {}), e.get("actor", {}), e.get("source", {})
    return [
        "bench", e["id"], e["timestamp"], e["action"], "manifest", t.get("repository"), t.get("tag"), t.get("digest"),
        t.get("mediaType"), t.get("size"), t.get("fromRepository"), t.get("url"), r.get("id"), r.get("method"),
        r.get("addr"), r.get("host"), r.get("useragent"), a.get("name"), s.get("addr"), s.get("instanceID"),
        "2026-01-01T00:00:00Z", "naive", 1, value.decode(),
    ]  # fmt: skip


def naive_baseline(bootstrap: str, topic: str, work: Path, sample: int) -> float:
    """Seconds per event of the straightforward consumer, over its first ``sample`` messages."""
    from kafka import KafkaConsumer

    con = empty_store(work / "naive.duckdb")
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id="naive")
    done = 0
    started = time.perf_counter()
    try:
        for message in consumer:
            con.execute(NAIVE_INSERT, naive_row(message.value))
            done += 1
            if done == sample:
                break
    finally:
        consumer.close()
        con.close()
    return (time.perf_counter() - started) / done


def kafka_floor(bootstrap: str, topic: str, count: int, work: Path | None = None) -> tuple[float, float]:
    """Seconds for kafka-python to hand over ``count`` messages, from the first to the last, with the consumer's
    fetch sizes. With ``work``, each polled batch is also stored by DuckDB's ``read_json`` into the same table
    (through a file under ``work``), one batch after the other: the least a kafka-python → DuckDB consumer does.
    Returns (seconds in all, seconds of them in DuckDB): perfectly overlapped, the two parts still take the
    longer of the two."""
    from kafka import KafkaConsumer

    con = empty_store(work / "floor.duckdb") if work is not None else None
    consumer = KafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=f"floor-{work is not None}",
        enable_auto_commit=False, max_partition_fetch_bytes=8 * 1024 * 1024, fetch_max_bytes=64 * 1024 * 1024,
    )  # fmt: skip
    seen, started, in_duckdb = 0, 0.0, 0.0
    try:
        while seen < count:
            polled = consumer.poll(timeout_ms=1000, max_records=25_000)
            if polled and not started:
                started = time.perf_counter()
            batch = [message.value for messages in polled.values() for message in messages]
            seen += len(batch)
            if con is not None and work is not None and batch:
                chunk = work / "floor-batch.jsonl"
                chunk.write_bytes(b"\n".join(batch) + b"\n")
                with timed() as insert:
                    con.execute(READ_JSON_INSERT, {"path": str(chunk)})
                in_duckdb += insert.seconds
    finally:
        consumer.close()
        if con is not None:
            con.close()
    return time.perf_counter() - started, in_duckdb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--naive-sample", type=int, default=5_000)
    parser.add_argument("--idle", type=float, default=3.0, help="consumer's --until-idle (subtracted)")
    parser.add_argument("--batch", type=int, default=None, help="consumer.batch_max_records (default: the setting's)")
    args = parser.parse_args()
    events = events_file(args.events)
    size = events.stat().st_size
    with tempfile.TemporaryDirectory(prefix="regaudit-bench-") as tmp, kafka_broker() as broker:
        work = Path(tmp)
        topic = "bench.events"
        broker.create_topics([topic], partitions=3)
        produce_seconds = produce_file(broker.bootstrap, topic, events)
        baseline_seconds = read_json_baseline(events, work)
        env = regaudit_env(
            REGAUDIT_STORE__PATH=str(work / "regaudit.duckdb"),
            REGAUDIT_KAFKA__BOOTSTRAP_SERVERS=broker.bootstrap,
            REGAUDIT_KAFKA__EVENTS_TOPIC=topic,
            REGAUDIT_CONSUMER__GROUP_ID="bench",
        )
        if args.batch:
            env["REGAUDIT_CONSUMER__BATCH_MAX_RECORDS"] = str(args.batch)
        wall, peak, output = run_process(
            [sys.executable, "-m", "regaudit.cli", "--log-level", "WARNING", "consume", "--until-idle", str(args.idle)],
            env,
        )
        consume_seconds = wall - args.idle
        with store.reader(work / "regaudit.duckdb") as con:
            stored = con.execute("SELECT count(*) FROM registry_events").fetchall()[0][0]
        naive_per_event = naive_baseline(broker.bootstrap, topic, work, args.naive_sample)
        floor_seconds, _ = kafka_floor(broker.bootstrap, topic, args.events)
        minimal_seconds, minimal_duckdb_seconds = kafka_floor(broker.bootstrap, topic, args.events, work)
        overlapped = max(minimal_duckdb_seconds, minimal_seconds - minimal_duckdb_seconds)
    regaudit_rate = stored / consume_seconds
    record(
        "ingest_events",
        {
            "events": args.events,
            "batch_max_records": args.batch or "default",
            "bytes_per_event": round(size / args.events),
            "stored": stored,
            "kcat_produce_seconds": round(produce_seconds, 2),
            "regaudit_consume_seconds": round(consume_seconds, 2),
            "regaudit_events_per_second": round(regaudit_rate),
            "regaudit_peak_rss_mib": round(peak / 2**20),
            "read_json_seconds": round(baseline_seconds, 2),
            "read_json_events_per_second": round(args.events / baseline_seconds),
            "naive_events_per_second": round(1 / naive_per_event),
            "ratio_vs_read_json": round(regaudit_rate / (args.events / baseline_seconds), 3),
            "ratio_vs_naive": round(regaudit_rate * naive_per_event, 1),
            "kafka_python_floor_events_per_second": round(args.events / floor_seconds),
            "ratio_floor_vs_read_json": round(baseline_seconds / floor_seconds, 3),
            "kafka_read_json_events_per_second": round(args.events / minimal_seconds),
            "ratio_kafka_read_json_vs_read_json": round(baseline_seconds / minimal_seconds, 3),
            "kafka_read_json_duckdb_seconds": round(minimal_duckdb_seconds, 2),
            "ratio_kafka_read_json_overlapped_vs_read_json": round(baseline_seconds / overlapped, 3),
            "consumer_output": next(
                (line for line in output.splitlines() if line.startswith("batches=")), output.strip()[-300:]
            ),
        },
    )


if __name__ == "__main__":
    main()
