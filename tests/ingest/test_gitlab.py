"""GitLab's container registry (a Distribution fork) through the Distribution receiver, from the notification spec's
own sample (tests/fixtures/gitlab/PROVENANCE.md): what GitLab adds to the actor is kept, its JWT without a signature."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from regaudit.ingest import store
from regaudit.ingest.normalize import Normalizer
from regaudit.ingest.receive.webhook import create_app
from regaudit.ingest.records import RawRecord
from regaudit.ingest.sinks.duckdb import DuckDBSink
from regaudit.ingest.sinks.memory import MemorySink
from regaudit.ingest.sources.distribution.envelope import strip_actor_jwt
from regaudit.schemas.registry import Event
from regaudit.settings import WebhookSettings
from tests.samples import RECEIVED_AT

SPEC = (Path(__file__).parents[1] / "fixtures" / "gitlab" / "notifications-spec.push.json").read_bytes()
TOKEN = "gitlab-token-0123456789"  # noqa: S105 - test token
DIGEST = "sha256:af06af3514c44a964d3b905b498cf6493db8f1cde7c10e078213a89c87308ba0"


def segment(claims: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()


#: a token of the JWT's shape (none is published): header, claims, signature
HEADER, CLAIMS = segment({"alg": "RS256", "typ": "JWT"}), segment({"user_info": {"username": "root"}})
JWT = f"{HEADER}.{CLAIMS}.c2lnbmF0dXJlLW9mLWdpdGxhYi1yYWlscw"


def with_jwt(user: object = JWT) -> bytes:
    envelope = json.loads(SPEC)
    envelope["events"][0]["actor"]["user"] = user
    return json.dumps(envelope).encode()


@pytest.fixture
def sink():
    return MemorySink()


@pytest.fixture
def client(sink):
    with TestClient(create_app(WebhookSettings(tokens=[TOKEN], registry="gitlab"), sink)) as test_client:
        yield test_client


def post(client, body: bytes):
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/vnd.docker.distribution.events.v1+json"}
    return client.post("/events/gitlab", content=body, headers=headers)


def test_the_spec_sample_is_an_event_with_its_user_type(client, sink):
    response = post(client, SPEC)
    assert (response.status_code, response.json()["accepted"]) == (200, 1)
    [(key, record)] = sink.delivered
    assert key == "root/test"
    event = Event.model_validate_json(record.value)
    assert (event.actor.name, event.actor.user_type) == ("root", "personal_access_token")
    assert orjson.loads(record.value)["meta"] == {"blob": {"redirected": True, "storageBackend": "s3aws"}}


def test_the_store_keeps_who_pushed_what_and_how_they_signed_in(tmp_path):
    db = tmp_path / "store.duckdb"
    normalizer = Normalizer()
    try:
        batch = normalizer.normalize([RawRecord("event", SPEC, "test:1", RECEIVED_AT, "gitlab")])
    finally:
        normalizer.close()
    assert batch.counts == (1, 0, 0)
    DuckDBSink(db).write(batch, "test")
    with store.reader(db) as con:
        row = con.execute(
            "SELECT registry_kind, action, actor, client_addr, repository, tag, digest, event_at,"
            " raw ->> '$.actor.user_type' FROM registry_events"
        ).fetchone()
        activity = con.execute("SELECT action, actor, repository, tag, digest FROM image_activity").fetchall()
    assert row[:7] == ("distribution", "push", "root", "172.16.123.1", "root/test", "latest", DIGEST)
    assert row[7].isoformat() == "2023-01-25T03:45:54.173270+00:00"  # +11:00 in UTC
    assert row[8] == "personal_access_token"
    assert activity == [("push", "root", "root/test", "latest", DIGEST)]


def test_the_actors_jwt_is_kept_without_its_signature_at_the_receiver(client, sink):
    assert post(client, with_jwt()).json()["accepted"] == 1
    [(_, record)] = sink.delivered
    assert orjson.loads(record.value)["actor"]["user"] == f"{HEADER}.{CLAIMS}"  # the claims stay readable
    assert JWT.encode() not in record.value


@pytest.mark.parametrize(
    ("user", "kept"),
    [(JWT, f"{HEADER}.{CLAIMS}"), (f"{HEADER}.{CLAIMS}", f"{HEADER}.{CLAIMS}"), ("opaque-secret", "[redacted]"),
     ("a.b.c.d", "[redacted]"), (12, "[redacted]"), (None, None)],
)  # fmt: skip
def test_a_foreign_producers_jwt_is_stripped_by_the_normalizer_as_by_the_receiver(user, kept):
    event = json.loads(with_jwt(user))["events"][0]
    assert strip_actor_jwt(event)["actor"]["user"] == kept
    normalizer = Normalizer()
    try:
        batch = normalizer.normalize([RawRecord("event", json.dumps(event).encode(), "k:1", RECEIVED_AT, "gitlab")])
    finally:
        normalizer.close()
    assert json.loads(batch.events.column("raw")[0].as_py())["actor"]["user"] == kept


def test_a_user_type_that_is_not_text_is_refused_alike_by_both_validators(client, sink):
    envelope = json.loads(SPEC)
    envelope["events"][0]["actor"]["user_type"] = ["build"]
    assert post(client, json.dumps(envelope).encode()).json()["dead_letters"] == 1
    normalizer = Normalizer()
    try:
        event = json.dumps(envelope["events"][0]).encode()
        batch = normalizer.normalize([RawRecord("event", event, "k:1", RECEIVED_AT, "gitlab")])
    finally:
        normalizer.close()
    assert batch.dead_letters.column("reason").to_pylist() == ["event field actor.user_type has the wrong JSON type"]
