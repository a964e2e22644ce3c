"""Azure Container Registry records from real samples (tests/fixtures/acr/PROVENANCE.md): the canonical rows a
resource log record and each webhook event become, Event Hub bodies with several records, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

from regaudit.ingest.normalize import Normalizer
from regaudit.ingest.records import RawRecord
from regaudit.ingest.sources.acr.events import parse
from tests.samples import RECEIVED_AT

FIXTURES = Path(__file__).parents[1] / "fixtures" / "acr"
PULLED = "sha256:2a871364028e4fcc58cb139239390bc242fa7acee3aaa22ab200422d7682084c"
PUSHED = "sha256:xxxxd5c8786bb9e621a45ece0dbxxxx1cdc624ad20da9fe62e9d25490f33xxxx"  # Microsoft's masking


def fixture(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def record() -> dict:
    return json.loads(fixture("resource_log_pull_404"))


def derived(**changes: object) -> dict:
    """The real record with only the named fields changed: no real record of a login, push, delete or untag was
    found (PROVENANCE.md); the keys are the real record's, the values Microsoft's documented ones."""
    derived_record = record()
    properties = changes.pop("properties", {})
    assert isinstance(properties, dict)
    derived_record["properties"] |= properties
    return derived_record | changes


def only(value: bytes) -> dict:
    rows, problems = parse(value)
    assert problems == []
    assert len(rows) == 1, rows
    return rows[0]


def test_a_failed_pull_by_digest_is_a_refused_pull_with_who_and_from_where() -> None:
    row = only(fixture("resource_log_pull_404"))
    assert row == {
        "event_id": row["event_id"], "event_at": row["event_at"], "action": "pull", "target_kind": "manifest",
        "repository": "tipster-service", "tag": None, "digest": PULLED, "media_type": None,
        "actor": "user@example.com", "client_addr": "203.0.113.18", "request_host": "example.azurecr.io",
        "user_agent": "acr-cleanup azsdk-go-azcontainerregistry/v0.2.2 (go1.23.5; linux)",
        "request_id": "00000000-0000-0000-0000-000000000021", "http_method": None, "outcome": "failure",
        "registry_kind": "acr",
    }  # fmt: skip
    assert row["event_at"].isoformat() == "2025-01-30T14:19:15.193173+00:00"
    assert row["event_id"].startswith("acr-")


def test_an_event_hub_body_is_its_records_and_the_same_record_has_the_same_id_in_every_form() -> None:
    lone = only(fixture("resource_log_pull_404"))
    body = json.dumps({"records": [record(), derived(properties={"tag": "v2"}, resultDescription="200")]})
    rows, problems = parse(body.encode())
    assert problems == []
    assert [(r["action"], r["tag"], r["digest"], r["outcome"]) for r in rows] == [
        ("pull", None, PULLED, "failure"),
        ("pull", "v2", None, "success"),  # a pull by tag names no digest
    ]
    assert rows[0]["event_id"] == lone["event_id"] != rows[1]["event_id"]


def test_operations_and_logins_map_to_the_canonical_actions() -> None:
    cases = {
        "Push": ("push", "manifest"),
        "Untag": ("delete", "tag"),
        "PurgeManifest": ("purge_manifest", "artifact"),
    }
    for operation, expected in cases.items():
        row = only(json.dumps(derived(operationName=operation, properties={"tag": "v1"})).encode())
        assert (row["action"], row["target_kind"]) == expected, operation
    deletes = [
        ({"tag": PULLED}, "digest"),
        ({"tag": "v1"}, "tag"),
        ({"tag": "<nil>"}, "repository"),
    ]
    for properties, kind in deletes:
        assert only(json.dumps(derived(operationName="Delete", properties=properties)).encode())["target_kind"] == kind
    login = derived(category="ContainerRegistryLoginEvents", operationName="Login", properties={"tag": "<nil>"})
    for status, outcome in (("200", "success"), ("401", "failure")):
        row = only(json.dumps(login | {"resultDescription": status}).encode())
        assert (row["action"], row["target_kind"], row["actor"], row["outcome"]) == (
            "login", "registry", "user@example.com", outcome
        )  # fmt: skip


def test_webhook_events_keep_their_request_and_name_no_actor() -> None:
    push = only(fixture("webhook_push"))
    assert (push["action"], push["target_kind"], push["tag"], push["digest"], push["size_bytes"]) == (
        "push", "manifest", "v1", PUSHED, 524
    )  # fmt: skip
    assert (push["actor"], push["client_addr"], push["http_method"], push["request_host"]) == (
        None, None, "PUT", "myregistry.azurecr.io"
    )  # fmt: skip
    delete = only(fixture("webhook_delete"))
    assert (delete["action"], delete["target_kind"], delete["tag"], delete["digest"]) == (
        "delete", "digest", None, PUSHED
    )  # fmt: skip
    for name in ("chart_push", "chart_delete"):
        chart = only(fixture(f"webhook_{name}"))
        assert (chart["action"], chart["target_kind"], chart["request_id"]) == (name, "artifact", None)


def test_bad_input_is_a_reason_never_an_exception() -> None:
    assert parse(b"not json")[1][0].startswith("not JSON")
    assert parse(b"[]") == ([], ["not an ACR record: not a JSON object"])
    assert parse(json.dumps(derived(category="AuditEvent")).encode()) == (
        [], ["not an ACR record: category 'AuditEvent'"]
    )  # fmt: skip
    other = {"records": [{"category": "AuditEvent", "operationName": "SecretGet"}]}
    assert parse(json.dumps(other).encode())[1][0].startswith("no ACR record among 1")
    rows, problems = parse(json.dumps({"records": [record(), derived(time="yesterday")]}).encode())
    assert len(rows) == 1
    assert problems[0].startswith("record 1: not an ACR record: time")


def test_a_body_with_good_and_bad_records_stores_the_good_and_keeps_the_body_as_a_dead_letter() -> None:
    body = json.dumps({"records": [record(), derived(time="yesterday")]}).encode()
    records = [RawRecord("event", body, "kafka:hub/0/7", RECEIVED_AT, "acr-prod", None, None, None, "acr")]
    normalizer = Normalizer()
    try:
        batch = normalizer.normalize(records)
    finally:
        normalizer.close()
    assert batch.events.column("action").to_pylist() == ["pull"]
    assert batch.events.column("registry").to_pylist() == ["acr-prod"]
    assert batch.dead_letters.column("raw").to_pylist() == [body]
