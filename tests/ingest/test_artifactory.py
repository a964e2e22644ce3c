"""JFrog Artifactory webhooks of the Docker domain, from the payloads published for them
(tests/fixtures/artifactory/PROVENANCE.md): the receiver's verdict and auth, the canonical rows, the store."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from regaudit.ingest import store
from regaudit.ingest.normalize import Normalizer
from regaudit.ingest.receive.webhook import create_app
from regaudit.ingest.records import RawRecord
from regaudit.ingest.sinks.duckdb import DuckDBSink
from regaudit.ingest.sinks.memory import MemorySink
from regaudit.ingest.sources.artifactory.events import parse
from regaudit.settings import WebhookSettings
from tests.samples import RECEIVED_AT

FIXTURES = Path(__file__).parents[1] / "fixtures" / "artifactory"
TOKEN = "jfrog-secret-0123456789"  # noqa: S105 - test token
OTHER = "other-token-0123456789"  # noqa: S105
PUSHED = "docker-pushed.keel.json"
UBUNTU = "sha256:35c4a2c15539c6c1e4e5fa4e554dac323ad0107d8eb5c582d6ff386b383b7dce"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def retyped(event_type: str) -> bytes:
    """The published pushed payload with another Docker event type (JFrog's deleted and promoted were not found)."""
    body = json.loads(fixture(PUSHED))
    return json.dumps({**body, "event_type": event_type, "data": {**body["data"], "event_type": event_type}}).encode()


def record(body: bytes, registry: str = "rt-prod") -> RawRecord:
    return RawRecord("event", body, "test:1", RECEIVED_AT, registry, None, "application/json", None, "artifactory")


def normalized(*records: RawRecord):
    normalizer = Normalizer()
    try:
        return normalizer.normalize(records)
    finally:
        normalizer.close()


def test_a_pushed_tag_is_a_manifest_push_of_its_digest_with_nothing_jfrog_does_not_say():
    row, reason = parse(fixture(PUSHED), RECEIVED_AT)
    assert reason is None
    assert row is not None
    assert (row["action"], row["target_kind"], row["repository"], row["tag"], row["digest"]) == (
        "push", "manifest", "docker-remote-cache/library/ubuntu", "latest", UBUNTU)  # fmt: skip
    assert (row["size_bytes"], row["registry_kind"], row["event_at"]) == (1206, "artifactory", RECEIVED_AT)
    for unknown in ("actor", "client_addr", "user_agent", "http_method", "media_type", "request_id"):
        assert row.get(unknown) is None  # source names the webhook's user, not provably the pusher: raw keeps it


@pytest.mark.parametrize(
    ("event_type", "action", "target_kind"),
    [("deleted", "delete", "tag"), ("promoted", "promoted", "artifact"), ("retagged", "retagged", "artifact")],
)
def test_each_docker_event_type_maps_to_its_action(event_type, action, target_kind):
    row, _ = parse(retyped(event_type), RECEIVED_AT)
    assert row is not None
    assert (row["action"], row["target_kind"], row["tag"], row["digest"]) == (action, target_kind, "latest", UBUNTU)


def test_the_event_id_is_the_same_for_a_replay_and_differs_for_a_later_delivery():
    first, _ = parse(fixture(PUSHED), RECEIVED_AT)
    replay, _ = parse(fixture(PUSHED), RECEIVED_AT)
    later, _ = parse(fixture(PUSHED), RECEIVED_AT.replace(minute=5))
    assert first is not None
    assert replay is not None
    assert later is not None
    assert first["event_id"] == replay["event_id"] != later["event_id"]


DOCKER = b'{"domain": "docker", "event_type": "pushed", '


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (fixture("artifact-deployed.docs.json"), "not a Docker-domain JFrog event: domain 'artifact'"),
        (b"[]", "not a JFrog event: not a JSON object"),
        (b'{"domain": "docker"}', "not a JFrog Docker event: event_type: Field required"),
        (DOCKER + b'"data": {"repo_key": "r"}}', "not a JFrog Docker event: image_name: Field required"),
        (DOCKER + b'"data": {"repo_key": "r", "image_name": "i", "sha256": "sample_checksum"}}',
         "not a JFrog Docker event: sha256: String should match pattern '^[0-9a-f]{64}$'"),
        (DOCKER + b'"data": {"repo_key": "r", "image_name": "i", "size": "12"}}',
         "not a JFrog Docker event: size: Input should be a valid integer"),
        (b'{"a":' * 70 + b"1" + b"}" * 70, "JSON nested deeper than 64 levels"),
    ],
)  # fmt: skip
def test_hostile_bodies_are_dead_letters_with_the_reason(body, reason):
    assert parse(body, RECEIVED_AT) == (None, reason)


def test_the_store_keeps_the_push_and_the_delete_of_a_tag_as_artifactory_rows(tmp_path):
    db = tmp_path / "store.duckdb"
    later = RawRecord(
        "event", retyped("deleted"), "test:2", RECEIVED_AT.replace(minute=1), "rt-prod", None, None, None, "artifactory"
    )
    batch = normalized(record(fixture(PUSHED)), later, record(fixture("artifact-deployed.docs.json")))
    assert batch.counts == (2, 0, 1)
    DuckDBSink(db).write(batch, "test")
    DuckDBSink(db).write(normalized(record(fixture(PUSHED))), "test")  # a Kafka replay of the same record
    with store.reader(db) as con:
        events = con.execute(
            "SELECT registry, registry_kind, action, target_kind FROM registry_events ORDER BY action"
        ).fetchall()
        activity = con.execute("SELECT action, repository, tag, digest FROM image_activity ORDER BY 1").fetchall()
        history = con.execute("SELECT tag, digest, valid_to_at IS NOT NULL FROM tag_history").fetchall()
        dead = con.execute("SELECT reason FROM dead_letters").fetchall()
    assert events == [("rt-prod", "artifactory", "delete", "tag"), ("rt-prod", "artifactory", "push", "manifest")]
    repository = "docker-remote-cache/library/ubuntu"
    assert activity == [("delete", repository, "latest", UBUNTU), ("push", repository, "latest", UBUNTU)]
    assert history == [("latest", UBUNTU, True)]  # pushed, then deleted: the interval is closed
    assert dead == [("not a Docker-domain JFrog event: domain 'artifact'",)]


@pytest.fixture
def sink():
    return MemorySink()


@pytest.fixture
def client(sink):
    settings = WebhookSettings(tokens=[OTHER], registry_tokens={"rt-prod": [TOKEN]}, registry="main")
    with TestClient(create_app(settings, sink)) as test_client:
        yield test_client


def post(client, body: bytes, headers: dict[str, str], instance: str = "rt-prod"):
    return client.post(f"/events/artifactory/{instance}", content=body, headers=headers)


def signature(token: str, body: bytes) -> str:
    return hmac.new(token.encode(), body, hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    "headers",
    [
        {"X-JFrog-Event-Auth": TOKEN},
        {"X-JFrog-Event-Auth": signature(TOKEN, fixture(PUSHED))},
        {"X-JFrog-Event-Auth": OTHER},
        {"Authorization": f"Bearer {TOKEN}"},
    ],
    ids=["secret", "signed", "global-token", "custom-authorization-header"],
)
def test_the_webhook_takes_jfrogs_secret_as_sent_or_as_a_signature_of_the_body(client, sink, headers):
    response = post(client, fixture(PUSHED), {"Content-Type": "application/json", **headers})
    assert response.status_code == 200
    assert response.json()["accepted"] == 1
    [(key, delivered)] = sink.delivered
    assert key == "docker-remote-cache/library/ubuntu"
    assert (delivered.kind, delivered.registry, delivered.registry_kind) == ("event", "rt-prod", "artifactory")
    assert delivered.value == fixture(PUSHED)  # kept as JFrog sent it


@pytest.mark.parametrize(
    ("headers", "instance", "status"),
    [
        ({}, "rt-prod", 401),
        ({"X-JFrog-Event-Auth": "wrong-secret-0123456789"}, "rt-prod", 401),
        ({"X-JFrog-Event-Auth": signature(TOKEN, b"another body")}, "rt-prod", 401),
        ({"X-JFrog-Event-Auth": TOKEN}, "rt-dr", 401),  # bound to rt-prod only
        ({"X-JFrog-Event-Auth": TOKEN, "Authorization": f"Bearer {OTHER}"}, "rt-dr", 401),  # the JFrog header rules
        ({"X-JFrog-Event-Auth": OTHER}, "not a name", 404),
    ],
)
def test_the_webhook_refuses_jfrog_posts_without_the_instances_secret(client, sink, headers, instance, status):
    assert post(client, fixture(PUSHED), headers, instance).status_code == status
    assert sink.delivered == []


def test_the_webhook_answers_200_for_another_domain_and_keeps_it_as_a_dead_letter(client, sink):
    response = post(client, fixture("artifact-deployed.docs.json"), {"X-JFrog-Event-Auth": TOKEN})
    assert (response.status_code, response.json()["dead_letters"]) == (200, 1)
    [(_, dead)] = sink.delivered
    assert (dead.kind, dead.reason) == ("deadletter", "not a Docker-domain JFrog event: domain 'artifact'")


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(max_size=300), st.builds(lambda d: json.dumps(d).encode(), st.dictionaries(
    st.sampled_from(["domain", "event_type", "data", "source"]),
    st.one_of(st.none(), st.integers(), st.text(max_size=8), st.just("docker"), st.dictionaries(
        st.sampled_from(["repo_key", "image_name", "tag", "sha256", "size"]),
        st.one_of(st.none(), st.integers(), st.text(max_size=8), st.just("a" * 64)), max_size=5)),
    max_size=4))))  # fmt: skip
def test_parse_never_raises_and_always_says_why_not(body):
    row, reason = parse(body, RECEIVED_AT)
    assert (row is None) != (reason is None)
