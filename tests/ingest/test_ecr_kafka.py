"""ECR's EventBridge events through the real processes: an API destination's POSTs to `regaudit webhook`
(`/events/ecr/<instance>`) and a bridge writing to Kafka itself (the registry-kind header), ▶ the real broker ▶
`regaudit consume` ▶ DuckDB."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from kafka import KafkaProducer

from regaudit.ingest import store
from tests.ingest import processes

pytestmark = [pytest.mark.kafka]
TOKEN = "ecr-eventbridge-token-0123"  # noqa: S105 - an API destination's connection sends it as a bearer token
FIXTURES = Path(__file__).parents[1] / "fixtures" / "ecr"
#: what an EventBridge rule on source aws.ecr sends, and a CloudTrail record of another service (a dead letter)
POSTS = ["eventbridge_image_push", "eventbridge_image_scan", "eventbridge_image_delete",
         "eventbridge_scan_resource_change", "cloudtrail_kms_create_grant"]  # fmt: skip


def post(url: str) -> list[int]:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    with httpx.Client(timeout=30) as client:
        return [client.post(f"{url}/events/ecr/ecr-prod", content=(FIXTURES / f"{name}.json").read_bytes(),
                            headers=headers).status_code for name in POSTS]  # fmt: skip


def produce(bootstrap: str, topic: str) -> None:
    """The guide's PutImage record as EventBridge forwards a CloudTrail call, written by a bridge with the headers
    regaudit's own producer sets (sinks/kafka.py record_headers)."""
    record = json.loads((FIXTURES / "cloudtrail_put_image.json").read_bytes())
    event = {"version": "0", "id": "597eb076-4eb8-4d4b-b019-203b18a55cce", "detail-type": "AWS API Call via CloudTrail",
             "source": "aws.ecr", "account": "123456789012", "time": "2019-04-15T16:45:00Z", "region": "us-east-2",
             "resources": [], "detail": record}  # fmt: skip
    headers = [("regaudit-kind", b"event"), ("regaudit-registry", b"ecr-prod"), ("regaudit-registry-kind", b"ecr")]
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        producer.send(topic, json.dumps(event).encode(), key=b"testrepo", headers=headers).get(30)
    finally:
        producer.close()


def query(db, sql):
    with store.reader(db, timeout=10) as con:
        return con.execute(sql).fetchall()


def test_eventbridge_events_over_http_and_kafka_land_in_the_store(kafka_broker, kafka_topics, tmp_path):
    db = tmp_path / "audit.duckdb"
    env = processes.regaudit_env(db, kafka_broker.bootstrap, kafka_topics)
    with processes.webhook(env, tmp_path / "webhook.log", [TOKEN]) as url:
        assert post(url) == [200] * len(POSTS)
        assert post(url) == [200] * len(POSTS)  # EventBridge retries: stored once
        assert httpx.post(f"{url}/events/ecr/ecr-prod", content=b"{}").status_code == 401
    produce(kafka_broker.bootstrap, kafka_topics.events)
    consumer = processes.start(["consume", "--until-idle", "3"], env, tmp_path / "consume.log")
    assert consumer.wait(120) == 0, (tmp_path / "consume.log").read_text()

    rows = query(db, "SELECT action, target_kind, repository, tag, actor FROM registry_events"
                     " WHERE registry = 'ecr-prod' AND registry_kind = 'ecr' ORDER BY event_at, action")  # fmt: skip
    assert rows == [
        ("push", "manifest", "testrepo", "latest", "arn:aws:sts::123456789012:user/Mary_Major"),  # via Kafka
        ("ecr_image_scan", "artifact", "my-repository-name", None, None),
        ("push", "manifest", "my-repository-name", "latest", None),
        ("delete", "tag", "my-repository-name", "latest", None),
        ("ecr_scan_resource_change", "artifact", "", None, None),
    ]
    counted = query(db, "SELECT action, counted_as::VARCHAR FROM counted_activity WHERE registry = 'ecr-prod'"
                        " ORDER BY occurred_at")  # fmt: skip
    assert counted == [("push", "push"), ("push", "push"), ("delete", "delete")]
    dead = query(db, "SELECT source, reason FROM dead_letters")
    assert dead == [("receiver", "not an ECR record: eventSource 'kms.amazonaws.com'")]
