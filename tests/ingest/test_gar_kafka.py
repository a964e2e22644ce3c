"""Google Artifact Registry through the real processes: audit log entries and `gcr` notifications as a Pub/Sub
bridge writes them to Kafka (the message's data as the value, or the whole push envelope), read by `regaudit
consume` from a topic of `gar.topics`; the same entries from a Log Router sink's Cloud Storage file (JSON Lines)
through `regaudit import --source gar`. One store, each record once."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from kafka import KafkaProducer

from regaudit.ingest import store
from tests.ingest import processes

pytestmark = [pytest.mark.kafka]
FIXTURES = Path(__file__).parents[1] / "fixtures" / "gar"
ENTRIES = ["audit_get_manifest_not_found", "audit_head_manifest_not_found", "audit_get_tags_denied"]
REGISTRY = "gar-prod"
CACHE = "ons-blaise-v2-prod/gcf-artifacts/ons--blaise--v2--prod__europe--west2__nifi--receipt/cache"


def envelope(data: bytes) -> bytes:
    """A Pub/Sub message as a push or pull delivers it (the ids and time are this test's own)."""
    message = {"data": base64.b64encode(data).decode(), "messageId": "11053398271434491",
               "publishTime": "2021-02-26T19:13:55.749Z", "attributes": {}}  # fmt: skip
    return json.dumps({"message": message, "subscription": "projects/acme/subscriptions/regaudit"}).encode()


def produce(bootstrap: str, topic: str) -> None:
    """Each entry as its message's data (a connector writes the data as the value, no regaudit headers), the
    notification in its envelope twice (Pub/Sub delivers at least once), and a message that is no record."""
    values = [(FIXTURES / f"{name}.json").read_bytes() for name in ENTRIES]
    notification = envelope((FIXTURES / "gcr_insert.json").read_bytes().strip())
    producer = KafkaProducer(bootstrap_servers=bootstrap.split(","), acks="all")
    try:
        for value in [*values, notification, notification, b'{"message": {"data": "%%%"}}']:
            producer.send(topic, value).get(30)
    finally:
        producer.close()


def query(db: Path, sql: str) -> list[tuple]:
    with store.reader(db, timeout=10) as con:
        return con.execute(sql).fetchall()


def test_bridged_pubsub_messages_and_a_sink_file_land_in_one_store_once(kafka_broker, kafka_topics, tmp_path):
    topic = f"{kafka_topics.events}.gar"
    kafka_broker.create_topics([topic], partitions=1)
    produce(kafka_broker.bootstrap, topic)
    db = tmp_path / "audit.duckdb"
    env = processes.regaudit_env(db, kafka_broker.bootstrap, kafka_topics,
                                 REGAUDIT_GAR__TOPICS=json.dumps({topic: REGISTRY}))  # fmt: skip
    consumer = processes.start(["consume", "--until-idle", "3"], env, tmp_path / "consume.log")
    assert consumer.wait(120) == 0, (tmp_path / "consume.log").read_text()[-3000:]

    sink_file = tmp_path / "05:00:00_05:59:59_S0.json"  # a Cloud Storage sink's hourly file: one entry a line
    sink_file.write_bytes(b"".join((FIXTURES / f"{name}.json").read_bytes() for name in ENTRIES))
    imported = processes.start(["import", "--source", "gar", "--registry", REGISTRY, str(sink_file)], env,
                               tmp_path / "import.log")  # fmt: skip
    assert imported.wait(60) == 0, (tmp_path / "import.log").read_text()[-3000:]
    assert "stored=0 duplicates=3" in (tmp_path / "import.log").read_text()  # read from Pub/Sub already

    rows = query(
        db,
        "SELECT action, target_kind, repository, tag, actor, client_addr::VARCHAR, http_method, outcome"
        " FROM registry_events WHERE registry = 'gar-prod' AND registry_kind = 'gar' ORDER BY event_at",
    )
    assert rows == [
        ("push", "manifest", "freshly-docker/freshly", "PIG-267-refactor-email-service", None, None, None, "success"),
        ("pull", "manifest", "ons-blaise-v2-prod/gcf-artifacts/publish_msg/cache", None,
         "service-628324858917@container-analysis.iam.gserviceaccount.com", "203.0.113.2", "GET", "failure"),
        ("pull", "manifest", CACHE, "latest", "628324858917@cloudbuild.gserviceaccount.com", "203.0.113.2", "HEAD",
         "failure"),
        ("get_tags", "api_call", "ons-blaise-v2-prod/eu.gcr.io", None, None, "203.0.113.7", "GET", "failure"),
    ]  # fmt: skip
    counted = query(db, "SELECT action, counted_as::VARCHAR FROM counted_activity WHERE registry = 'gar-prod'"
                        " ORDER BY occurred_at")  # fmt: skip
    assert counted == [("push", "push"), ("pull", "refused"), ("pull", "refused")]
    [(origin, reason)] = query(db, "SELECT origin, reason FROM dead_letters")
    assert origin.startswith(f"kafka:{topic}/0/")
    assert reason.startswith("Pub/Sub message data is not base64")
