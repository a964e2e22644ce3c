"""A dead letter of the largest body the webhook accepts goes through the real Kafka broker and into the store
once, however often the registry retries it (issue 14, section 4). It got 503 on every retry: the record (the
1 MiB body plus its headers) was over kafka-python's default max_request_size and the topics' default
max.message.bytes, and each retry that did pass was stored again under its new Kafka offset."""

from __future__ import annotations

import contextlib
import uuid

import httpx
import pytest

from regaudit.ingest import store
from regaudit.ingest.sinks.kafka import max_message_bytes
from regaudit.settings import WebhookSettings
from tests.infra.fixtures import KafkaTopics
from tests.ingest import processes

pytestmark = [pytest.mark.kafka]
TOKEN = "limits-test-token-0123456789"  # noqa: S105 - a test token
MAX_BODY = WebhookSettings().max_body_bytes


def sized_topics(kafka_broker, max_message: int) -> KafkaTopics:
    """Fresh topics created the way docker-compose's kafka-init creates them: max.message.bytes from the limit."""
    prefix = f"t.limits-{uuid.uuid4().hex[:8]}"
    topics = KafkaTopics(f"{prefix}.events", f"{prefix}.access", f"{prefix}.deadletters", f"{prefix}.alerts")
    configs = {"max.message.bytes": str(max_message)}
    spec = {name: {"num_partitions": 3, "replication_factor": 1, "configs": configs} for name in topics.names}
    with contextlib.closing(kafka_broker.admin_client()) as admin:
        admin.create_topics(spec, wait_for_metadata=True)
    return topics


def post(url: str, body: bytes, path: str = "/events") -> int:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/octet-stream"}
    return httpx.post(url + path, content=body, headers=headers, timeout=60).status_code


def consume(env: dict, tmp_path) -> None:
    consumer = processes.start(["consume", "--until-idle", "3"], env, tmp_path / "consume.log")
    assert consumer.wait(180) == 0, (tmp_path / "consume.log").read_text()[-3000:]


def dead_letters(db) -> list[tuple[int, str]]:
    with store.reader(db, timeout=10) as con:
        return con.execute("SELECT octet_length(raw), reason FROM dead_letters ORDER BY 1").fetchall()


def test_a_max_size_malformed_post_is_accepted_by_the_broker_and_stored_once_however_often_retried(
    kafka_broker, tmp_path
):
    topics = sized_topics(kafka_broker, max_message_bytes(MAX_BODY))
    db = tmp_path / "audit.duckdb"
    env = processes.regaudit_env(db, kafka_broker.bootstrap, topics)
    body = b"\x00not json" + b"x" * (MAX_BODY - 9)
    with processes.webhook(env, tmp_path / "webhook.log", [TOKEN]) as url:
        assert [post(url, body) for _ in range(3)] == [200, 200, 200]  # was 503, 503, 503
        assert post(url, body + b"!") == 413
    consume(env, tmp_path)
    [(length, reason)] = dead_letters(db)
    assert length == MAX_BODY  # whole, and once
    assert reason.startswith("not JSON")


def test_a_retried_malformed_post_is_one_dead_letter_through_kafka(kafka_broker, kafka_topics, tmp_path):
    db = tmp_path / "audit.duckdb"
    env = processes.regaudit_env(db, kafka_broker.bootstrap, kafka_topics)
    with processes.webhook(env, tmp_path / "webhook.log", [TOKEN]) as url:
        assert [post(url, b'{"events": [{"id": 1}]') for _ in range(3)] == [200, 200, 200]
        assert post(url, b'{"events": [{"id": 1}]', "/events/other") == 200  # another registry's
    consume(env, tmp_path)
    assert [length for length, _ in dead_letters(db)] == [22, 22]  # was 4: each retry had its own Kafka offset


def test_a_record_a_default_sized_topic_refuses_is_kept_clipped_instead_of_a_503_for_ever(
    kafka_broker, kafka_topics, tmp_path
):
    db = tmp_path / "audit.duckdb"
    env = processes.regaudit_env(db, kafka_broker.bootstrap, kafka_topics)  # topics with the broker's 1 MiB
    body = b"[" + b"1," * (MAX_BODY // 2 - 1) + b"1"  # 1 MiB, not JSON (unterminated)
    with processes.webhook(env, tmp_path / "webhook.log", [TOKEN]) as url:
        assert post(url, body) == post(url, body) == 200
    consume(env, tmp_path)
    [(length, reason)] = dead_letters(db)
    assert length == 64 * 1024
    assert f"of {len(body)} bytes refused by the sink as too large" in reason
