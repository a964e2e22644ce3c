"""Docker Hub's audit-log poller against a real HTTP server speaking Hub's API: ``POST /v2/auth/token`` and
``GET /v2/auditlogs/<account>`` answering the recorded responses of tests/fixtures/dockerhub (PROVENANCE.md), one
event a page, through the poller into the store."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from pydantic import SecretStr

from regaudit.cli import main
from regaudit.errors import TerminalError, TransientError
from regaudit.ingest import store
from regaudit.ingest.normalize import Normalizer
from regaudit.ingest.receive.poller import CursorFile, Poller
from regaudit.ingest.sinks.duckdb import DuckDBSink
from regaudit.ingest.sinks.memory import MemorySink
from regaudit.ingest.sources.dockerhub.audit import parse
from regaudit.ingest.sources.dockerhub.audit_api import DockerHubAuditSource

FIXTURES = Path(__file__).parents[1] / "fixtures" / "dockerhub"
PAGES = [json.loads((FIXTURES / name).read_text()) for name in ("auditlogs-docs-example.json",
                                                                 "auditlogs-hub-client-test.json")]  # fmt: skip
JWT = json.loads((FIXTURES / "auth-token-docs-example.json").read_text())["access_token"]
USER, PAT = "example-ci-user", "dckr_pat_124509ugsdjga93"  # noqa: S105 - the spec's example secret
START = datetime(2026, 1, 2, 3, 0, tzinfo=UTC)
NOW = START + timedelta(hours=2, minutes=10)


class HubApi(BaseHTTPRequestHandler):
    """Hub's token and audit-log endpoints: the first window's events one a page, later windows empty."""

    requests: list[dict[str, list[str]]] = []
    logins = 0
    status = 200
    hostile: list[bytes] = []  # bodies answered (once each) instead of the next pages
    expire_once = False  # answer the next audit GET 401, as Hub does to an expired JWT

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if urlparse(self.path).path != "/v2/auth/token":
            return self._answer(404, b"{}")
        type(self).logins += 1
        if body != {"identifier": USER, "secret": PAT}:
            return self._answer(401, b'{"detail": "Incorrect authentication credentials"}')
        return self._answer(200, json.dumps({"access_token": JWT}).encode())

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        url = urlparse(self.path)
        query = parse_qs(url.query)
        cls = type(self)
        if self.headers.get("Authorization") != f"Bearer {JWT}" or cls.expire_once:
            cls.expire_once = False
            return self._answer(401, b'{"detail": "token expired"}')
        cls.requests.append(query)
        if cls.status != 200:
            return self._answer(cls.status, b"{}")
        if url.path != "/v2/auditlogs/example-org":
            return self._answer(404, b"{}")
        if cls.hostile:
            return self._answer(200, cls.hostile.pop(0))
        page = int(query["page"][0])
        first_window = query["from"] == ["2026-01-02T03:00:00Z"]
        logs = PAGES[page - 1] if first_window and page <= len(PAGES) else {"logs": []}
        return self._answer(200, json.dumps(logs).encode())

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
        pass


@pytest.fixture
def hub() -> Iterator[str]:
    HubApi.requests, HubApi.logins, HubApi.status, HubApi.hostile, HubApi.expire_once = [], 0, 200, [], False
    server = ThreadingHTTPServer(("127.0.0.1", 0), HubApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def source(url: str, secret: str = PAT) -> DockerHubAuditSource:
    return DockerHubAuditSource(url, "hub", "example-org", USER, SecretStr(secret), start=START, page_size=1,
                                clock=lambda: NOW)  # fmt: skip


def poll(url: str, cursor: Path) -> MemorySink:
    sink = MemorySink()
    Poller(source(url), sink, CursorFile(cursor), poll_seconds=0.01).run(max_idle_seconds=0.2)
    return sink


def stored(db: Path, records: list, sql: str) -> list[tuple]:
    normalizer = Normalizer()
    try:
        for _ in range(2):  # a re-delivery after a crash: stored once, by the event's digest
            DuckDBSink(db).write(normalizer.normalize(records), "poll")
    finally:
        normalizer.close()
    with store.reader(db) as con:
        return con.execute(sql).fetchall()


def test_the_poller_walks_a_windows_pages_then_the_next_windows(hub, tmp_path):
    cursor = tmp_path / "hub.cursor"
    first = poll(hub, cursor)
    assert len(first.delivered) == 2
    assert HubApi.logins == 1  # one JWT for every page
    windows = [(query["from"][0], query["to"][0], query["page"][0]) for query in HubApi.requests]
    assert windows[:4] == [
        ("2026-01-02T03:00:00Z", "2026-01-02T04:00:00Z", "1"),
        ("2026-01-02T03:00:00Z", "2026-01-02T04:00:00Z", "2"),
        ("2026-01-02T03:00:00Z", "2026-01-02T04:00:00Z", "3"),  # shorter than page_size: the window's last
        ("2026-01-02T03:59:59Z", "2026-01-02T04:59:59Z", "1"),  # the next reaches a second back
    ]
    assert windows[-1][1] == "2026-01-02T05:05:00Z"  # the clock less lag_seconds
    assert CursorFile(cursor).load()["from"] == "2026-01-02T05:04:59Z"
    assert poll(hub, cursor).delivered == []  # nothing new

    rows = stored(tmp_path / "store.duckdb", [record for _, record in first.delivered],
                  "SELECT registry, action, counted_as, actor, client_addr, repository, tag, digest"
                  " FROM counted_activity ORDER BY occurred_at")  # fmt: skip
    assert rows == [
        ("hub", "push", "push", "docker", None, "docker/example",
         "latest", "sha256:c1ae9c435032a276f80220c7d9b40f76266bbe79243d34f9cda30b76fe114dfa"),
        ("hub", "push", "push", "example-ci-user", None, "example-org/example-repo",
         "latest", "sha256:1111111111111111111111111111111111111111111111111111111111111111"),
    ]  # fmt: skip


def test_a_caught_up_source_asks_nothing_until_a_minute_of_new_window_has_closed(hub):
    now = [NOW]
    polling = DockerHubAuditSource(hub, "hub", "example-org", USER, SecretStr(PAT), start=NOW - timedelta(hours=1),
                                   clock=lambda: now[0])  # fmt: skip
    page = polling.fetch(None)  # the one window up to the clock less lag_seconds
    assert page is not None
    asked = len(HubApi.requests)
    now[0] += timedelta(milliseconds=10)  # a real clock between two fetches: no window worth a request
    assert polling.fetch(page.cursor) is None
    now[0] += timedelta(seconds=59)
    assert polling.fetch(page.cursor) is None
    assert len(HubApi.requests) == asked
    now[0] += timedelta(seconds=2)
    assert polling.fetch(page.cursor) is not None


def test_a_restart_resumes_from_the_saved_cursor_and_stores_nothing_twice(hub, tmp_path):
    cursor = tmp_path / "hub.cursor"
    first = source(hub).fetch(None)
    assert first is not None
    CursorFile(cursor).save(first.cursor)  # delivered, saved, then the process died
    HubApi.requests.clear()
    rest = poll(hub, cursor)
    assert HubApi.requests[0]["page"] == ["2"]
    assert len(rest.delivered) == 1
    records = [record for _, record in [*first.records, *rest.delivered]]
    db = tmp_path / "store.duckdb"
    stored(db, records, "SELECT 1")
    assert stored(db, records, "SELECT count(*), count(DISTINCT event_id) FROM registry_events") == [(2, 2)]


def test_a_refused_secret_is_terminal_with_a_clear_error(hub, tmp_path, caplog, monkeypatch):
    with pytest.raises(TerminalError, match=r"refused the identifier and secret \(401\)"):
        source(hub, secret="dckr_pat_wrong").fetch(None)  # noqa: S106 - a test token
    monkeypatch.setenv("REGAUDIT_DOCKERHUB__SECRET", "dckr_pat_wrong")
    code = main(["poll", "dockerhub", "--url", hub, "--account", "example-org", "--identifier", USER,
                 "--sink", "duckdb", "--db", str(tmp_path / "cli.duckdb"), "--cursor", str(tmp_path / "cli.cursor"),
                 "--until-idle", "0.1"])  # fmt: skip
    assert code == 2
    assert "refused the identifier and secret (401)" in caplog.text
    assert "dckr_pat_wrong" not in caplog.text
    assert not (tmp_path / "cli.cursor").exists()


def test_a_one_shot_poll_of_a_hub_that_stays_down_exits_75_and_keeps_no_cursor(hub, tmp_path, caplog, monkeypatch):
    HubApi.status = 503
    monkeypatch.setenv("REGAUDIT_DOCKERHUB__SECRET", PAT)
    monkeypatch.setenv("REGAUDIT_DOCKERHUB__POLL_SECONDS", "0.01")
    code = main(["poll", "dockerhub", "--url", hub, "--account", "example-org", "--identifier", USER,
                 "--sink", "duckdb", "--db", str(tmp_path / "cli.duckdb"), "--cursor", str(tmp_path / "cli.cursor"),
                 "--until-idle", "0.1"])  # fmt: skip
    assert code == 75  # not 0: a run that never reached the API did not catch up
    assert "the API failed" in caplog.text
    assert "answered 503" in caplog.text
    assert not (tmp_path / "cli.cursor").exists()


def test_an_expired_token_is_taken_again_and_a_failing_hub_is_transient(hub):
    polling = source(hub)
    first = polling.fetch(None)
    assert first is not None
    HubApi.expire_once = True
    second = polling.fetch(first.cursor)
    assert second is not None
    assert len(second.records) == 1
    assert HubApi.logins == 2
    HubApi.status = 503
    with pytest.raises(TransientError, match="answered 503"):
        polling.fetch(second.cursor)
    HubApi.status = 403
    with pytest.raises(TerminalError, match="forbids the account"):
        polling.fetch(second.cursor)


def test_a_malformed_page_is_a_dead_letter_and_the_loop_goes_on(hub, tmp_path):
    HubApi.hostile = [b"<html>maintenance</html>", b'{"logs": {"not": "a list"}}']
    sink = poll(hub, tmp_path / "hub.cursor")
    kinds = [record.kind for _, record in sink.delivered]
    assert kinds == ["deadletter", "deadletter", "event", "event"]
    reasons = [record.reason for _, record in sink.delivered[:2]]
    assert all(reason and reason.startswith("Docker Hub audit logs page refused") for reason in reasons)


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({"action": "repo.tag.push", "name": "", "timestamp": "2021-02-19T01:34:35Z"}, "without a repository"),
        ({"action": "repo.tag.push", "name": "docker/example", "timestamp": "2021-02-19T01:34:35"}, "no time zone"),
        ({"action": "repo.tag.push", "name": "docker/example"}, "timestamp"),
        ([PAGES[0]["logs"][0]], "not a JSON object"),
    ],
)
def test_an_event_hub_would_not_send_is_a_reason_never_an_exception(event, reason):
    rows, why = parse(json.dumps(event).encode())
    assert rows == []
    assert why is not None
    assert reason in why


def test_actions_other_than_tag_push_and_deletes_are_kept_as_log_entries():
    document = {**PAGES[0]["logs"][0], "action": "repo.change_privacy", "data": {}}
    [row], _ = parse(json.dumps(document).encode())
    assert (row["action"], row["target_kind"], row["repository"]) == ("repo.change_privacy", "log", "docker/example")
    deleted = {**PAGES[0]["logs"][0], "action": "repo.tag.delete"}
    [row], _ = parse(json.dumps(deleted).encode())
    assert (row["action"], row["target_kind"], row["tag"]) == ("delete", "tag", "latest")
