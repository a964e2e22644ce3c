"""Kafka as docker-compose.yml deploys it, on the real broker: deploy/kafka/server.properties (SASL/SCRAM-SHA-512,
StandardAuthorizer), the credentials from deploy/init-secrets.sh, the users, topics and ACLs from the kafka-init
script. regaudit's webhook and consumer, as processes, deliver with their own credentials; a wrong password or
no SASL at all is refused; each client's credentials do only what its ACLs allow: the consumer's cannot forge
events, the webhook's and the shipper's cannot read, and nobody else can reset the consumer group's offsets."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, OffsetAndMetadata, TopicPartition
from kafka.admin import (
    ACLFilter,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    ResourcePatternFilter,
    ResourceType,
)
from kafka.errors import GroupAuthorizationFailedError, KafkaTimeoutError, TopicAuthorizationFailedError

from tests.deploy.compose import INIT_SECRETS, load_toml
from tests.infra.kafka import kafka_libs
from tests.infra.kafka_sasl import ADMIN, CLIENT_USERS, MECHANISM, SaslKafkaBroker, client_options, run_kafka_init
from tests.ingest import processes
from tests.ingest.test_pipeline_kafka import TOKEN, count, post_capture

pytestmark = [pytest.mark.kafka]

SETTINGS = load_toml()["kafka"]
EVENTS, ACCESS = SETTINGS["events_topic"], SETTINGS["access_topic"]
DEADLETTERS, ALERTS = SETTINGS["deadletter_topic"], "registry.alerts"
GROUP = load_toml()["consumer"]["group_id"]

#: what kafka-init must grant, and nothing more: (user, resource type, name, operation)
GRANTED = {
    *(("webhook", ResourceType.TOPIC, t, op) for t in (EVENTS, DEADLETTERS) for op in ("WRITE", "DESCRIBE")),
    *(("shipper", ResourceType.TOPIC, ACCESS, op) for op in ("WRITE", "DESCRIBE")),
    *(("consumer", ResourceType.TOPIC, t, op) for t in (EVENTS, ACCESS, DEADLETTERS) for op in ("READ", "DESCRIBE")),
    *(("consumer", ResourceType.GROUP, GROUP, op) for op in ("READ", "DESCRIBE")),
    *(("consumer", ResourceType.TOPIC, ALERTS, op) for op in ("WRITE", "DESCRIBE")),
}


@dataclass(frozen=True)
class Deployment:
    broker: SaslKafkaBroker
    secrets: Path
    passwords: dict[str, str]

    def options(self, user: str, password: str | None = None) -> dict[str, Any]:
        return client_options(self.broker.bootstrap, user, self.passwords[user] if password is None else password)

    def env(self, db: Path, user: str, password_file: Path | None = None, **extra: str) -> dict[str, str]:
        """A regaudit process's environment as docker-compose.yml sets it for the service of ``user``."""
        return processes.regaudit_env(
            db,
            self.broker.bootstrap,
            REGAUDIT_KAFKA__SECURITY_PROTOCOL=SETTINGS["security_protocol"],
            REGAUDIT_KAFKA__SASL_MECHANISM=SETTINGS["sasl_mechanism"],
            REGAUDIT_KAFKA__SASL_USERNAME=user,
            REGAUDIT_KAFKA__SASL_PASSWORD_FILE=str(password_file or self.secrets / f"kafka_{user}_password"),
            **extra,
        )


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("kafka-sasl")
    secrets = root / "secrets"
    environment = {"SECRETS_DIR": str(secrets), "ENV_FILE": str(root / ".env"), "REGISTRY_HOSTNAME": "kafka.test"}
    subprocess.run([str(INIT_SECRETS)], check=True, capture_output=True, env={**os.environ, **environment})
    passwords = {user: (secrets / f"kafka_{user}_password").read_text().strip() for user in (ADMIN, *CLIENT_USERS)}
    broker = SaslKafkaBroker(kafka_libs(), root / "broker", admin_password=passwords[ADMIN])
    try:
        broker.start()
        init = run_kafka_init(broker, secrets, root / "kafka-init")
        assert init.returncode == 0, init.stdout + init.stderr
        yield Deployment(broker, secrets, passwords)
    finally:
        broker.stop()


def produce(options: dict[str, Any], topic: str) -> int:
    producer = KafkaProducer(**options, acks="all", max_block_ms=10_000, request_timeout_ms=10_000)
    try:
        offset: int = producer.send(topic, b'{"forged": true}').get(timeout=20).offset
        return offset
    finally:
        producer.close(timeout=0)


def test_kafka_init_creates_each_user_its_topics_and_exactly_its_acls(deployment: Deployment) -> None:
    with contextlib.closing(deployment.broker.admin_client()) as admin:
        users = admin.describe_user_scram_credentials(list(CLIENT_USERS))
        topics = set(admin.list_topics())
        everything = ACLFilter(
            None,
            None,
            ACLOperation.ANY,
            ACLPermissionType.ANY,
            ResourcePatternFilter(ResourceType.ANY, None, ACLResourcePatternType.ANY),
        )
        acls, _ = admin.describe_acls(everything)

    for user in CLIENT_USERS:
        assert users[user]["error"] is None, user
        assert [info["mechanism"].name for info in users[user]["credential_infos"]] == [MECHANISM.replace("-", "_")]
    assert {EVENTS, ACCESS, DEADLETTERS, ALERTS} <= topics
    granted = {
        (
            acl.principal.removeprefix("User:"),
            acl.resource_pattern.resource_type,
            acl.resource_pattern.resource_name,
            acl.operation.name,
        )
        for acl in acls
    }
    assert granted == GRANTED
    assert {acl.permission_type for acl in acls} == {ACLPermissionType.ALLOW}
    assert {acl.resource_pattern.pattern_type for acl in acls} == {ACLResourcePatternType.LITERAL}


def test_the_webhook_and_the_consumer_deliver_end_to_end_with_their_own_credentials(
    deployment: Deployment, tmp_path: Path
) -> None:
    db = tmp_path / "audit.duckdb"
    with processes.webhook(deployment.env(db, "webhook"), tmp_path / "webhook.log", [TOKEN]) as url:
        assert post_capture(url) == [200] * 18
        assert httpx.get(url + "/healthz", timeout=30).status_code == 200  # the compose health check
    consumer = processes.start(["consume", "--until-idle", "3"], deployment.env(db, "consumer"), tmp_path / "c.log")
    assert consumer.wait(180) == 0, (tmp_path / "c.log").read_text()[-3000:]
    assert count(db) == (18, 18)


def test_the_webhook_with_a_wrong_password_answers_503_and_the_broker_says_why(
    deployment: Deployment, tmp_path: Path
) -> None:
    wrong = tmp_path / "kafka_password"
    wrong.write_text("not-" + deployment.passwords["webhook"] + "\n")
    env = deployment.env(tmp_path / "audit.duckdb", "webhook", wrong, REGAUDIT_KAFKA__REQUEST_TIMEOUT_SECONDS="2")
    refused_before = len(deployment.broker.refusals())
    port = processes.free_port()
    webhook = processes.start(
        ["webhook", "--port", str(port)], env | {"REGAUDIT_WEBHOOK__TOKENS": f'["{TOKEN}"]'}, tmp_path / "webhook.log"
    )
    try:
        url = f"http://127.0.0.1:{port}"
        processes.wait_for(lambda: _listening(port), 30, "the webhook listens")
        assert httpx.get(url + "/healthz", timeout=30).status_code == 503
        # each refusal waits out the 2-s produce timeout: two show it (all 18 took 36 s of CI)
        assert post_capture(url, limit=2) == [503, 503]  # the registry keeps the events and retries
    finally:
        processes.stop(webhook)
    refused = deployment.broker.refusals()[refused_before:]
    assert refused
    assert all("invalid credentials with SASL mechanism SCRAM-SHA-512" in line for line in refused)


@pytest.mark.parametrize("user", CLIENT_USERS)
def test_a_wrong_password_is_refused_by_the_broker(deployment: Deployment, user: str) -> None:
    refused_before = len(deployment.broker.refusals())
    with pytest.raises(KafkaTimeoutError, match="Unable to bootstrap"):
        KafkaAdminClient(**deployment.options(user, "not-" + deployment.passwords[user]), bootstrap_timeout_ms=3000)
    refused = deployment.broker.refusals()[refused_before:]
    assert refused
    assert all("invalid credentials with SASL mechanism SCRAM-SHA-512" in line for line in refused)


def test_a_client_without_sasl_is_refused(deployment: Deployment) -> None:
    refused_before = len(deployment.broker.refusals())
    with pytest.raises(KafkaTimeoutError, match="Unable to bootstrap"):
        KafkaAdminClient(bootstrap_servers=deployment.broker.bootstrap, bootstrap_timeout_ms=3000)
    refused = deployment.broker.refusals()[refused_before:]
    assert refused
    assert all("Unexpected Kafka request of type METADATA during SASL handshake" in line for line in refused)
    with contextlib.closing(KafkaAdminClient(**deployment.options("consumer"))) as admin:
        assert EVENTS in admin.list_topics()  # the same port, with credentials


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.parametrize(
    ("user", "topic"),
    [("webhook", EVENTS), ("webhook", DEADLETTERS), ("shipper", ACCESS), ("consumer", ALERTS)],
)
def test_each_producer_writes_its_own_topics(deployment: Deployment, user: str, topic: str) -> None:
    assert produce(deployment.options(user), topic) >= 0


@pytest.mark.parametrize(
    ("user", "topic"),
    [
        ("consumer", EVENTS),  # the consumer forging events it then stores
        ("consumer", DEADLETTERS),
        ("shipper", EVENTS),  # a proxy host forging registry events
        ("shipper", DEADLETTERS),
        ("webhook", ACCESS),  # the webhook forging access-log lines
        ("webhook", ALERTS),
    ],
)
def test_no_client_can_write_a_topic_it_does_not_own(deployment: Deployment, user: str, topic: str) -> None:
    with pytest.raises(TopicAuthorizationFailedError, match=topic.replace(".", r"\.")):
        produce(deployment.options(user), topic)


@pytest.mark.parametrize("user", ["webhook", "shipper"])
def test_the_producers_cannot_read_the_topics_or_join_the_consumer_group(deployment: Deployment, user: str) -> None:
    consumer = KafkaConsumer(
        EVENTS, **deployment.options(user), group_id=GROUP, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    with contextlib.closing(consumer), pytest.raises(GroupAuthorizationFailedError, match=GROUP):
        consumer.poll(timeout_ms=10_000)


@pytest.mark.parametrize("user", ["webhook", "shipper"])
def test_only_the_consumer_can_reset_or_delete_its_groups_offsets(deployment: Deployment, user: str) -> None:
    rewind = {TopicPartition(EVENTS, 0): OffsetAndMetadata(0, "", -1)}
    with contextlib.closing(KafkaAdminClient(**deployment.options(user))) as admin:
        with pytest.raises(GroupAuthorizationFailedError, match=GROUP):
            admin.alter_group_offsets(GROUP, rewind)
        with pytest.raises(GroupAuthorizationFailedError, match=GROUP):
            admin.delete_groups([GROUP])


def test_the_consumer_reads_only_in_its_own_group_and_cannot_delete_records(deployment: Deployment) -> None:
    other = KafkaConsumer(EVENTS, **deployment.options("consumer"), group_id="another", enable_auto_commit=False)
    with contextlib.closing(other), pytest.raises(GroupAuthorizationFailedError, match="another"):
        other.poll(timeout_ms=10_000)
    with contextlib.closing(KafkaAdminClient(**deployment.options("consumer"))) as admin:
        with pytest.raises(TopicAuthorizationFailedError, match=EVENTS.replace(".", r"\.")):
            admin.delete_records({TopicPartition(EVENTS, 0): 1})
        with pytest.raises(TopicAuthorizationFailedError):
            admin.delete_topics([EVENTS])
