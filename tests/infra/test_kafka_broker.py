"""The test broker is a real Kafka: kafka-python and kcat both use it; acknowledged data survives a crash."""

from __future__ import annotations

import contextlib
import subprocess
import time
import uuid

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from tests.infra.fixtures import PARTITIONS, SHARED_TOPICS, KafkaTopics
from tests.infra.kafka import KafkaBroker

pytestmark = pytest.mark.kafka

Record = tuple[bytes, bytes]


def produce(bootstrap: str, topic: str, records: list[Record]) -> None:
    """Sends with acks=all and waits for every acknowledgement."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    with contextlib.closing(producer):
        futures = [producer.send(topic, key=key, value=value) for key, value in records]
        producer.flush(timeout=30)
        for future in futures:
            metadata = future.get(timeout=30)
            assert metadata.offset >= 0


def consume(bootstrap: str, topic: str, group: str, expected: int, timeout: float = 30.0) -> list[Record]:
    """Reads `expected` records in a consumer group, commits them and returns them."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    received: list[Record] = []
    with contextlib.closing(consumer):
        deadline = time.monotonic() + timeout
        while len(received) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                received.extend((message.key, message.value) for message in batch)
        consumer.commit()
    return received


def committed_total(bootstrap: str, topic: str, group: str) -> int:
    """The sum of the group's committed offsets over the topic's partitions."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    with contextlib.closing(consumer):
        return sum(consumer.committed(TopicPartition(topic, p)) or 0 for p in range(PARTITIONS))


def sample_records(count: int) -> list[Record]:
    return [(f"repo-{i % 7}".encode(), f"event-{i}-{uuid.uuid4().hex}".encode()) for i in range(count)]


def test_broker_listens_on_loopback_with_the_production_topics(kafka_broker: KafkaBroker) -> None:
    assert kafka_broker.bootstrap.startswith("127.0.0.1:")
    with contextlib.closing(kafka_broker.admin_client()) as admin:
        topics = {topic["name"]: topic for topic in admin.describe_topics(list(SHARED_TOPICS))}
    assert set(topics) == set(SHARED_TOPICS)
    assert all(len(topic["partitions"]) == PARTITIONS for topic in topics.values())


def test_records_acknowledged_with_acks_all_reach_a_consumer_group(
    kafka_broker: KafkaBroker, kafka_topics: KafkaTopics
) -> None:
    records = sample_records(200)
    produce(kafka_broker.bootstrap, kafka_topics.events, records)

    received = consume(kafka_broker.bootstrap, kafka_topics.events, "group-a", expected=len(records))

    assert sorted(received) == sorted(records)
    assert committed_total(kafka_broker.bootstrap, kafka_topics.events, "group-a") == len(records)
    assert consume(kafka_broker.bootstrap, kafka_topics.events, "group-a", expected=1, timeout=2) == []


def test_kcat_reads_what_kafka_python_produced(kafka_broker: KafkaBroker, kafka_topics: KafkaTopics) -> None:
    records = sample_records(50)
    produce(kafka_broker.bootstrap, kafka_topics.access, records)

    command = ["kcat", "-C", "-b", kafka_broker.bootstrap, "-t", kafka_topics.access, "-o", "beginning", "-e"]
    result = subprocess.run([*command, "-q", "-f", "%k %s\n"], capture_output=True, check=True, timeout=60, text=True)

    lines = sorted(tuple(line.split(" ")) for line in result.stdout.splitlines())
    assert lines == sorted((key.decode(), value.decode()) for key, value in records)


def test_kafka_python_reads_what_kcat_produced(kafka_broker: KafkaBroker, kafka_topics: KafkaTopics) -> None:
    lines = [f"repo-{i}:dead-letter-{i}" for i in range(20)]
    command = ["kcat", "-P", "-b", kafka_broker.bootstrap, "-t", kafka_topics.deadletters, "-K", ":"]
    subprocess.run(
        [*command, "-X", "acks=all"],
        input="\n".join(lines) + "\n",
        check=True,
        timeout=60,
        text=True,
    )

    received = consume(kafka_broker.bootstrap, kafka_topics.deadletters, "group-kcat", expected=len(lines))

    assert sorted(f"{key.decode()}:{value.decode()}" for key, value in received) == sorted(lines)


def test_acknowledged_records_and_committed_offsets_survive_kill_and_restart(
    kafka_broker: KafkaBroker, kafka_topics: KafkaTopics
) -> None:
    before, after = sample_records(100), sample_records(100)
    produce(kafka_broker.bootstrap, kafka_topics.events, before)
    consumed = consume(kafka_broker.bootstrap, kafka_topics.events, "group-crash", expected=len(before))
    assert sorted(consumed) == sorted(before)
    produce(kafka_broker.bootstrap, kafka_topics.events, after)
    port = kafka_broker.port
    try:
        kafka_broker.kill()
        assert not kafka_broker.running
        kafka_broker.restart()
    finally:
        if not kafka_broker.running:
            kafka_broker.start()

    assert kafka_broker.port == port
    assert committed_total(kafka_broker.bootstrap, kafka_topics.events, "group-crash") == len(before)
    rest = consume(kafka_broker.bootstrap, kafka_topics.events, "group-crash", expected=len(after))
    assert sorted(rest) == sorted(after)
    everything = consume(kafka_broker.bootstrap, kafka_topics.events, "group-fresh", expected=200)
    assert sorted(everything) == sorted(before + after)
