"""Azure Container Registry through the real processes: resource logs as Azure Monitor streams them to an Event
Hub, read by `regaudit consume` over the Kafka protocol with SASL PLAIN over TLS (the real Kafka broker standing in
for the namespace's endpoint, tests/infra/event_hub.py); the same record from a storage account blob through
`regaudit import --source acr`; the webhook reference's events POSTed to `regaudit webhook` on /events/acr/<name>.
One store, each record once."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from kafka import KafkaAdminClient, KafkaProducer
from kafka.errors import KafkaError

from regaudit.ingest import store
from tests.infra.event_hub import CONNECTION_STRING, USERNAME, EventHubBroker
from tests.infra.kafka import kafka_libs
from tests.ingest import processes

pytestmark = [pytest.mark.kafka]
FIXTURES = Path(__file__).parents[1] / "fixtures" / "acr"
#: the hub a diagnostic setting creates when it is given none (insights-logs-<category>)
HUB = "insights-logs-containerregistryrepositoryevents"
REGISTRY = "acr-prod"
TOKEN = "acr-webhook-custom-header-token-0123"  # noqa: S105 - the webhook's custom Authorization header
WEBHOOKS = ["webhook_push", "webhook_chart_push", "webhook_delete", "webhook_chart_delete"]


@pytest.fixture(scope="module")
def event_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EventHubBroker]:
    broker = EventHubBroker(kafka_libs(), tmp_path_factory.mktemp("event-hub") / "broker")
    try:
        broker.start()
        broker.create_topics([HUB], partitions=2)
        yield broker
    finally:
        broker.stop()


def azure_bodies() -> list[bytes]:
    """What Azure Monitor sends the hub: each event a {"records": [...]} body; Event Hubs delivers at least once,
    so the same body twice; and a body that is no resource log."""
    record = json.loads((FIXTURES / "resource_log_pull_404.json").read_bytes())
    body = json.dumps({"records": [record]}).encode()
    return [body, body, b'{"records": "not a list"}']


def produce(broker: EventHubBroker) -> None:
    producer = KafkaProducer(**broker.client_options(), acks="all")
    try:
        for body in azure_bodies():
            producer.send(HUB, body).get(30)
    finally:
        producer.close()


def query(db: Path, sql: str) -> list[tuple]:
    with store.reader(db, timeout=10) as con:
        return con.execute(sql).fetchall()


def test_a_wrong_connection_string_is_refused(event_hub: EventHubBroker) -> None:
    options = event_hub.client_options(password=CONNECTION_STRING.replace("SharedAccessKey=", "SharedAccessKey=x"))
    with pytest.raises(KafkaError), contextlib.closing(KafkaAdminClient(**options, bootstrap_timeout_ms=3000)):
        pass


def test_event_hub_storage_blob_and_webhook_land_in_one_store_once(event_hub: EventHubBroker, tmp_path: Path) -> None:
    produce(event_hub)
    password = tmp_path / "event-hub-connection-string"
    password.write_text(CONNECTION_STRING + "\n")
    db = tmp_path / "audit.duckdb"
    env = processes.regaudit_env(
        db,
        event_hub.endpoint,
        REGAUDIT_KAFKA__SECURITY_PROTOCOL="SASL_SSL",
        REGAUDIT_KAFKA__SASL_MECHANISM="PLAIN",
        REGAUDIT_KAFKA__SASL_USERNAME=USERNAME,
        REGAUDIT_KAFKA__SASL_PASSWORD_FILE=str(password),
        REGAUDIT_KAFKA__SSL_CAFILE=str(event_hub.ca_file),
        REGAUDIT_ACR__TOPICS=json.dumps({HUB: REGISTRY}),
        # docs/production.md: this consume process reads the namespace, where regaudit's own topics do not exist
        REGAUDIT_KAFKA__EVENTS_TOPIC=HUB,
        REGAUDIT_KAFKA__ACCESS_TOPIC=HUB,
        REGAUDIT_KAFKA__DEADLETTER_TOPIC=HUB,
        REGAUDIT_CONSUMER__GROUP_ID="regaudit-acr",
        REGAUDIT_CONSUMER__METRICS_PORT="0",
    )
    consumer = processes.start(["consume", "--until-idle", "3"], env, tmp_path / "consume.log")
    assert consumer.wait(120) == 0, (tmp_path / "consume.log").read_text()[-3000:]

    blob = tmp_path / "PT1H.json"  # the storage account's form: one record a line, no wrapper
    blob.write_bytes((FIXTURES / "resource_log_pull_404.json").read_bytes().replace(b"\n", b"") + b"\n")
    imported = processes.start(
        ["import", "--source", "acr", "--registry", REGISTRY, str(blob)], env, tmp_path / "import.log"
    )
    assert imported.wait(60) == 0, (tmp_path / "import.log").read_text()[-3000:]
    assert "stored=0 duplicates=1" in (tmp_path / "import.log").read_text()  # the Event Hub's record

    with processes.webhook(env, tmp_path / "webhook.log", [TOKEN], sink="duckdb") as url, httpx.Client() as client:
        headers = {"Authorization": f"Bearer {TOKEN}"}  # the webhook's custom header; ACR adds no other
        for name in WEBHOOKS:
            response = client.post(f"{url}/events/acr/{REGISTRY}", content=(FIXTURES / f"{name}.json").read_bytes(),
                                   headers=headers | {"Content-Type": "application/json"})  # fmt: skip
            assert response.json()["accepted"] == 1, response.text
        assert client.post(f"{url}/events/acr/{REGISTRY}", content=b"{}").status_code == 401

    rows = query(db, "SELECT action, target_kind, repository, tag, digest IS NOT NULL, actor, client_addr::VARCHAR,"
                     " outcome FROM registry_events WHERE registry = 'acr-prod' AND registry_kind = 'acr'"
                     " ORDER BY event_at")  # fmt: skip
    assert rows == [
        ("chart_push", "artifact", "repo", "wordpress-5.4.0.tgz", True, None, None, "success"),
        ("chart_delete", "artifact", "repo", "wordpress-5.4.0.tgz", True, None, None, "success"),
        ("push", "manifest", "hello-world", "v1", True, None, None, "success"),
        ("delete", "digest", "hello-world", None, True, None, None, "success"),
        ("pull", "manifest", "tipster-service", None, True, "user@example.com", "203.0.113.18", "failure"),
    ]
    counted = query(db, "SELECT action, counted_as::VARCHAR FROM counted_activity WHERE registry = 'acr-prod'"
                        " ORDER BY occurred_at")  # fmt: skip
    assert counted == [("push", "push"), ("delete", "delete"), ("pull", "refused")]
    dead = query(db, "SELECT source, reason FROM dead_letters")
    assert dead == [("events", "not an ACR record: records: Input should be a valid list")]
