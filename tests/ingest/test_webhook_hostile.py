"""Hostile bodies: whatever a POST holds, the webhook answers 2xx with dead letters, in bounded work, and a
retried malformed POST is the same dead letter (issue 14, section 4). The real HTTP and Kafka side is in
test_webhook_kafka_limits.py and test_webhook_fuzz.py."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from regaudit.ingest.normalize import Normalizer
from regaudit.ingest.receive.webhook import CLIPPED_BYTES, create_app
from regaudit.ingest.sinks import RecordsTooLarge
from regaudit.ingest.sinks.memory import MemorySink
from regaudit.settings import WebhookSettings
from tests.samples import SAMPLES, posts

TOKEN = "hostile-test-token-0123"  # noqa: S105 - a test token
GOOD = posts(SAMPLES / "distribution-2.8.2-htpasswd.events.jsonl")[0]["body"]["events"][0]


class SizeLimitedSink(MemorySink):
    """A sink that refuses records over a size, as a Kafka topic with a low max.message.bytes does."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def deliver(self, records):
        refused = [index for index, (_, record) in enumerate(records) if len(record.value) > self.limit]
        super().deliver([pair for index, pair in enumerate(records) if index not in refused])
        if refused:
            raise RecordsTooLarge(refused, self.limit)


def client_for(sink: MemorySink, **settings: object) -> TestClient:
    config = WebhookSettings(tokens=[TOKEN], registry="main", **settings)  # type: ignore[arg-type]
    return TestClient(create_app(config, sink), raise_server_exceptions=False)


def post(client: TestClient, body: bytes, path: str = "/events"):
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    return client.post(path, content=body, headers=headers)


@pytest.fixture
def sink():
    return MemorySink()


@pytest.mark.parametrize("timestamp", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"])
def test_webhook_dead_letters_a_timestamp_whose_offset_overflows_the_calendar(sink, timestamp):
    body = json.dumps({"events": [GOOD | {"timestamp": timestamp}, GOOD]}).encode()
    response = post(client_for(sink), body)
    assert response.status_code == 200  # was 500: OverflowError escaped the pydantic validator
    assert response.json() | {"request_id": None} == {"request_id": None, "accepted": 1, "dead_letters": 1}
    dead = [record for _, record in sink.delivered if record.kind == "deadletter"]
    assert "invalid event" in (dead[0].reason or "")


@pytest.mark.parametrize("depth", [65, 300, 1100])
def test_webhook_dead_letters_json_nested_deeper_than_the_limit_whole(sink, depth):
    body = b'{"events": [' + b"[" * depth + b"]" * depth + b"]}"
    response = post(client_for(sink), body)
    assert response.status_code == 200  # 300 was 500: orjson could read it but not write the event back
    [(_, record)] = sink.delivered
    assert record.value == body
    assert "nested deeper than 64 levels" in (record.reason or "") or "not JSON" in (record.reason or "")


def test_webhook_opens_an_envelope_nested_up_to_the_limit(sink):
    deep = GOOD | {"extra": json.loads("[" * 50 + "]" * 50)}
    response = post(client_for(sink), json.dumps({"events": [deep]}).encode())
    assert response.json()["accepted"] == 1


def test_webhook_keeps_an_envelope_of_300000_empty_events_as_one_dead_letter(sink):
    body = b'{"events":[' + b",".join([b"{}"] * 300_000) + b"]}"  # 900 KB
    response = post(client_for(sink), body)
    assert response.status_code == 200
    assert response.json()["dead_letters"] == 1  # was 300,000 records: 12 s and 1.5 GB more memory
    [(_, record)] = sink.delivered
    assert record.value == body
    assert "envelope of 300000 events, over the limit of 1000" in (record.reason or "")


def test_webhook_opens_envelopes_up_to_max_events_and_keeps_larger_ones_whole(sink):
    client = client_for(sink, max_events=3)
    assert post(client, json.dumps({"events": [GOOD] * 3}).encode()).json()["accepted"] == 3
    assert post(client, json.dumps({"events": [GOOD] * 4}).encode()).json()["dead_letters"] == 1


def test_a_retried_malformed_post_is_one_dead_letter_in_the_store(sink):
    client = client_for(sink)
    body = b'{"events": [{"id": 1}], "oops"'
    assert post(client, body).status_code == post(client, body).status_code == 200
    post(client, body, path="/events/other")
    first, retry, elsewhere = (record for _, record in sink.delivered)
    assert first.origin != retry.origin  # each request keeps its own id, for reading
    assert first.key == retry.key
    assert elsewhere.key != first.key  # the same bytes from another registry are another dead letter
    normalizer = Normalizer("main")
    try:
        ids = normalizer.normalize([first, retry, elsewhere]).dead_letters.column("dead_letter_id").to_pylist()
    finally:
        normalizer.close()
    assert ids[0] == ids[1] != ids[2]


def test_a_retried_envelope_dead_letters_its_bad_event_under_the_same_key(sink):
    client = client_for(sink)
    body = json.dumps({"events": [GOOD, {"id": 1}]}).encode()
    post(client, body)
    post(client, body)
    keys = [record.key for _, record in sink.delivered if record.kind == "deadletter"]
    assert len(keys) == 2
    assert keys[0] == keys[1]
    assert keys[0].endswith("/1")


def test_a_record_the_sink_refuses_for_its_size_is_kept_clipped_instead_of_a_503_for_ever():
    sink = SizeLimitedSink(limit=100_000)
    body = b"x" * 500_000
    response = post(client_for(sink), body)
    assert response.status_code == 200
    [(_, record)] = sink.delivered
    assert record.value == body[:CLIPPED_BYTES]
    assert "500000 bytes refused by the sink as too large" in (record.reason or "")
    assert "sha256 " in (record.reason or "")


def test_a_sink_outage_is_still_503(sink):
    sink.down = True
    assert post(client_for(sink), b"not json").status_code == 503
