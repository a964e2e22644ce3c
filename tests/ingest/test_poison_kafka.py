"""One bad record never stops ingestion, on a real Apache Kafka broker with the real consumer and webhook processes.

The poison is a record that passes validation and breaks the store write: a batch hook that raises on a marker
event (``poisoned_regaudit``: no known input does that after the time window, so the fault is injected at our own
seam, in the real program). Beside it go the original poisons, which validation now refuses: events timestamped
9999-12-31T23:59:59Z and 9999-12-31T23:59:59-23:59.
"""

from __future__ import annotations

import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from kafka import KafkaConsumer, TopicPartition

from regaudit.errors import StoreLocked
from tests.ingest import processes
from tests.ingest.poisoned_regaudit import MARKER
from tests.ingest.test_pipeline_kafka import count, produce, synthetic_events

pytestmark = [pytest.mark.kafka]
POISONED = [sys.executable, "-m", "tests.ingest.poisoned_regaudit"]
REPO = str(Path(__file__).resolve().parents[2])
TOKEN = "poison-test-token-0123456789"
GOOD = 10_000


def overflowing(event: bytes, timestamp: str, event_id: str) -> bytes:
    document = json.loads(event)
    document["timestamp"], document["id"] = timestamp, event_id
    return json.dumps(document).encode()


def stored(db: Path, sql: str = "SELECT count(*), count(DISTINCT event_id) FROM registry_events") -> tuple | None:
    """A row of the store, or none while the consumer holds the file."""
    try:
        return count(db, sql)
    except StoreLocked:
        return None


def committed_everything(bootstrap: str, group: str, topic: str) -> bool:
    """Whether the group's committed offsets reached the end of every partition of the topic."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        ends = consumer.end_offsets(partitions)
        return all((consumer.committed(tp) or 0) == ends[tp] for tp in partitions)
    finally:
        consumer.close()


def test_a_poison_record_among_10000_is_dead_lettered_and_the_consumer_keeps_running(
    kafka_broker, kafka_topics, tmp_path
):
    db = tmp_path / "audit.duckdb"
    good = synthetic_events(GOOD, "g")
    template = good[0]
    poison = overflowing(template, "2026-11-26T19:30:00Z", f"{MARKER}middle")  # valid, breaks the store write
    year_9999 = overflowing(template, "9999-12-31T23:59:59Z", "late-z")
    year_10000 = overflowing(template, "9999-12-31T23:59:59-23:59", "late-offset")  # year 10000 in UTC
    values = good[: GOOD // 2] + [poison, year_9999, year_10000] + good[GOOD // 2 :]
    produce(kafka_broker.bootstrap, kafka_topics.events, values)
    env = processes.regaudit_env(db, kafka_broker.bootstrap, kafka_topics, PYTHONPATH=REPO)
    log = tmp_path / "consume.log"

    consumer = processes.start(["consume"], env, log, program=POISONED)
    try:
        done = processes.wait_for(
            lambda: "stored" if stored(db) == (GOOD, GOOD) else "exited" if consumer.poll() is not None else None,
            240,
            "the 10,000 good events stored once",
        )
        assert done == "stored", log.read_text()[-3000:]  # before, the consumer exited on the batch's error
        processes.wait_for(
            lambda: committed_everything(
                kafka_broker.bootstrap, env["REGAUDIT_CONSUMER__GROUP_ID"], kafka_topics.events
            ),
            60,
            "the offsets of every partition committed",
        )
        assert consumer.poll() is None, log.read_text()[-3000:]  # still running, never restarted
        dead = count(db, "SELECT list(origin ORDER BY reason), list(reason ORDER BY reason) FROM dead_letters")
    finally:
        assert processes.stop(consumer) == 0, log.read_text()[-3000:]

    origins, reasons = dead
    assert reasons == [
        "event timestamp 9999-12-31T23:59:59-23:59 outside 2000-01-01..2200-01-01",
        "event timestamp 9999-12-31T23:59:59Z outside 2000-01-01..2200-01-01",
        "store write failed on this record alone: PoisonError: a marker record reached the batch hooks",
    ]
    assert all(o.startswith(f"kafka:{kafka_topics.events}/") for o in origins)
    poisoned_at = count(db, "SELECT raw FROM dead_letters WHERE starts_with(reason, 'store write failed')")[0]
    assert json.loads(poisoned_at)["id"] == f"{MARKER}middle"
    assert count(db) == (GOOD, GOOD)
    assert "isolated=1" in log.read_text()


def test_the_webhooks_store_sink_answers_200_to_every_request_beside_a_poisoned_one(tmp_path):
    db = tmp_path / "audit.duckdb"
    env = processes.regaudit_env(db, PYTHONPATH=REPO)
    events = [json.loads(e) for e in synthetic_events(40, "w")]
    events[20]["id"] = f"{MARKER}webhook"
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    log = tmp_path / "webhook.log"
    with (
        processes.webhook(env, log, [TOKEN], sink="duckdb", program=POISONED) as url,
        httpx.Client(timeout=60) as client,
        ThreadPoolExecutor(8) as pool,  # concurrent POSTs are group-committed: the poisoned one shares a transaction
    ):
        posted = [pool.submit(client.post, url + "/events", content=json.dumps({"events": [e]}), headers=headers)
                  for e in events]  # fmt: skip
        codes = [future.result().status_code for future in posted]
        metrics = client.get(url + "/metrics").text
    assert codes == [200] * 40, log.read_text()[-3000:]
    assert count(db) == (39, 39)
    (origin,) = count(db, "SELECT origin FROM dead_letters")
    assert origin.startswith("webhook:")
    assert 'regaudit_isolated_records_total{error="PoisonError"} 1' in metrics
