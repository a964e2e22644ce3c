"""JFrog Artifactory 7's request log (artifactory-request.log) as access-log rows, from the real lines of
tests/fixtures/artifactory/PROVENANCE.md: told by its shape, through ship-logs, a shipper's envelope or an import."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regaudit.cli import main
from regaudit.ingest import store
from regaudit.ingest.normalize import Normalizer
from regaudit.ingest.receive.shipper import Shipper
from regaudit.ingest.receive.tail import FileTail
from regaudit.ingest.records import RawRecord
from regaudit.ingest.sinks.duckdb import DuckDBSink
from regaudit.ingest.sinks.memory import MemorySink
from tests.samples import RECEIVED_AT

FIXTURES = Path(__file__).parents[1] / "fixtures" / "artifactory"
LOGS = sorted(FIXTURES.glob("request-log.*.log"))
BLOB = "sha256:f91dc3ff8ed55a0cfecf56a6287d4b9f7c0726e4b8269d7c312083d9da6aab87"


def lines(name: str) -> list[bytes]:
    return (FIXTURES / name).read_bytes().splitlines()


@pytest.fixture(scope="module")
def normalizer():
    n = Normalizer("default")
    yield n
    n.close()


def rows(normalizer, *values: bytes) -> list[dict]:
    records = [RawRecord("access", value, f"file:h:/p:1.0:{n}", RECEIVED_AT) for n, value in enumerate(values)]
    batch = normalizer.normalize(records)
    assert batch.dead_letters.num_rows == 0, batch.dead_letters.column("reason").to_pylist()
    return batch.access.to_pylist()


@pytest.mark.parametrize("log", LOGS, ids=lambda path: path.name)
def test_every_published_request_line_is_an_artifactory_access_row(normalizer, log):
    found = rows(normalizer, *lines(log.name))
    assert len(found) == len(lines(log.name))
    assert {row["log_format"] for row in found} == {"artifactory"}
    assert all(row["request_at"] and row["http_method"] and row["uri"] and row["status"] for row in found)


def test_a_buildkit_push_reads_as_the_docker_api_it_called(normalizer):
    upload, head = rows(normalizer, *lines("request-log.7.46.log")[4:6])
    assert (upload["http_method"], upload["endpoint"], upload["repository"], upload["status"]) == (
        "POST", "upload", "tokenservices-docker/key-manager", 202)  # fmt: skip
    assert (head["endpoint"], head["repository"], head["digest"], head["tag"], head["status"]) == (
        "blob", "tokenservices-docker/key-manager", BLOB, None, 404)  # fmt: skip
    assert (head["remote_user"], head["client_addr"], head["user_agent"]) == (
        "tokenservices-build", "10.195.80.195", "buildkit/v0.11")  # fmt: skip
    assert (head["proxy_request_id"], head["body_bytes"], head["request_seconds"]) == ("9bab4816c0b27021", 157, 0.024)
    assert head["uri"].startswith("/api/docker/tokenservices-docker/v2/")  # the line's own URL is kept


def test_manifest_requests_name_repository_and_tag_like_nginx_lines(normalizer):
    head, get = rows(normalizer, *lines("request-log.parser-tests.log"))
    for row, method in ((head, "HEAD"), (get, "GET")):
        assert (row["http_method"], row["endpoint"], row["repository"], row["tag"], row["reference"]) == (
            method, "manifest", "registry-docker-remote/alpine/curl", "latest", "latest")  # fmt: skip


def test_lengths_are_request_then_response_and_minus_one_is_unknown(normalizer):
    put, get, refused = rows(normalizer, *lines("request-log.probe-7.161.log"))
    assert (put["request_length"], put["body_bytes"], put["request_seconds"]) == (25, 0, 2.103)  # a 25-byte upload
    assert (get["request_length"], get["body_bytes"]) == (None, 25)  # its download
    assert (refused["status"], refused["remote_user"]) == (401, None)  # non_authenticated_user names nobody


def test_anonymous_is_no_identity_and_a_relative_url_gets_its_slash(normalizer):
    [row] = rows(normalizer, *lines("request-log.docs.log"))
    assert (row["remote_user"], row["uri"], row["endpoint"], row["user_agent"]) == (
        None, "/api/v1/cert/root", "other", "JFrog Access Java Client/4.1.12")  # fmt: skip


REAL = lines("request-log.parser-tests.log")[1].decode()
PATH = "/api/docker/registry-docker-remote/v2/alpine/curl/manifests/latest"


@pytest.mark.parametrize(
    ("path", "endpoint", "repository", "reference"),
    [
        ("/api/docker/registry-docker-remote/v2/", "ping", None, None),
        ("/api/docker/registry-docker-remote/v2", "ping", None, None),
        ("/api/docker/registry-docker-remote/v2/token", "token", None, None),
        ("/api/docker/registry-docker-remote/v2/_catalog", "catalog", None, None),
        ("/api/docker/registry-docker-remote/v2/alpine/curl/tags/list", "tags", "registry-docker-remote/alpine/curl",
         None),
        ("/v2/registry-docker-remote/alpine/curl/manifests/sha256:ab", "manifest",
         "registry-docker-remote/alpine/curl", "sha256:ab"),
        ("/api/npm/npm-remote/v2/x/manifests/y", "other", None, None),
    ],
)  # fmt: skip
def test_docker_api_paths_are_classified_as_nginxs(normalizer, path, endpoint, repository, reference):
    [row] = rows(normalizer, REAL.replace(PATH, path).encode())
    assert (row["endpoint"], row["repository"], row["reference"]) == (endpoint, repository, reference)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("|".join(REAL.split("|")[:10]), "nor an Artifactory request line"),  # a field short
        (REAL.replace("|200|", "|2000|"), "nor an Artifactory request line"),
        (REAL.replace("|-1|1234|", "|x|1234|"), "nor an Artifactory request line"),
        (REAL.replace("2023-06-15T", "9999-06-15T"), "outside 2000-01-01..2200-01-01"),
        (REAL.replace("2023-06-15T12", "2023-06-15T25"), "no parseable time"),
        (REAL.replace("|GET|", "||"), "nor an Artifactory request line"),
    ],
)
def test_hostile_request_lines_are_dead_letters_with_the_reason(normalizer, line, reason):
    batch = normalizer.normalize([RawRecord("access", line.encode(), "file:h:/p:1.0:0", RECEIVED_AT)])
    assert batch.counts == (0, 0, 1)
    dead = batch.dead_letters.to_pylist()[0]
    assert reason in dead["reason"]
    assert dead["raw"] == line.encode()


def test_a_line_in_a_shippers_envelope_is_unwrapped_first(normalizer):
    envelope = json.dumps({"message": REAL, "source_type": "file", "host": "rt-node-1", "file": "/var/log/x.log"})
    [row] = rows(normalizer, envelope.encode())
    assert (row["shipper"], row["log_host"], row["log_format"], row["endpoint"]) == (
        "vector", "rt-node-1", "artifactory", "manifest")  # fmt: skip


def test_ship_logs_follows_the_request_log_line_by_line(tmp_path, normalizer):
    log = tmp_path / "artifactory-request.log"
    log.write_bytes(b"".join(line + b"\n" for path in LOGS for line in lines(path.name)))
    sink = MemorySink()
    Shipper(FileTail(log, tmp_path / "pos", "rt-node-1"), sink, poll_seconds=0.01, batch_lines=5).run(
        max_idle_seconds=0.05
    )
    delivered = [record for _, record in sink.delivered]
    assert len(delivered) == sum(len(lines(path.name)) for path in LOGS)
    batch = normalizer.normalize(delivered)
    assert (batch.access.num_rows, batch.dead_letters.num_rows) == (len(delivered), 0)


def test_import_backfills_request_logs_into_the_store(tmp_path):
    db = tmp_path / "store.duckdb"
    assert main(["import", "--db", str(db), "--no-progress", *map(str, LOGS)]) == 0
    with store.reader(db) as con:
        stored = con.execute(
            "SELECT log_format, count(*), count(remote_user), count(*) FILTER (WHERE endpoint <> 'other')"
            " FROM access_log GROUP BY ALL"
        ).fetchall()
    assert stored == [("artifactory", 13, 6, 4)]  # named: admin twice, tokenservices-build twice, user1, user


def test_a_refused_manifest_request_is_a_refusal_by_its_user_and_address(tmp_path, normalizer):
    refused = REAL.replace("|200|-1|1234|", "|403|-1|0|")  # the real GET answered 403 instead
    batch = normalizer.normalize([RawRecord("access", refused.encode(), "file:h:/p:1.0:0", RECEIVED_AT)])
    DuckDBSink(tmp_path / "store.duckdb").write(batch, "test")
    with store.reader(tmp_path / "store.duckdb") as con:
        activity = con.execute(
            "SELECT action, actor, client_addr, repository, tag, source, proxy_status, counted_as FROM counted_activity"
        ).fetchall()
    assert activity == [("pull", "user", "1.2.3.4", "registry-docker-remote/alpine/curl", "latest", "proxy", 403,
                         "refused")]  # fmt: skip


FIELD = st.one_of(st.text(max_size=12), st.sampled_from(["-1", "200", "GET", "2023-06-15T12:34:56.789Z", PATH, ""]))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(FIELD, min_size=9, max_size=13).map("|".join), min_size=1, max_size=10))
def test_pipe_separated_junk_never_raises_and_every_line_lands(normalizer, generated):
    records = [
        RawRecord("access", line.encode(), f"file:h:/p:1.0:{n}", RECEIVED_AT) for n, line in enumerate(generated)
    ]
    batch = normalizer.normalize(records)
    assert batch.access.num_rows + batch.dead_letters.num_rows == len(records)


WEBHOOK = (FIXTURES / "docker-pushed.keel.json").read_bytes()  # docker-remote-cache/library/ubuntu:latest pushed
PUSH_LINE = (  # the real line of a manifest GET, as the PUT of the webhook's push that came 5 seconds after it
    REAL.replace("|GET|", "|PUT|")
    .replace(PATH, "/api/docker/docker-remote-cache/v2/library/ubuntu/manifests/latest")
    .replace("|200|", "|201|")
)


def write(db: Path, normalizer, record: RawRecord) -> None:
    DuckDBSink(db).write(normalizer.normalize([record]), "test")


def webhook(received_at) -> RawRecord:
    return RawRecord("event", WEBHOOK, "test:hook", received_at, "rt-prod", None, "application/json", None,
                     "artifactory")  # fmt: skip


def activity(db: Path) -> list[tuple]:
    with store.reader(db) as con:
        return con.execute(
            "SELECT action, source, actor, client_addr, repository, proxy_status, audit_gap, counted_as"
            " FROM counted_activity ORDER BY occurred_at, source"
        ).fetchall()


def test_a_pull_in_the_request_log_is_a_pull_not_a_gap_in_webhooks_that_never_report_pulls(tmp_path, normalizer):
    db = tmp_path / "store.duckdb"
    when = datetime(2023, 6, 15, 13, 0, tzinfo=UTC)  # the webhooks' feed is past the pull by far more than its grace
    write(db, normalizer, webhook(when))
    write(db, normalizer, RawRecord("access", REAL.encode(), "file:h:/p:1.0:0", when))
    pulls = [row for row in activity(db) if row[1] == "proxy"]
    assert pulls == [("pull", "proxy", "user", "1.2.3.4", "registry-docker-remote/alpine/curl", 200, False, "pull")]


@pytest.mark.parametrize("webhook_first", [True, False], ids=["webhook-first", "line-first"])
def test_a_webhook_push_takes_the_request_line_of_its_push(tmp_path, normalizer, webhook_first):
    db = tmp_path / "store.duckdb"
    line = RawRecord("access", PUSH_LINE.encode(), "file:h:/p:1.0:0", RECEIVED_AT)
    hook = webhook(datetime(2023, 6, 15, 12, 35, 1, tzinfo=UTC))  # JFrog's POST, 5 s after the request
    for record in (hook, line) if webhook_first else (line, hook):
        write(db, normalizer, record)
    # one push, the webhook's, with the request line's answer; the line is not a second push nor an audit gap
    assert [row[:2] + row[5:] for row in activity(db)] == [("push", "registry", 201, False, "push")]
