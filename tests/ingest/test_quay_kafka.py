"""Quay's log forwarding through the real Kafka broker: messages produced as Quay's ``KafkaLogsProducer`` sends them
(no key, no headers, its JSON bytes, the entry's time as the message timestamp) on a topic of Quay's own, read by
`regaudit consume` beside its own topics (``quay.topics``) into the store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kafka import KafkaProducer

from regaudit.ingest import store
from tests.ingest import processes

pytestmark = [pytest.mark.kafka]
FIXTURES = Path(__file__).parents[1] / "fixtures" / "quay"


def produce_as_quay(bootstrap: str, topic: str, messages: list[dict]) -> None:
    """KafkaLogsProducer: ``KafkaProducer(bootstrap_servers, client_id, max_block_ms)``, then
    ``send(topic, <serialized entry>, timestamp_ms=epoch_ms(entry.datetime))``, each send awaited."""
    producer = KafkaProducer(bootstrap_servers=bootstrap.split(","), client_id="quay", max_block_ms=5000)
    try:
        for message in messages:
            future = producer.send(topic, message["value"].encode("ascii"), timestamp_ms=message["timestamp_ms"])
            future.get(timeout=30)
    finally:
        producer.close()


def query(db, sql):
    with store.reader(db, timeout=10) as con:
        return con.execute(sql).fetchall()


def test_quay_forwarded_logs_are_consumed_from_quays_topic(kafka_broker, kafka_topics, tmp_path):
    db = tmp_path / "audit.duckdb"
    topic = f"{kafka_topics.events}.quay"
    kafka_broker.create_topics([topic], partitions=1)
    lines = (FIXTURES / "forwarded-omr-v2.0.11.jsonl").read_text().splitlines()
    messages = [json.loads(line) for line in lines]
    broken = {"timestamp_ms": messages[0]["timestamp_ms"], "value": '{"random_id": "x", "kind_id": 97'}
    produce_as_quay(kafka_broker.bootstrap, topic, [*messages, broken, *messages])  # Quay's retries: stored once
    env = processes.regaudit_env(db, kafka_broker.bootstrap, kafka_topics,
                                 REGAUDIT_QUAY__TOPICS=json.dumps({topic: "quay-omr"}))  # fmt: skip
    consumer = processes.start(["consume", "--until-idle", "5"], env, tmp_path / "consume.log")
    assert consumer.wait(120) == 0, (tmp_path / "consume.log").read_text()

    assert query(db, "SELECT registry, registry_kind, count(*) FROM registry_events GROUP BY ALL") == [
        ("quay-omr", "quay", 4)
    ]
    activity = query(db, "SELECT action, counted_as, outcome, actor, client_addr, repository, tag, digest"
                         " FROM counted_activity ORDER BY occurred_at")  # fmt: skip
    assert activity == [
        ("login", "none", "success", None, "10.88.0.1", "", None, None),
        ("push", "push", None, "init", "10.88.0.1", "init/test-image", "v1", None),
        ("push", "push", None, "init", "10.88.0.1", "init/shared", "v1", None),
        ("push", "push", None, "init", "10.88.0.1", "init/shared", "v2", None),
    ]
    [(origin, reason)] = query(db, "SELECT origin, reason FROM dead_letters")
    assert origin.startswith(f"kafka:{topic}/0/")
    assert reason.startswith("not JSON")
