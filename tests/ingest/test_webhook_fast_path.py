"""The webhook's serial path (issue 19): once the producer has delivered to a topic, a POST's records are sent from
the event loop and answered when Kafka's I/O thread reports the acks; the first POST, and any after a failure, go
through a worker thread as before. The contract stays: 200 only after acks=all, 503 when an ack fails, a clipped
dead letter for a record the broker refuses for its size."""

from __future__ import annotations

import contextlib
import json
import uuid
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from kafka import KafkaConsumer
from kafka.errors import KafkaConnectionError
from kafka.future import Future

from regaudit.errors import BrokerUnavailable
from regaudit.ingest.receive.webhook import create_app
from regaudit.ingest.records import RawRecord
from regaudit.ingest.sinks.kafka import KafkaRecordSink
from regaudit.settings import KafkaSettings, WebhookSettings
from tests.infra.fixtures import KafkaTopics
from tests.samples import SAMPLES, posts

CAPTURE = posts(SAMPLES / "distribution-2.8.2-htpasswd.events.jsonl")
TOKEN = "fast-path-token-0123456789"  # noqa: S105 - a test token
V1 = "application/vnd.docker.distribution.events.v1+json"


class Recording(KafkaRecordSink):
    """The real sink, noting for each POST whether it was sent from the event loop."""

    def __init__(self, settings: KafkaSettings, max_value_bytes: int) -> None:
        super().__init__(settings, max_value_bytes)
        self.from_loop: list[bool] = []

    def send_nowait(self, records, on_done):
        sent = super().send_nowait(records, on_done)
        self.from_loop.append(sent is not None)
        return sent


def settings_for(bootstrap: str, topics: KafkaTopics) -> KafkaSettings:
    return KafkaSettings(
        bootstrap_servers=bootstrap, events_topic=topics.events, deadletter_topic=topics.deadletters,
        access_topic=topics.access, request_timeout_seconds=10,
    )  # fmt: skip


def values(bootstrap: str, topic: str, count: int) -> list[bytes]:
    consumer = KafkaConsumer(
        topic, bootstrap_servers=[bootstrap], auto_offset_reset="earliest", consumer_timeout_ms=10_000
    )
    with contextlib.closing(consumer):
        found = []
        for message in consumer:
            found.append(message.value)
            if len(found) == count:
                break
        return found


def post(client: TestClient, body: bytes) -> dict[str, object]:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": V1}
    response = client.post("/events", content=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.kafka
def test_posts_after_the_first_are_sent_from_the_event_loop_and_answered_once_acknowledged(kafka_broker, kafka_topics):
    sink = Recording(settings_for(kafka_broker.bootstrap, kafka_topics), 1_048_576)
    settings = WebhookSettings(tokens=[TOKEN], registry="main")
    bodies = [json.dumps(capture["body"]).encode() for capture in CAPTURE[:3]]
    try:
        with TestClient(create_app(settings, sink)) as client:
            answers = [post(client, body) for body in bodies]
    finally:
        sink.close()
    assert [answer["accepted"] for answer in answers] == [1, 1, 1]
    assert sink.from_loop == [False, True, True]  # the first learns the topic's metadata in a worker thread
    stored = [json.loads(value) for value in values(kafka_broker.bootstrap, kafka_topics.events, 3)]
    assert sorted(event["id"] for event in stored) == sorted(c["body"]["events"][0]["id"] for c in CAPTURE[:3])


@pytest.mark.kafka
def test_a_record_the_broker_refuses_for_its_size_on_the_fast_path_is_kept_clipped(kafka_broker):
    prefix = f"t.fast-size-{uuid.uuid4().hex[:8]}"
    topics = KafkaTopics(f"{prefix}.events", f"{prefix}.access", f"{prefix}.deadletters", f"{prefix}.alerts")
    spec = {name: {"num_partitions": 1, "replication_factor": 1, "configs": {"max.message.bytes": "100000"}}
            for name in topics.names}  # fmt: skip
    with contextlib.closing(kafka_broker.admin_client()) as admin:
        admin.create_topics(spec, wait_for_metadata=True)
    sink = Recording(settings_for(kafka_broker.bootstrap, topics), 1_048_576)
    settings = WebhookSettings(tokens=[TOKEN], registry="main")
    try:
        with TestClient(create_app(settings, sink)) as client:
            post(client, b"not json: a dead letter, so the dead-letter topic is known")
            answer = post(client, b"x" * 300_000)  # over the topic's limit, under the webhook's
    finally:
        sink.close()
    assert answer["dead_letters"] == 1
    assert sink.from_loop[:2] == [False, True]  # refused after a send from the loop, then clipped in a thread
    first, clipped = values(kafka_broker.bootstrap, topics.deadletters, 2)
    assert first.startswith(b"not json")
    assert clipped == b"x" * 64 * 1024


class FailingProducer:
    """A producer whose sends fail as a lost connection fails them, after send() returned."""

    closed = False

    def send(self, topic, value, key, headers):
        future = Future()
        future.failure(KafkaConnectionError("connection lost"))
        return future

    def close(self, timeout):
        self.closed = True


def test_a_failed_ack_on_the_fast_path_is_a_broker_failure_and_the_next_post_starts_afresh():
    sink = KafkaRecordSink(KafkaSettings())
    failing = sink._producer = FailingProducer()  # type: ignore[assignment]
    sink._ready.add(sink.topics["event"])
    record = RawRecord("event", b"{}", "webhook:1", datetime.now(UTC), registry="main", key="k")
    done: list[bool] = []

    sent = sink.send_nowait([("team/app", record)], lambda: done.append(True))
    assert sent is not None
    assert done == [True]
    with pytest.raises(BrokerUnavailable, match="connection lost"):
        sink.settle(sent, [("team/app", record)])
    assert failing.closed
    assert sink._producer is None
    assert sink.send_nowait([("team/app", record)], lambda: None) is None  # a thread creates the next producer
