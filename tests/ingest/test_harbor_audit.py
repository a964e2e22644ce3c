"""Harbor's audit-log API polled over real HTTP into the store: paging, a restart from the cursor, wrong
credentials, a hostile server. The rows are tests/fixtures/harbor/audit/audit-log-exts.*.json (PROVENANCE.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from regaudit.cli import main
from regaudit.errors import TerminalError
from regaudit.ingest import store
from regaudit.ingest.receive.poller import CursorFile, Poller
from regaudit.ingest.sinks.store import StoreRecordSink
from regaudit.ingest.sources.harbor.audit import AUDIT_LOG_EXT_TYPE, parse_entry
from regaudit.ingest.sources.harbor.audit_api import HarborAuditSource
from tests.ingest.harbor_api import HarborAuditAPI

FIXTURES = Path(__file__).parents[1] / "fixtures" / "harbor" / "audit"
ROBOT, SECRET = "robot$audit-reader", "Harbor12345-audit-reader"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
TRIVY = "robot$harbor+wHSYCuGD-Trivy-8e2e7505-d1e6-11ed-9e71-0242ac130009"
ALPINE = "sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4"


def rows(name: str) -> list[dict]:
    return json.loads((FIXTURES / name).read_text())


PORTAL = rows("audit-log-exts.portal-spec.json")  # 18 rows in one second
EVENTS = rows("audit-log-exts.webhook-events.json")  # a pull, a push, a pull by a robot, a delete


def poll(api: HarborAuditAPI, db: Path, cursor: Path, *, secret: str = SECRET, page_size: int = 5,
         endpoint: str = "auditlog-exts") -> Poller:  # fmt: skip
    source = HarborAuditSource(api.url, "harbor-prod", ROBOT, SecretStr(secret), page_size=page_size,
                               clock=lambda: NOW, endpoint=endpoint)  # fmt: skip
    sink = StoreRecordSink(db, 10.0, "harbor-prod", "poll-harbor")
    poller = Poller(source, sink, CursorFile(cursor), poll_seconds=0.01)
    try:
        poller.run(max_idle_seconds=0.1)
    finally:
        sink.close()
    return poller


def stored(db: Path, sql: str) -> list[tuple]:
    with store.reader(db) as con:
        return con.execute(sql).fetchall()


def test_pages_of_one_second_and_later_rows_are_stored_once_each(tmp_path):
    db, cursor = tmp_path / "store.duckdb", tmp_path / "harbor.cursor"
    with HarborAuditAPI(PORTAL + EVENTS, ROBOT, SECRET) as api:
        poller = poll(api, db, cursor)
    assert poller.delivered == 22
    assert {request["page"] for request in api.requests} >= {"1", "2", "3", "4"}  # 18 rows of one second: 4 pages
    assert stored(db, "SELECT count(*), count(DISTINCT event_id), min(registry), min(registry_kind) FROM "
                      "registry_events") == [(22, 22, "harbor-prod", "harbor")]  # fmt: skip
    activity = stored(db, "SELECT action, actor, repository, digest, tag, client_addr FROM image_activity "
                          "ORDER BY occurred_at")  # fmt: skip
    assert activity == [
        ("pull", "admin", "library/busybox",
         "sha256:dde8e930c7b6a490f728e66292bc9bce42efc9bbb5278bae40e4f30f6e00fe8c", None, None),
        ("push", "harbor-jobservice", "harbor/alpine", ALPINE, None, None),
        ("pull", TRIVY, "harbor/alpine", ALPINE, None, None),
        ("delete", "harbor-jobservice", "harbor/alpine",
         "sha256:2bb501e6173d9d006e56de5bce2720eb06396803300fe1687b58a7ff32bf4c14", None, None),
    ]  # fmt: skip
    assert stored(db, "SELECT count(*) FROM dead_letters") == [(0,)]


def test_a_restart_resumes_from_the_cursor_and_a_lost_cursor_stores_nothing_twice(tmp_path):
    db, cursor = tmp_path / "store.duckdb", tmp_path / "harbor.cursor"
    with HarborAuditAPI(PORTAL + EVENTS[:2], ROBOT, SECRET) as api:
        poll(api, db, cursor)
        saved = CursorFile(cursor).load()
        assert saved["since"] == "2023-04-03T06:04:53+00:00"
        api.rows += EVENTS[2:]
        api.requests.clear()
        assert poll(api, db, cursor).delivered == 2  # only the two new rows
        assert api.requests[0]["q"].startswith("op_time=[2023-04-03T06:04:53~")
        cursor.unlink()  # a crash before any cursor was saved: everything is fetched again
        assert poll(api, db, cursor).delivered == 22
    assert stored(db, "SELECT count(*), count(DISTINCT event_id) FROM registry_events") == [(22, 22)]


def test_wrong_credentials_are_refused_with_a_clear_error(tmp_path, caplog):
    with HarborAuditAPI(EVENTS, ROBOT, SECRET) as api:
        with pytest.raises(TerminalError, match=r"refused the credentials \(401\)"):
            poll(api, tmp_path / "store.duckdb", tmp_path / "harbor.cursor", secret="wrong")
        code = main(["poll", "harbor", "--url", api.url, "--username", ROBOT, "--sink", "duckdb",
                     "--db", str(tmp_path / "cli.duckdb"), "--cursor", str(tmp_path / "cli.cursor"),
                     "--until-idle", "0.1"])  # fmt: skip
    assert code == 2  # terminal: no password configured, so Harbor answers 401
    assert "refused the credentials (401)" in caplog.text
    assert not (tmp_path / "harbor.cursor").exists()


def test_a_hostile_page_is_a_dead_letter_and_polling_goes_on(tmp_path):
    db, cursor = tmp_path / "store.duckdb", tmp_path / "harbor.cursor"
    truncated = json.dumps(EVENTS).encode()[:100]
    not_rows = [{"id": "one", "op_time": "yesterday"}, 17, EVENTS[0]]
    with HarborAuditAPI(EVENTS, ROBOT, SECRET) as api:
        api.hostile = [truncated, b'{"errors":[]}', json.dumps(not_rows).encode()]
        poller = poll(api, db, cursor, page_size=100)
    reasons = [reason for (reason,) in stored(db, "SELECT reason FROM dead_letters ORDER BY reason")]
    assert [reason.split(":")[0] for reason in reasons] == [
        "Harbor audit-log page refused", "Harbor audit-log page refused",
        "not a Harbor audit-log row", "not a Harbor audit-log row",
    ]  # fmt: skip
    assert "not JSON" in reasons[0] + reasons[1]
    assert "not a JSON list" in reasons[0] + reasons[1]
    assert stored(db, "SELECT count(*), count(DISTINCT event_id) FROM registry_events") == [(4, 4)]
    assert poller.pages >= 4


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        # Harbor's DAO test rows (src/pkg/auditext/dao/dao_test.go): a push and a delete of library/hello-world
        ({"operation": "create", "resource_type": "artifact", "resource": "library/hello-world:latest"},
         ("push", "manifest", "library/hello-world", "latest", None, None)),
        ({"operation": "delete", "resource_type": "tag", "resource": "library/hello-world:latest"},
         ("delete", "tag", "library/hello-world", "latest", None, None)),
        ({"operation": "delete", "resource_type": "repository", "resource": "library/hello-world"},
         ("delete", "repository", "library/hello-world", None, None, None)),
        ({"operation": "create", "resource_type": "tag", "resource": "library/hello-world:test"},
         ("create_tag", "artifact", "library/hello-world", "test", None, None)),
        # a refused UI login (auditext/event/login/login.go: resource is the principal tried)
        ({"operation": "login", "resource_type": "user", "resource": "user01", "username": "",
          "operation_description": "login", "operation_result": False},
         ("login", "login", "", None, None, "failure")),
        ({"operation": "create", "resource_type": "user", "resource": "user01", "operation_result": True,
          "operation_description": "Create user"},
         ("create_user", "user", "", None, None, None)),
    ],
)  # fmt: skip
def test_audit_rows_map_to_actions_harbor_names(row, expected):
    value = json.dumps({"id": 1, "username": "admin", "op_time": "2025-04-14T08:00:00.000Z", **row}).encode()
    events, reason = parse_entry(value, AUDIT_LOG_EXT_TYPE)
    assert reason is None
    event = events[0]
    assert (event["action"], event["target_kind"], event["repository"], event["tag"], event["digest"],
            event["outcome"]) == expected  # fmt: skip
    assert event["event_id"] == "harbor-auditext:1"


def test_an_anonymous_pull_has_no_actor_and_the_description_gives_the_digest():
    row = {"id": 7, "username": "anonymous", "resource": "library/busybox:latest", "resource_type": "artifact",
           "operation": "pull", "operation_description": f"pull artifact: library/busybox@{ALPINE}",
           "operation_result": True, "op_time": "2025-04-14T08:00:00Z"}  # fmt: skip
    (event,), _ = parse_entry(json.dumps(row).encode(), AUDIT_LOG_EXT_TYPE)
    assert (event["actor"], event["tag"], event["digest"], event["http_method"]) == (None, "latest", ALPINE, "GET")


def test_a_refused_ui_login_is_stored_as_a_refused_login_of_the_principal_tried(tmp_path):
    login = {"id": 9, "username": "", "resource": "user01", "resource_type": "user", "operation": "login",
             "operation_description": "login", "operation_result": False,
             "op_time": "2025-04-14T08:00:00.000Z"}  # fmt: skip
    db = tmp_path / "store.duckdb"
    with HarborAuditAPI([login, {**login, "id": 10, "username": "user01", "operation_result": True}], ROBOT,
                        SECRET) as api:  # fmt: skip
        poll(api, db, tmp_path / "harbor.cursor")
    counted = stored(db, "SELECT action, actor, outcome, counted_as FROM counted_activity ORDER BY outcome")
    assert counted == [("login", "user01", "failure", "refused"), ("login", "user01", "success", "none")]


def test_the_legacy_audit_log_before_2_13_is_read_the_same_under_its_own_ids(tmp_path):
    legacy = [{key: row[key] for key in ("id", "username", "resource", "resource_type", "operation", "op_time")}
              for row in EVENTS]  # AuditLog: no description, no result  # fmt: skip
    db = tmp_path / "store.duckdb"
    with HarborAuditAPI(legacy, ROBOT, SECRET) as api:
        poll(api, db, tmp_path / "harbor.cursor", endpoint="audit-logs")
    assert {request.get("q", "")[:8] for request in api.requests} == {"op_time="}
    events = stored(db, "SELECT event_id, action, digest IS NOT NULL, outcome FROM registry_events ORDER BY event_id")
    assert events == [("harbor-audit:1", "pull", True, None), ("harbor-audit:2", "push", True, None),
                      ("harbor-audit:3", "pull", True, None), ("harbor-audit:4", "delete", True, None)]  # fmt: skip
