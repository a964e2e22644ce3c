"""GitHub's audit-log poller (GHCR's package events) against a real HTTP server speaking the REST API: an
organization's recorded events (tests/fixtures/ghcr/PROVENANCE.md) in two pages joined by a ``Link`` header, through
the poller into the store."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
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
from regaudit.ingest.sources.ghcr.audit import parse
from regaudit.ingest.sources.ghcr.audit_api import GhcrAuditSource

FIXTURES = Path(__file__).parents[1] / "fixtures" / "ghcr"
EVENTS = [json.loads(line) for line in (FIXTURES / "org-audit-log.jsonl").read_text().splitlines()]
TOKEN = "ghp_test0123456789"  # noqa: S105 - a test token
AFTER = "MS42MDAwMDAwMDAwMDBlKzEyfEV4YW1wbGU"  # the test's cursor: GitHub's is opaque


class GitHubApi(BaseHTTPRequestHandler):
    """GET /orgs/Example-Org/audit-log: three events, a Link to the next page, then the rest (and what is added)."""

    requests: list[dict[str, list[str]]] = []
    status = 200
    rate_limited = False
    hostile: list[bytes] = []
    added: list[dict[str, object]] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        url = urlparse(self.path)
        query = parse_qs(url.query)
        cls = type(self)
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._answer(401, b'{"message": "Bad credentials"}')
        cls.requests.append(query)
        if cls.status != 200:
            return self._answer(cls.status, b"{}", {"X-RateLimit-Remaining": "0"} if cls.rate_limited else {})
        if url.path != "/orgs/Example-Org/audit-log":
            return self._answer(404, b"{}")
        if cls.hostile:
            return self._answer(200, cls.hostile.pop(0))
        if query.get("after") == [AFTER]:
            return self._answer(200, json.dumps(EVENTS[3:] + cls.added).encode())
        host = self.headers["Host"]
        link = f'<http://{host}{url.path}?phrase=action%3Apackages&order=asc&per_page=3&after={AFTER}>; rel="next"'
        return self._answer(200, json.dumps(EVENTS[:3]).encode(), {"Link": link})

    def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
        pass


@pytest.fixture
def github() -> Iterator[str]:
    GitHubApi.requests, GitHubApi.status, GitHubApi.rate_limited, GitHubApi.hostile, GitHubApi.added = (
        [], 200, False, [], []
    )  # fmt: skip
    server = ThreadingHTTPServer(("127.0.0.1", 0), GitHubApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def source(url: str, token: str = TOKEN) -> GhcrAuditSource:
    return GhcrAuditSource(url, "ghcr", "Example-Org", SecretStr(token), per_page=3)


def poll(url: str, cursor: Path) -> MemorySink:
    sink = MemorySink()
    Poller(source(url), sink, CursorFile(cursor), poll_seconds=0.01).run(max_idle_seconds=0.2)
    return sink


def test_the_poller_follows_the_link_header_then_rereads_the_last_page(github, tmp_path):
    cursor = tmp_path / "ghcr.cursor"
    first = poll(github, cursor)
    assert len(first.delivered) == 5
    assert GitHubApi.requests[0] == {"phrase": ["action:packages"], "order": ["asc"], "per_page": ["3"]}
    assert GitHubApi.requests[1]["after"] == [AFTER]
    assert CursorFile(cursor).load()["after"] == AFTER
    assert poll(github, cursor).delivered == []  # the last page again: all seen
    GitHubApi.added = [{**EVENTS[4], "created_at": EVENTS[4]["created_at"] + 1}]
    assert len(poll(github, cursor).delivered) == 1  # written since: picked up

    db = tmp_path / "store.duckdb"
    normalizer = Normalizer()
    try:
        for _ in range(2):  # a re-delivery after a crash: stored once
            DuckDBSink(db).write(normalizer.normalize([record for _, record in first.delivered]), "poll")
    finally:
        normalizer.close()
    with store.reader(db) as con:
        rows = con.execute("SELECT registry_kind, action, target_kind, actor, count(*) FROM registry_events"
                           " GROUP BY ALL ORDER BY action").fetchall()  # fmt: skip
        counted = con.execute("SELECT count(*) FROM counted_activity").fetchall()
    assert rows == [
        ("ghcr", "org.invite_member", "log", "github-actor", 1),
        ("ghcr", "organization_default_label.create", "log", "github-actor", 4),
    ]
    assert counted == [(0,)]  # none of them is a package's


def test_a_restart_resumes_from_the_saved_cursor(github, tmp_path):
    cursor = tmp_path / "ghcr.cursor"
    first = source(github).fetch(None)
    assert first is not None
    CursorFile(cursor).save(first.cursor)  # delivered, saved, then the process died
    GitHubApi.requests.clear()
    rest = poll(github, cursor)
    assert GitHubApi.requests[0]["after"] == [AFTER]
    assert len(rest.delivered) == 2


def test_a_refused_token_is_terminal_with_a_clear_error(github, tmp_path, caplog, monkeypatch):
    with pytest.raises(TerminalError, match=r"refused the token .* \(401\)"):
        source(github, token="ghp_wrong").fetch(None)  # noqa: S106 - a test token
    monkeypatch.setenv("REGAUDIT_GHCR__TOKEN", "ghp_wrong")
    code = main(["poll", "ghcr", "--api-url", github, "--org", "Example-Org", "--sink", "duckdb",
                 "--db", str(tmp_path / "cli.duckdb"), "--cursor", str(tmp_path / "cli.cursor"),
                 "--until-idle", "0.1"])  # fmt: skip
    assert code == 2
    assert "(401)" in caplog.text
    assert "ghp_wrong" not in caplog.text


def test_rate_limits_and_failures_are_transient_a_forbidden_token_terminal(github):
    GitHubApi.status, GitHubApi.rate_limited = 403, True
    with pytest.raises(TransientError, match="rate limit"):
        source(github).fetch(None)
    GitHubApi.rate_limited = False
    with pytest.raises(TerminalError, match="read:audit_log"):
        source(github).fetch(None)
    GitHubApi.status = 502
    with pytest.raises(TransientError, match="answered 502"):
        source(github).fetch(None)


def test_a_malformed_page_is_a_dead_letter_and_the_loop_goes_on(github, tmp_path):
    GitHubApi.hostile = [b"<html>unicorn</html>", b'{"message": "not a list"}']
    sink = poll(github, tmp_path / "ghcr.cursor")
    kinds = [record.kind for _, record in sink.delivered]
    assert kinds == ["deadletter", "deadletter"] + ["event"] * 5


# Constructed (no real package event is published): the field names GitHub's documentation and parsers give
PACKAGE = {"action": "packages.package_version_published", "actor": "github-actor", "org": "Example-Org",
           "created_at": 1583364251067, "_document_id": "constructed-1", "package": "repo-123",
           "ecosystem": "container", "actor_ip": "192.0.2.10",
           "version": "sha256:c1ae9c435032a276f80220c7d9b40f76266bbe79243d34f9cda30b76fe114dfa"}  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, ("push", "manifest", "example-org/repo-123", PACKAGE["version"], "192.0.2.10")),
        ({"action": "packages.package_version_deleted"}, ("delete", "digest", "example-org/repo-123",
                                                           PACKAGE["version"], "192.0.2.10")),
        ({"action": "packages.package_deleted", "version": None}, ("delete", "repository", "example-org/repo-123",
                                                                    None, "192.0.2.10")),
        ({"ecosystem": "npm"}, ("packages.package_version_published", "log", "", PACKAGE["version"], "192.0.2.10")),
        ({"package": None, "actor_ip": "not-an-ip"}, ("packages.package_version_published", "log", "",
                                                      PACKAGE["version"], None)),
    ],
)  # fmt: skip
def test_package_events_of_containers_are_pushes_and_deletes(changes, expected):
    [row], _ = parse(json.dumps({**PACKAGE, **changes}).encode())
    assert (row["action"], row["target_kind"], row["repository"], row["digest"], row["client_addr"]) == expected
    assert row["event_id"] == "constructed-1"


@pytest.mark.parametrize("event", [{"action": "packages.package_deleted"}, [EVENTS[0]], {"created_at": 1}])
def test_an_event_github_would_not_send_is_a_reason_never_an_exception(event):
    rows, why = parse(json.dumps(event).encode())
    assert rows == []
    assert why
