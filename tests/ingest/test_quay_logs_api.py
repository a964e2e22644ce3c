"""Quay's logs API poller against a real HTTP server speaking the API: the organization logs of a real install's day
(tests/fixtures/quay/PROVENANCE.md) in two pages joined by ``next_page``, through the poller into the store."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from pydantic import SecretStr

from regaudit.errors import TerminalError, TransientError
from regaudit.ingest import store
from regaudit.ingest.normalize import Normalizer
from regaudit.ingest.receive.poller import CursorFile, Poller
from regaudit.ingest.sinks.duckdb import DuckDBSink
from regaudit.ingest.sinks.memory import MemorySink
from regaudit.ingest.sources.quay.logs_api import QuayLogsSource

FIXTURES = Path(__file__).parents[1] / "fixtures" / "quay"
TOKEN = "quay-oauth-token-0123456789"  # noqa: S105 - a test token
NEXT_PAGE = "gAAAAABopaque-page-token"  # Quay's token is encrypted: opaque to a client
DAY = date(2026, 7, 31)
NOW = datetime(2026, 8, 1, 9, 0, tzinfo=UTC)


class QuayApi(BaseHTTPRequestHandler):
    """GET /api/v1/organization/init/logs as Quay answers it: the day's pages, 401 without the token."""

    pages = [json.loads((FIXTURES / f"api-organization-init-page{n}.json").read_text()) for n in (1, 2)]
    status = 200
    body: bytes | None = None
    requests: list[dict[str, list[str]]] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        url = urlparse(self.path)
        query = parse_qs(url.query)
        type(self).requests.append(query)
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._answer(401, b'{"error": "Requires authentication"}')
        if type(self).status != 200 or type(self).body is not None:
            return self._answer(type(self).status, type(self).body or b"{}")
        if url.path != "/api/v1/organization/init/logs":
            return self._answer(404, b"{}")
        day = datetime.strptime(query["starttime"][0], "%m/%d/%Y").replace(tzinfo=UTC).date()
        if day != DAY:
            page = {"start_time": "", "end_time": "", "logs": []}
        elif query.get("next_page") == [NEXT_PAGE]:
            page = self.pages[1]
        else:
            page = {**self.pages[0], "next_page": NEXT_PAGE}
        return self._answer(200, json.dumps(page).encode())

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
        pass


@pytest.fixture
def quay() -> Iterator[str]:
    QuayApi.status, QuayApi.body, QuayApi.requests = 200, None, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), QuayApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def source(url: str, token: str = TOKEN) -> QuayLogsSource:
    return QuayLogsSource(url, "quay-omr", SecretStr(token), organization="init", start=DAY, clock=lambda: NOW)


def poll(url: str, cursor: Path) -> MemorySink:
    sink = MemorySink()
    Poller(source(url), sink, CursorFile(cursor), poll_seconds=0.01).run(max_idle_seconds=0.2)
    return sink


def test_the_poller_walks_the_days_pages_and_stores_each_log_once(quay, tmp_path):
    cursor = tmp_path / "quay.cursor"
    first = poll(quay, cursor)
    assert len(first.delivered) == 4
    assert QuayApi.requests[0] == {"starttime": ["07/31/2026"], "endtime": ["07/31/2026"]}
    assert QuayApi.requests[1]["next_page"] == [NEXT_PAGE]
    assert CursorFile(cursor).load()["day"] == "2026-08-01"  # a past day read to its last page: the next one
    assert poll(quay, cursor).delivered == []  # nothing new on 08/01

    db = tmp_path / "store.duckdb"
    records = [record for _, record in first.delivered]
    normalizer = Normalizer()
    try:
        for _ in range(2):  # a re-delivery after a crash: stored once, by the log's digest
            DuckDBSink(db).write(normalizer.normalize(records), "poll")
    finally:
        normalizer.close()
    with store.reader(db) as con:
        rows = con.execute(
            "SELECT registry, action, counted_as, outcome, actor, client_addr, repository, tag FROM counted_activity"
            " ORDER BY occurred_at"
        ).fetchall()
    assert rows == [
        ("quay-omr", "login", "none", "success", "init", "10.88.0.1", "", None),
        ("quay-omr", "push", "push", None, "init", "10.88.0.1", "init/test-image", "v1"),
        ("quay-omr", "push", "push", None, "init", "10.88.0.1", "init/shared", "v1"),
        ("quay-omr", "push", "push", None, "init", "10.88.0.1", "init/shared", "v2"),
    ]


def test_today_is_read_again_from_its_first_page_skipping_what_was_delivered(quay, tmp_path):
    today = QuayLogsSource(quay, "quay-omr", SecretStr(TOKEN), organization="init", start=DAY,
                           clock=lambda: datetime(2026, 7, 31, 18, 0, tzinfo=UTC))  # fmt: skip
    first = today.fetch(None)
    assert first is not None
    second = today.fetch(first.cursor)
    assert second is not None
    assert len(first.records) + len(second.records) == 4
    assert second.cursor["day"] == "2026-07-31"
    assert second.cursor["next_page"] is None
    again = today.fetch(second.cursor)  # page one again, then two: all seen
    assert again is not None
    assert again.records == []
    last = today.fetch(again.cursor)
    assert last is not None
    assert (last.records, last.cursor) == ([], second.cursor)


def test_a_refused_token_is_terminal_and_a_failing_quay_transient(quay):
    with pytest.raises(TerminalError, match="refused the token"):
        source(quay, token="wrong-token-0123456789").fetch(None)  # noqa: S106 - a test token
    QuayApi.status = 503
    with pytest.raises(TransientError, match="answered 503"):
        source(quay).fetch(None)


def test_a_body_that_is_no_logs_page_is_one_dead_letter_and_the_cursor_stays(quay):
    QuayApi.body = b"<html>maintenance</html>"
    page = source(quay).fetch(None)
    assert page is not None
    [(_, record)] = page.records
    assert record.kind == "deadletter"
    assert record.reason is not None
    assert record.reason.startswith("Quay logs page refused")
    assert page.cursor["day"] == DAY.isoformat()
