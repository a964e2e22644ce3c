"""Red Hat Quay usage logs: forwarded entries and logs API logs into canonical rows, and what the store counts them as.

The fixtures are the usage logs of a real Quay 3.12 install (tests/fixtures/quay/PROVENANCE.md). The cases of
kinds no capture holds (pull_repo, login_failure, the *_failed kinds) carry the metadata Quay's code writes for them
(util/audit.py, endpoints/v2/manifest.py, auth/credentials.py), with the install's values.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from regaudit.analytics.runner import analyze
from regaudit.analytics.settings import AnalyticsSettings, OrgSettings
from regaudit.ingest import store
from regaudit.ingest.normalize import Normalizer
from regaudit.ingest.records import RawRecord
from regaudit.ingest.sinks.duckdb import DuckDBSink
from regaudit.ingest.sources.quay.logs import load_kinds, parse

FIXTURES = Path(__file__).parents[1] / "fixtures" / "quay"
KINDS = load_kinds()
AT = datetime(2026, 7, 31, 13, 0, tzinfo=UTC)
AGENT = "containers/5.34.3 (github.com/containers/image)"
DIGEST = "sha256:" + "7" * 64


def forwarded() -> list[bytes]:
    lines = (FIXTURES / "forwarded-omr-v2.0.11.jsonl").read_text().splitlines()
    return [json.loads(line)["value"].encode("ascii") for line in lines]


def api_logs() -> list[bytes]:
    pages = [json.loads((FIXTURES / f"api-organization-init-page{n}.json").read_text()) for n in (1, 2)]
    return [json.dumps(log).encode() for page in pages for log in page["logs"]]


def entry(kind: str, metadata: dict, performer: str | None = "init") -> bytes:
    """An API log of ``kind`` as Log.to_dict renders it, at the install's address."""
    log = {"kind": kind, "metadata": metadata, "ip": "10.88.0.1", "datetime": "Fri, 31 Jul 2026 12:40:00 -0000"}
    if performer:
        log["performer"] = {"kind": "user", "name": performer, "is_robot": False}
    return json.dumps(log).encode()


def pull(**reference: str) -> dict:
    return {"repo": "shared", "namespace": "init", "user-agent": AGENT, "username": "init", **reference}


def store_records(path: Path, values: list[bytes], registry: str = "quay-omr") -> None:
    records = [RawRecord("event", v, f"test:{i}", AT, registry, registry_kind="quay") for i, v in enumerate(values)]
    normalizer = Normalizer()
    try:
        DuckDBSink(path).write(normalizer.normalize(records), "test")
    finally:
        normalizer.close()


def rows(path: Path, sql: str) -> list[tuple]:
    with store.reader(path) as con:
        return con.execute(sql).fetchall()


def test_a_forwarded_entry_is_named_through_the_kind_ids_and_keyed_by_its_random_id():
    login, push = (parse(value, KINDS)[0][0] for value in forwarded()[:2])
    assert (login["action"], login["outcome"], login["actor"], login["client_addr"], login["user_agent"]) == (
        "login", "success", None, "10.88.0.1", AGENT,
    )  # fmt: skip  # performer_id only: who stays NULL
    assert (push["event_id"], push["action"], push["repository"], push["tag"], push["digest"], push["actor"]) == (
        json.loads(forwarded()[1])["random_id"], "push", "init/test-image", "v1", None, "init",
    )  # fmt: skip
    assert push["event_at"] == datetime(2026, 7, 31, 12, 38, 55, 634559, tzinfo=UTC)


def test_an_api_log_names_its_performer_and_parses_its_rfc_2822_time():
    [login] = parse(api_logs()[-1], KINDS)[0]
    assert (login["action"], login["outcome"], login["actor"]) == ("login", "success", "init")
    assert login["event_at"] == datetime(2026, 7, 31, 12, 36, 43, tzinfo=UTC)


def test_a_pull_keeps_the_reference_quay_logged_and_invents_no_digest():
    by_tag = parse(entry("pull_repo", pull(tag="v2")), KINDS)[0][0]
    oci = "application/vnd.oci.image.manifest.v1+json"
    by_digest = parse(entry("pull_repo", pull(manifest_digest=DIGEST, mediaType=oci)), KINDS)[0][0]
    assert (by_tag["action"], by_tag["tag"], by_tag["digest"], by_tag["http_method"]) == ("pull", "v2", None, None)
    assert (by_digest["tag"], by_digest["digest"]) == (None, DIGEST)
    assert by_digest["media_type"] == oci


def test_a_failed_robot_login_is_a_refused_login_of_the_robot_it_claimed():
    metadata = {"type": "v2auth", "kind": "robot", "robot": "init+ci", "username": "init", "useragent": AGENT,
                "message": "Could not find robot with specified username"}  # fmt: skip
    [row] = parse(entry("login_failure", metadata, performer=None), KINDS)[0]
    assert (row["action"], row["outcome"], row["actor"], row["repository"]) == ("login", "failure", "init+ci", "")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"not json", "not JSON"),
        (b"[]", "not a Quay log: not a JSON object"),
        (b'{"kind_id": 9999, "random_id": "x", "datetime": "2026-07-31T12:00:00"}', "Quay log kind_id 9999"),
        (b'{"kind": "pull_repo", "datetime": "yesterday"}', "invalid Quay log"),
        (b'{"kind": "pull_repo", "metadata": {}, "datetime": "Fri, 31 Jul 2026 12:40:00 -0000"}', "pull_repo without"),
        (b'{"kind": "pull_repo", "datetime": "Fri, 31 Jul 1026 12:40:00 -0000"}', "timestamp 1026"),
    ],
)
def test_what_is_not_a_quay_log_gets_a_reason(value, reason):
    found, why = parse(value, KINDS)
    assert found == []
    assert why is not None
    assert reason in why


@given(st.binary(max_size=512))
def test_parse_never_raises_on_arbitrary_bytes(value):
    found, reason = parse(value, KINDS)
    assert bool(found) != bool(reason)


def test_quay_logs_in_the_store_pushes_pulls_and_refusals(tmp_path):
    db = tmp_path / "store.duckdb"
    failed_pull = {"namespace": "init", "repo": "shared", "tag": "v9", "message": "Tag v9 not found"}
    failed_login = {"type": "v2auth", "kind": "app_specific_token", "useragent": AGENT, "message": "Invalid token"}
    extra = [entry("pull_repo", pull(tag="v2")), entry("pull_repo_failed", failed_pull, performer=None),
             entry("login_failure", failed_login, performer=None), b"{}"]  # fmt: skip
    store_records(db, [*forwarded(), *extra])
    store_records(db, forwarded())  # a replay: stored once, by random_id
    activity = rows(db, "SELECT action, counted_as, outcome, actor, repository, tag, digest FROM counted_activity"
                        " WHERE registry = 'quay-omr' ORDER BY occurred_at, action, counted_as")  # fmt: skip
    assert activity == [
        ("login", "none", "success", None, "", None, None),
        ("push", "push", None, "init", "init/test-image", "v1", None),
        ("push", "push", None, "init", "init/shared", "v1", None),
        ("push", "push", None, "init", "init/shared", "v2", None),
        ("login", "refused", "failure", None, "", None, None),
        ("pull", "pull", None, "init", "init/shared", "v2", None),
        ("pull", "refused", "failure", None, "init/shared", "v9", None),
    ]
    assert rows(db, "SELECT registry_kind, count(*) FROM registry_events GROUP BY ALL") == [("quay", 7)]
    assert rows(db, "SELECT count(*) FROM tag_history WHERE registry = 'quay-omr'") == [(0,)]  # no digest, no move
    [(reason,)] = rows(db, "SELECT reason FROM dead_letters")
    assert reason.startswith("not a Quay log")


def test_a_deployment_with_its_own_kind_ids_names_them_from_its_file(tmp_path):
    kinds_file = tmp_path / "kinds.json"
    kinds_file.write_text(json.dumps({"7": "pull_repo"}))
    value = json.dumps({"random_id": "r1", "kind_id": 7, "ip": "10.0.0.1", "datetime": "2026-07-31T12:00:00",
                        "metadata": pull(tag="v1")}).encode()  # fmt: skip
    assert parse(value, load_kinds(kinds_file))[0][0]["action"] == "pull"
    assert parse(value, KINDS)[0][0]["action"] == "add_repo_permission"  # id 7 of Quay's own table


def test_failed_quay_logins_feed_the_brute_force_detection(tmp_path):
    db = tmp_path / "store.duckdb"
    metadata = {"type": "v2auth", "kind": "robot", "robot": "init+ci", "username": "init", "useragent": AGENT,
                "message": "Could not find robot with specified username"}  # fmt: skip
    failures = []
    for second in range(16):  # over the detection's 15 in an hour
        log = json.loads(entry("login_failure", metadata, performer=None))
        log["datetime"] = f"Fri, 31 Jul 2026 12:40:{second:02d} -0000"
        failures.append(json.dumps(log).encode())
    store_records(db, failures)
    now = datetime(2026, 7, 31, 14, 0, tzinfo=UTC)
    report = analyze(db, OrgSettings(), AnalyticsSettings(), now=now, include=["proxy.bruteforce_by_user"])
    [hit] = report.hits
    assert hit.subject == "init+ci" or "init+ci" in hit.summary
    assert len(hit.evidence_ids) == 16
    # each failure's evidence names the row it is: Quay's failed logins are image_activity rows, not proxy lines
    ids = [evidence.removeprefix("image_activity:") for evidence in hit.evidence_ids]
    assert all(evidence.startswith("image_activity:") for evidence in hit.evidence_ids)
    with duckdb.connect(str(db), read_only=True) as con:
        found = con.execute("SELECT count(*) FROM image_activity WHERE list_contains(?, activity_id)", [ids])
        assert found.fetchone() == (16,)
