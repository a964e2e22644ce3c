"""Harbor webhooks, Default and CloudEvents, from the payloads Harbor's maintainers published
(tests/fixtures/harbor/PROVENANCE.md): the receiver's verdict, the canonical rows, what lands in the store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from regaudit.ingest import store
from regaudit.ingest.normalize import Normalizer
from regaudit.ingest.receive.webhook import create_app
from regaudit.ingest.records import RawRecord
from regaudit.ingest.sinks.duckdb import DuckDBSink
from regaudit.ingest.sinks.memory import MemorySink
from regaudit.ingest.sources.harbor.events import parse
from regaudit.settings import WebhookSettings
from tests.samples import RECEIVED_AT

FIXTURES = Path(__file__).parents[1] / "fixtures" / "harbor"
TOKEN = "harbor-token-0123456789"  # noqa: S105 - test token
OTHER = "other-token-0123456789"  # noqa: S105
CLOUDEVENTS = "application/cloudevents+json"
ALPINE = "sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4"
#: the documentation's blocks that are not JSON as published (PROVENANCE.md)
NOT_JSON = {"artifact-pushed.cloudevents.json", "artifact-pulled.cloudevents.json"}


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def published() -> list[str]:
    return sorted(path.name for path in FIXTURES.glob("*.json"))


def record(name: str, content_type: str = "application/json", registry: str = "harbor-prod") -> RawRecord:
    return RawRecord("event", fixture(name), f"test:{name}", RECEIVED_AT, registry, None, content_type, None, "harbor")


def normalized(*records: RawRecord):
    normalizer = Normalizer()
    try:
        return normalizer.normalize(records)
    finally:
        normalizer.close()


@pytest.mark.parametrize("name", published())
def test_every_published_payload_is_an_event_or_a_dead_letter_with_its_reason(name):
    rows, reason = parse(fixture(name))
    if name in NOT_JSON:
        assert rows == []
        assert reason.startswith("not JSON")
    else:
        assert reason is None
        assert {row["registry_kind"] for row in rows} == {"harbor"}


@pytest.mark.parametrize("fmt", ["default", "cloudevents.repaired"])
def test_a_pull_is_a_manifest_download_by_digest_with_nothing_harbor_does_not_say(fmt):
    [row] = parse(fixture(f"artifact-pulled.{fmt}.json"))[0]
    assert (row["action"], row["target_kind"], row["repository"], row["digest"]) == (
        "pull", "manifest", "harbor/alpine", ALPINE)  # fmt: skip
    assert row["tag"] is None  # Harbor wrote the digest in tag: a pull by digest
    assert row["actor"] == "robot$harbor+wHSYCuGD-Trivy-8e2e7505-d1e6-11ed-9e71-0242ac130009"
    assert row["event_at"].isoformat() == "2023-04-03T06:12:52+00:00"
    assert row["url"] == f"localhost/harbor/alpine@{ALPINE}"
    assert row["http_method"] == "GET"  # Harbor notifies GETs only, never HEAD
    for unknown in ("client_addr", "user_agent", "size_bytes", "media_type"):
        assert row.get(unknown) is None


def test_the_cloudevents_request_id_is_kept_and_the_default_format_has_none():
    [cloud] = parse(fixture("artifact-pulled.cloudevents.repaired.json"))[0]
    [default] = parse(fixture("artifact-pulled.default.json"))[0]
    assert cloud["request_id"] == "bb4b5b91-aac7-4acd-8dff-e4118e53f6d1"
    assert default["request_id"] is None


@pytest.mark.parametrize("fmt", ["default", "cloudevents"])
def test_a_delete_is_of_the_digest_with_its_first_tag(fmt):
    [row] = parse(fixture(f"artifact-deleted.{fmt}.json"))[0]
    assert (row["action"], row["target_kind"], row["tag"], row["actor"]) == (
        "delete", "digest", "3.8", "harbor-jobservice")  # fmt: skip
    assert row["digest"] == "sha256:2bb501e6173d9d006e56de5bce2720eb06396803300fe1687b58a7ff32bf4c14"


@pytest.mark.parametrize(
    ("name", "action", "target_kind", "repository"),
    [
        ("artifact-pushed.default.json", "push", "manifest", "harbor/alpine"),
        ("scanning-completed.default.json", "scanning_completed", "artifact", "harbor/alpine"),
        ("scanning-stopped.cloudevents.json", "scanning_stopped", "artifact", "harbor/alpine"),
        ("scanning-failed.cloudevents.json", "scanning_failed", "artifact", "harbor/alpine"),
        ("quota-exceeded.cloudevents.json", "quota_exceed", "artifact", "harbor/alpine"),
        ("replication-status-changed.default.json", "replication", "replication", ""),
        ("replication-status-changed.cloudevents.json", "replication", "replication", ""),
        ("tag-retention-finished.cloudevents.json", "tag_retention", "retention", ""),
    ],
)
def test_each_event_type_maps_to_its_action(name, action, target_kind, repository):
    [row] = parse(fixture(name))[0]
    assert (row["action"], row["target_kind"], row["repository"]) == (action, target_kind, repository)


def test_an_anonymous_operator_is_null_not_an_empty_name():
    [row] = parse(fixture("quota-exceeded.default.json"))[0]
    assert row["actor"] is None


def test_a_retry_or_a_second_policy_copy_has_the_same_event_id_and_another_event_does_not():
    body = json.loads(fixture("busybox-pulled.cloudevents.json"))
    again = {**body, "id": "another-uuid-of-another-policy", "source": "/projects/1/webhook/policies/4"}
    other = {**body, "requestid": "another-request"}
    first = parse(json.dumps(body).encode())[0][0]["event_id"]
    assert parse(json.dumps(again).encode())[0][0]["event_id"] == first
    assert parse(json.dumps(other).encode())[0][0]["event_id"] != first


PUSH = b'{"type": "PUSH_ARTIFACT", '
PULLED = b'{"specversion": "%s", "id": "x", "source": "/p", "type": "harbor.artifact.pulled", "time": "%s"}'


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"[]", "not a Harbor event: not a JSON object"),
        (PUSH + b'"x": 1}', "not a Harbor event: occur_at: Field required"),
        (PUSH + b'"occur_at": "1680501893"}', "not a Harbor event: occur_at: Input should be a valid integer"),
        (PUSH + b'"occur_at": 99999999999999999}', "occur_at 99999999999999999 outside 2000-01-01..2200-01-01"),
        (PUSH + b'"occur_at": 1680501893, "event_data": {}}',
         "PUSH_ARTIFACT without event_data.repository.repo_full_name"),
        (b'{"type": "PULL_ARTIFACT", "occur_at": 1680501893, "event_data": {"repository": {"repo_full_name": "a/b"},'
         b' "resources": [{"tag": "v1"}]}}', "PULL_ARTIFACT without a resource digest"),
        (PULLED % (b"0.3", b"2023-04-03T06:12:52Z"), "not a Harbor event: specversion: Input should be '1.0'"),
        (PULLED % (b"1.0", b"yesterday"),
         "not a Harbor event: time: Value error, not an RFC 3339 timestamp with a zone offset"),
        (b"[" * 100 + b"]" * 100, "not a Harbor event: not a JSON object"),
        (b'{"a":' * 70 + b"1" + b"}" * 70, "JSON nested deeper than 64 levels"),
    ],
)  # fmt: skip
def test_hostile_bodies_are_dead_letters_with_the_reason(body, reason):
    assert parse(body) == ([], reason)


def test_the_store_keeps_who_pushed_pulled_and_deleted_what_as_harbor_rows(tmp_path):
    db = tmp_path / "store.duckdb"
    names = ["artifact-pushed.default.json", "artifact-pulled.default.json", "artifact-deleted.default.json",
             "scanning-completed.default.json", "replication-status-changed.default.json"]  # fmt: skip
    batch = normalized(*(record(name) for name in names), record("artifact-pulled.cloudevents.json", CLOUDEVENTS))
    assert batch.counts == (5, 0, 1)
    DuckDBSink(db).write(batch, "test")
    DuckDBSink(db).write(normalized(record("artifact-pulled.default.json")), "test")  # Harbor's retry
    with store.reader(db) as con:
        events = con.execute(
            "SELECT registry, registry_kind, action, client_addr, envelope_type FROM registry_events ORDER BY action"
        ).fetchall()
        activity = con.execute(
            "SELECT action, actor, repository, digest, counts_as_pull, client_addr FROM image_activity ORDER BY action"
        ).fetchall()
        dead = con.execute("SELECT source, reason FROM dead_letters").fetchall()
    assert events == [
        ("harbor-prod", "harbor", action, None, "application/json")
        for action in ("delete", "pull", "push", "replication", "scanning_completed")
    ]
    robot = "robot$harbor+wHSYCuGD-Trivy-8e2e7505-d1e6-11ed-9e71-0242ac130009"
    deleted = "sha256:2bb501e6173d9d006e56de5bce2720eb06396803300fe1687b58a7ff32bf4c14"
    assert activity == [
        ("delete", "harbor-jobservice", "harbor/alpine", deleted, False, None),
        ("pull", robot, "harbor/alpine", ALPINE, True, None),
        ("push", "harbor-jobservice", "harbor/alpine", ALPINE, False, None),
    ]
    assert [(source, reason[:8]) for source, reason in dead] == [("events", "not JSON")]


def test_an_event_of_an_unknown_registry_kind_is_a_dead_letter_not_dropped():
    body = fixture("artifact-pushed.default.json")
    unknown = RawRecord("event", body, "k:1", RECEIVED_AT, "r", None, None, None, "nexus")
    batch = normalized(unknown)
    assert batch.counts == (0, 0, 1)
    assert batch.dead_letters.column("reason").to_pylist() == ["unknown registry kind 'nexus'"]


@pytest.fixture
def sink():
    return MemorySink()


@pytest.fixture
def client(sink):
    settings = WebhookSettings(tokens=[OTHER], registry_tokens={"harbor-prod": [TOKEN]}, registry="main")
    with TestClient(create_app(settings, sink)) as test_client:
        yield test_client


def post(client, name, authorization=f"Bearer {TOKEN}", instance="harbor-prod", content_type="application/json"):
    headers = {"Content-Type": content_type}
    if authorization is not None:
        headers["Authorization"] = authorization
    return client.post(f"/events/harbor/{instance}", content=fixture(name), headers=headers)


@pytest.mark.parametrize("authorization", [f"Bearer {TOKEN}", TOKEN, f"Bearer {OTHER}"])
def test_the_webhook_takes_harbors_auth_header_as_a_bearer_token_or_bare(client, sink, authorization):
    response = post(client, "artifact-pulled.cloudevents.repaired.json", authorization, content_type=CLOUDEVENTS)
    assert response.status_code == 200
    assert response.json()["accepted"] == 1
    [(key, delivered)] = sink.delivered
    assert key == "harbor/alpine"
    assert (delivered.kind, delivered.registry, delivered.registry_kind) == ("event", "harbor-prod", "harbor")
    assert delivered.value == fixture("artifact-pulled.cloudevents.repaired.json")  # kept as Harbor sent it


@pytest.mark.parametrize(
    ("authorization", "instance", "status"),
    [(None, "harbor-prod", 401), ("wrong-token-0123456789", "harbor-prod", 401), (TOKEN, "harbor-dr", 401),
     (f"Bearer {OTHER}", "not a name", 404)],
)  # fmt: skip
def test_the_webhook_refuses_harbor_posts_without_a_token_for_the_instance(
    client, sink, authorization, instance, status
):  # noqa: E501
    assert post(client, "artifact-pushed.default.json", authorization, instance).status_code == status
    assert sink.delivered == []


def test_the_webhook_answers_200_for_a_body_that_is_not_a_harbor_event_and_keeps_it(client, sink):
    response = post(client, "artifact-pushed.cloudevents.json", content_type=CLOUDEVENTS)
    assert response.status_code == 200
    assert response.json()["dead_letters"] == 1
    [(_, dead)] = sink.delivered
    assert dead.kind == "deadletter"
    assert dead.reason.startswith("not JSON")
