from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from regaudit.ingest.receive.webhook import create_app
from regaudit.ingest.sinks.memory import MemorySink
from regaudit.settings import WebhookSettings
from tests.samples import SAMPLES, posts

V1 = "application/vnd.docker.distribution.events.v1+json"
CAPTURE = posts(SAMPLES / "distribution-2.8.2-htpasswd.events.jsonl")
OLD_TOKEN = "old-token-0123456789"  # noqa: S105 - test tokens
NEW_TOKEN = "new-token-0123456789"  # noqa: S105


@pytest.fixture
def sink():
    return MemorySink()


@pytest.fixture
def client(sink):
    settings = WebhookSettings(tokens=[OLD_TOKEN, NEW_TOKEN], max_body_bytes=4096, registry="main")
    with TestClient(create_app(settings, sink)) as test_client:
        yield test_client


def post(client, body, token=NEW_TOKEN, content_type=V1, path="/events"):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": content_type}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return client.post(path, content=data, headers=headers)


def test_webhook_accepts_a_captured_post_and_keys_it_by_repository(client, sink):
    response = post(client, CAPTURE[0]["body"])
    assert response.status_code == 200
    assert response.json()["accepted"] == 1
    [(key, record)] = sink.delivered
    assert key == "team/app"
    assert (record.kind, record.registry, record.content_type) == ("event", "main", V1)
    assert json.loads(record.value) == CAPTURE[0]["body"]["events"][0]


def test_webhook_accepts_every_token_during_a_rotation(client):
    assert post(client, CAPTURE[0]["body"], token=OLD_TOKEN).status_code == 200
    assert post(client, CAPTURE[0]["body"], token=NEW_TOKEN).status_code == 200


@pytest.mark.parametrize("token", [None, "wrong", NEW_TOKEN + "-and-more", NEW_TOKEN[:-1], ""])
def test_webhook_refuses_missing_or_wrong_tokens(client, sink, token):
    response = post(client, CAPTURE[0]["body"], token=token)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert sink.delivered == []


def test_webhook_refuses_oversized_bodies_with_413(client, sink):
    response = post(client, b"{" + b" " * 5000 + b"}")
    assert response.status_code == 413
    assert sink.delivered == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json at all", "not JSON"),
        (b'["an", "array"]', "not a notification envelope"),
        (b'{"events": "nope"}', "not a notification envelope"),
        (b'{"events": [{"id": "x"}]}', "invalid event"),
    ],
)
def test_webhook_dead_letters_malformed_payloads_and_still_answers_2xx(client, sink, body, reason):
    response = post(client, body)
    assert response.status_code == 200
    assert response.json()["dead_letters"] == 1
    [(_, record)] = sink.delivered
    assert record.kind == "deadletter"
    assert reason in (record.reason or "")


def test_webhook_dead_letters_only_the_bad_event_of_an_envelope(client, sink):
    good = CAPTURE[0]["body"]["events"][0]
    response = post(client, {"events": [good, {"id": 1}, good | {"id": "other"}]}, content_type="application/json")
    assert response.json() == response.json() | {"accepted": 2, "dead_letters": 1}
    assert [r.kind for _, r in sink.delivered] == ["event", "event", "deadletter"]


def test_webhook_answers_503_while_the_sink_is_down_and_200_after(client, sink):
    sink.down = True
    assert post(client, CAPTURE[0]["body"]).status_code == 503
    assert client.get("/healthz").status_code == 503
    sink.down = False
    assert post(client, CAPTURE[0]["body"]).status_code == 200
    assert client.get("/healthz").status_code == 200


def test_webhook_accepts_v2_envelopes_and_named_registries(client, sink):
    v3_event = {
        "id": "0196a3c5-1111-7111-8111-111111111111",
        "timestamp": "2025-05-01T12:02:00Z",
        "action": "delete",
        "target": {"mediaType": "", "digest": "", "size": 0, "repository": "team/api", "tag": "v1.4.1"},
        "request": {
            "id": "r",
            "addr": "10.20.3.17",
            "host": "reg",
            "method": "DELETE",
            "useragent": "crane/0.20",
        },
        "actor": {"name": "release-admin"},
        "source": {"addr": "registry-0:5000", "instanceID": "i"},
    }
    response = post(client, {"events": [v3_event]}, content_type=V1.replace("v1", "v2"), path="/events/eu-prod")
    assert response.status_code == 200
    assert sink.delivered[0][1].registry == "eu-prod"


def test_webhook_metrics_count_answers_and_events(client):
    post(client, CAPTURE[0]["body"])
    post(client, CAPTURE[0]["body"], token="bad")
    text = client.get("/metrics").text
    assert 'regaudit_webhook_responses_total{code="200"} 1' in text
    assert 'regaudit_webhook_responses_total{code="401"} 1' in text
    assert "regaudit_webhook_events_total 1" in text


def test_webhook_publishes_an_openapi_description(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/events", "/events/{registry}", "/healthz", "/metrics"} <= set(paths)
