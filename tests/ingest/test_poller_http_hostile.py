"""The audit-API pollers against hostile servers (``regaudit.ingest.receive.api_http``): a redirect to another host
gets neither the token nor a request, and a body dripped slowly is given up on in bounded time.

Real HTTP servers on loopback: the "API" one answers every GET (and Hub's token POST) as the test says, the "thief"
one, on another port and so another origin, records what reaches it.
"""

from __future__ import annotations

import ssl
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pydantic import SecretStr

from regaudit.errors import TerminalError, TransientError
from regaudit.ingest.receive.api_http import open_api, read_bounded
from regaudit.ingest.receive.poller import PageSource
from regaudit.ingest.sources.dockerhub.audit_api import DockerHubAuditSource
from regaudit.ingest.sources.ghcr.audit_api import GhcrAuditSource
from regaudit.ingest.sources.harbor.audit_api import HarborAuditSource
from regaudit.ingest.sources.quay.logs_api import QuayLogsSource

SECRET = "s3cr3t-token-never-elsewhere"
NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


class _Recorder(BaseHTTPRequestHandler):
    """Answers as the server's ``answer`` says and records each request's path and headers."""

    def _handle(self) -> None:
        self.server.seen.append((self.command, self.path, dict(self.headers)))  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.server.answer(self)  # type: ignore[attr-defined]

    do_GET = do_POST = _handle

    def log_message(self, *_: object) -> None:
        pass


def _server(answer: Callable[[BaseHTTPRequestHandler], None]) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.answer = answer  # type: ignore[attr-defined]
    server.seen = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _json(handler: BaseHTTPRequestHandler, body: bytes) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


@pytest.fixture
def thief() -> Iterator[ThreadingHTTPServer]:
    server = _server(lambda handler: _json(handler, b"[]"))
    yield server
    server.shutdown()
    server.server_close()


def _redirecting_api(target: str) -> ThreadingHTTPServer:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        if handler.command == "POST":  # Docker Hub's token: the JWT that the GETs then carry
            _json(handler, b'{"access_token": "' + SECRET.encode() + b'"}')
            return
        handler.send_response(302)
        handler.send_header("Location", f"{target}{handler.path}")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return _server(answer)


def _sources(url: str) -> dict[str, PageSource]:
    token = SecretStr(SECRET)
    return {
        "ghcr": GhcrAuditSource(url, "gh", "example-org", token, clock=lambda: NOW),
        "quay": QuayLogsSource(url, "quay", token, organization="org", start=date(2026, 12, 4), clock=lambda: NOW),
        "harbor": HarborAuditSource(url, "harbor", "robot$audit", token, clock=lambda: NOW),
        "dockerhub": DockerHubAuditSource(
            url, "hub", "org", "org", token, clock=lambda: NOW, start=datetime(2026, 12, 4, tzinfo=UTC)
        ),  # fmt: skip
    }


@pytest.mark.parametrize("kind", ["ghcr", "quay", "harbor", "dockerhub"])
def test_a_redirect_to_another_host_gets_no_credentials(kind: str, thief: ThreadingHTTPServer) -> None:
    api = _redirecting_api(f"http://localhost:{thief.server_address[1]}")
    try:
        source = _sources(f"http://127.0.0.1:{api.server_address[1]}")[kind]
        with pytest.raises(TerminalError, match="another origin") as raised:
            source.fetch(None)
    finally:
        api.shutdown()
        api.server_close()
    assert thief.seen == []  # type: ignore[attr-defined]
    assert SECRET not in str(raised.value)


def test_a_redirect_within_the_origin_is_followed_with_the_token() -> None:
    """GitHub answers 301 on its own host for a renamed organization: that redirect is followed."""

    def answer(handler: BaseHTTPRequestHandler) -> None:
        if handler.path == "/first":
            handler.send_response(301)
            handler.send_header("Location", "/second")
            handler.send_header("Content-Length", "0")
            handler.end_headers()
        else:
            _json(handler, b"[]")

    server = _server(answer)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/first"
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {SECRET}"})
        with open_api(request, timeout=5, context=ssl.create_default_context()) as response:
            assert read_bounded(response, 1024) == b"[]"
    finally:
        server.shutdown()
        server.server_close()
    second = server.seen[1]  # type: ignore[attr-defined]
    assert second[1] == "/second"
    assert second[2]["Authorization"] == f"Bearer {SECRET}"


def test_a_dripped_body_is_given_up_in_bounded_time() -> None:
    stop = threading.Event()

    def drip(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(10**10))
        handler.end_headers()
        while not stop.is_set():
            handler.wfile.write(b" ")
            handler.wfile.flush()
            time.sleep(0.05)

    server = _server(drip)
    try:
        request = urllib.request.Request(f"http://127.0.0.1:{server.server_address[1]}/page")
        started = time.monotonic()
        with (
            open_api(request, timeout=5, context=ssl.create_default_context()) as response,
            pytest.raises(TransientError, match="not done"),
        ):
            read_bounded(response, 16 * 1024 * 1024, seconds=0.5)
        assert time.monotonic() - started < 3
    finally:
        stop.set()
        server.shutdown()
        server.server_close()


DEEP = b"[" * 300 + b"]" * 300  # orjson reads 1024 levels but writes 254: re-encoding a row raised TypeError
DEEP_PAGES = {
    "ghcr": b'[{"_document_id": "a", "action": "packages.package_version_published", "data": ' + DEEP + b"}]",
    "quay": b'{"logs": [{"kind": "push_repo", "datetime": "Fri, 04 Dec 2026 10:00:00 -0000", "metadata": '
    + DEEP
    + b"}]}",
    "harbor": b'[{"id": 1, "op_time": "2026-12-05T10:00:00Z", "resource": ' + DEEP + b"}]",
    "dockerhub": b'{"logs": [{"action": "repo.tag.push", "data": ' + DEEP + b"}]}",
}


@pytest.mark.parametrize("kind", sorted(DEEP_PAGES))
def test_a_row_nested_deeper_than_orjson_writes_is_a_dead_letter_not_a_crash(kind: str) -> None:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        if handler.command == "POST":
            _json(handler, b'{"access_token": "jwt"}')
        else:
            _json(handler, DEEP_PAGES[kind])

    server = _server(answer)
    try:
        page = _sources(f"http://127.0.0.1:{server.server_address[1]}")[kind].fetch(None)
    finally:
        server.shutdown()
        server.server_close()
    assert page is not None
    [(_, record)] = page.records
    assert record.kind == "deadletter"
    assert record.value == DEEP_PAGES[kind]
    assert "nested deeper than" in (record.reason or "")
