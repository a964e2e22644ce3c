"""Hostile POSTs on the other senders' routes (``/events/harbor|artifactory|ecr|acr/<instance>``), under the
contract test_webhook_hostile.py states for ``/events``: the token is checked before the body is read (and one bound
to another registry is refused), a body over the limit is 413, and whatever else a POST holds is answered 200 with
one dead letter keeping the body whole, in bounded work, never a 500.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from regaudit.ingest.receive.webhook import create_app
from regaudit.ingest.sinks.memory import MemorySink
from regaudit.settings import WebhookSettings

TOKEN = "hostile-sources-token-0123"  # noqa: S105 - a test token
BOUND = "bound-to-other-registry-0123"  # noqa: S105 - a test token
ROUTES = ["harbor", "artifactory", "ecr", "acr"]
HOSTILE = {
    "not json": b"\xff\xfe{not json",
    "nested past orjson": b"[" * 1100 + b"]" * 1100,
    "nested past the limit": b'{"a": ' + b"[" * 300 + b"]" * 300 + b"}",
    "a list of 300000": b"[" + b"{}," * 299_999 + b"{}]",
    "a huge number": b'{"type": "PUSH_ARTIFACT", "occur_at": 1e999999, "event_data": {}}',
    "a string for an object": b'"PUSH_ARTIFACT"',
    "lone surrogate": b'{"type": "\\ud800", "event_data": {"resources": [{"tag": "\\udfff"}]}}',
}


@pytest.fixture
def client() -> tuple[TestClient, MemorySink]:
    sink = MemorySink()
    config = WebhookSettings(tokens=[TOKEN], registry_tokens={"other": [BOUND]}, registry="main",  # type: ignore[arg-type]
                             max_body_bytes=1_000_000)  # fmt: skip
    return TestClient(create_app(config, sink), raise_server_exceptions=False), sink


def _post(client: TestClient, route: str, body: bytes, token: str = TOKEN):  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    return client.post(f"/events/{route}/prod", content=body, headers=headers)


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_body_is_one_dead_letter_kept_whole(client, route: str, name: str) -> None:  # type: ignore[no-untyped-def]
    app, sink = client
    response = _post(app, route, HOSTILE[name])
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 0
    dead = [record for _, record in sink.delivered if record.kind == "deadletter"]
    assert [record.value for record in dead] == [HOSTILE[name]]
    assert dead[0].reason


@pytest.mark.parametrize("route", ROUTES)
def test_no_token_a_token_bound_elsewhere_and_an_oversized_body_store_nothing(client, route: str) -> None:  # type: ignore[no-untyped-def]
    app, sink = client
    assert app.post(f"/events/{route}/prod", content=b"{}").status_code == 401
    assert _post(app, route, b"{}", BOUND).status_code == 401
    assert _post(app, route, b"{}", TOKEN[:-1] + "4").status_code == 401
    assert _post(app, route, b"[" + b"0," * 600_000 + b"0]").status_code == 413
    assert _post(app, route, b"{}", TOKEN).status_code == 200
    assert [record.kind for _, record in sink.delivered] == ["deadletter"]
