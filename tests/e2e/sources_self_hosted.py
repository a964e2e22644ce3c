"""Quay, Artifactory and GitLab's fixtures as their real transports deliver them, for ``tests/e2e/sources.py``:
Quay's log forwarding on a Kafka topic of its own (``quay.topics``, read by ``regaudit consume``), JFrog's webhook
and GitLab's Distribution-fork notifications POSTed to ``regaudit webhook``."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from kafka import KafkaAdminClient
from kafka.admin import NewTopic

from tests.e2e.wire import WEBHOOK_TOKEN, Wire
from tests.ingest.test_quay_kafka import produce_as_quay

FIXTURES = Path(__file__).parents[1] / "fixtures"
QUAY_REGISTRY, ARTIFACTORY_REGISTRY, GITLAB_REGISTRY = "quay-omr", "rt-prod", "gitlab"


def quay_settings(events_topic: str) -> dict[str, str]:
    """``regaudit consume`` reads Quay's own topic beside regaudit's."""
    return {"REGAUDIT_QUAY__TOPICS": json.dumps({f"{events_topic}.quay": QUAY_REGISTRY})}


def produce_quay_forwarded_logs(wire: Wire) -> None:
    """The forwarded entries as Quay's ``KafkaLogsProducer`` sends them, on a topic made for them."""
    [topic] = json.loads(wire.env["REGAUDIT_QUAY__TOPICS"])
    create_topic(wire, topic)
    lines = (FIXTURES / "quay" / "forwarded-omr-v2.0.11.jsonl").read_text().splitlines()
    produce_as_quay(wire.env["REGAUDIT_KAFKA__BOOTSTRAP_SERVERS"], topic, [json.loads(line) for line in lines])


def create_topic(wire: Wire, topic: str) -> None:
    """A source's own topic on the pipeline's broker (one partition, as the sources' own tests make it)."""
    admin = KafkaAdminClient(bootstrap_servers=wire.env["REGAUDIT_KAFKA__BOOTSTRAP_SERVERS"])
    try:
        admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        admin.close()


def post_artifactory_webhook(wire: Wire) -> None:
    """JFrog's documented Docker ``pushed`` event, its secret sent as is in ``X-JFrog-Event-Auth``."""
    body = (FIXTURES / "artifactory" / "docker-pushed.keel.json").read_bytes()
    headers = {"Content-Type": "application/json", "X-JFrog-Event-Auth": WEBHOOK_TOKEN}
    response = httpx.post(f"{wire.url}/events/artifactory/{ARTIFACTORY_REGISTRY}", content=body, headers=headers)
    assert response.status_code == 200, response.text


def post_gitlab_notifications(wire: Wire) -> None:
    """GitLab's container registry (a Distribution fork) notifying its push, as its spec's sample."""
    body = (FIXTURES / "gitlab" / "notifications-spec.push.json").read_bytes()
    headers = {"Authorization": f"Bearer {WEBHOOK_TOKEN}",
               "Content-Type": "application/vnd.docker.distribution.events.v1+json"}  # fmt: skip
    response = httpx.post(f"{wire.url}/events/{GITLAB_REGISTRY}", content=body, headers=headers)
    assert response.status_code == 200, response.text


def ship_artifactory_request_log(wire: Wire) -> None:
    """Artifactory's request log (``artifactory-request.log``) followed by ``regaudit ship-logs``, which tells it by
    its shape: the documented Docker pull line and JFrog's parser tests' lines."""
    log = wire.workdir / "artifactory-request.log"
    names = ("request-log.docs.log", "request-log.parser-tests.log", "request-log.helm-401.log")
    log.write_bytes(b"".join((FIXTURES / "artifactory" / name).read_bytes() for name in names))
    wire.ship(log)
