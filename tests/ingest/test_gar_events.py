"""Google Artifact Registry records from real samples (tests/fixtures/gar/PROVENANCE.md): the canonical rows an
audit log entry and a ``gcr`` notification become, alone or in a Pub/Sub envelope, and bad input."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from regaudit.ingest.sources.gar.events import parse
from tests.samples import RECEIVED_AT

FIXTURES = Path(__file__).parents[1] / "fixtures" / "gar"
PULLED = "sha256:a28cec80810f824b2e15005b1dc93877e1b9c7b7b3466d4f4b593c9c5db64868"
PUSHED = "sha256:17f4431497a07da98bc16e599ef9d38afb9817049b6e98b71b7e321b946a24d4"


def fixture(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def only(value: bytes) -> dict:
    row, reason = parse(value, RECEIVED_AT)
    assert reason is None
    assert row is not None
    return row


def envelope(data: bytes, message_id: str = "11053398271434491") -> bytes:
    """A push subscription's envelope (Google's "Push subscriptions" page); the ids are this test's own."""
    message = {"data": base64.b64encode(data).decode(), "messageId": message_id, "message_id": message_id,
               "publishTime": "2021-02-26T19:13:55.749Z", "publish_time": "2021-02-26T19:13:55.749Z"}  # fmt: skip
    return json.dumps({"message": message, "subscription": "projects/acme/subscriptions/regaudit"}).encode()


def changed(name: str, method: str, **request: str) -> bytes:
    """A real entry with only the method (and the request it served) changed: no real entry of a successful pull, a
    push or a delete was found (PROVENANCE.md); the method names are Google's."""
    entry = json.loads(fixture(name))
    entry["protoPayload"] |= {"methodName": method, "status": {}}
    entry["protoPayload"]["request"] |= request
    return json.dumps(entry).encode()


def test_a_denied_and_a_missing_pull_are_refused_with_who_and_from_where() -> None:
    row = only(fixture("audit_get_manifest_not_found"))
    assert {k: row[k] for k in ("action", "target_kind", "repository", "tag", "digest", "http_method", "outcome")} == {
        "action": "pull", "target_kind": "manifest", "repository": "ons-blaise-v2-prod/gcf-artifacts/publish_msg/cache",
        "tag": None, "digest": PULLED, "http_method": "GET", "outcome": "failure",
    }  # fmt: skip
    assert row["actor"] == "service-628324858917@container-analysis.iam.gserviceaccount.com"
    assert (row["client_addr"], row["request_id"]) == ("203.0.113.2", "1rtjfyxd1d41")
    head = only(fixture("audit_head_manifest_not_found"))
    assert (head["action"], head["http_method"], head["tag"], head["outcome"]) == ("pull", "HEAD", "latest", "failure")
    denied = only(fixture("audit_get_tags_denied"))
    assert (denied["action"], denied["target_kind"], denied["actor"], denied["client_addr"], denied["outcome"]) == (
        "get_tags", "api_call", None, "203.0.113.7", "failure"
    )  # fmt: skip


def test_docker_methods_map_to_pulls_pushes_and_deletes() -> None:
    name = "audit_get_manifest_not_found"
    base = "/v2/ons-blaise-v2-prod/gcf-artifacts/publish_msg/cache"
    cases = [
        ("Docker-GetManifest", {"requestUrl": f"{base}/manifests/v1"}, ("pull", "manifest", "v1", None, "success")),
        ("Docker-PutManifest", {"requestMethod": "PUT", "requestUrl": f"{base}/manifests/v1"},
         ("push", "manifest", "v1", None, "success")),
        ("Docker-ServeBlob", {"requestUrl": f"{base}/blobs/{PULLED}"}, ("pull", "blob", None, PULLED, "success")),
        ("Docker-FinishUpload", {"requestMethod": "PUT", "requestUrl": f"{base}/blobs/uploads/abc?digest={PULLED}"},
         ("push", "blob", None, PULLED, "success")),
        ("Docker-DeleteManifest", {"requestMethod": "DELETE", "requestUrl": f"{base}/manifests/{PULLED}"},
         ("delete", "digest", None, PULLED, "success")),
        ("Docker-DeleteTag", {"requestMethod": "DELETE", "requestUrl": f"{base}/manifests/v1"},
         ("delete", "tag", "v1", None, "success")),
    ]  # fmt: skip
    for method, request, expected in cases:
        row = only(changed(name, method, **request))
        assert (row["action"], row["target_kind"], row["tag"], row["digest"], row["outcome"]) == expected, method
        assert row["repository"] == "ons-blaise-v2-prod/gcf-artifacts/publish_msg/cache"


def test_an_entry_in_a_pubsub_envelope_is_the_same_event() -> None:
    assert only(envelope(fixture("audit_get_tags_denied"))) == only(fixture("audit_get_tags_denied"))


def test_a_gcr_notification_is_a_push_keyed_by_its_message_id() -> None:
    row = only(envelope(fixture("gcr_insert")))
    assert {k: row[k] for k in ("event_id", "action", "target_kind", "request_host", "repository", "tag", "digest",
                                "actor")} == {  # fmt: skip
        "event_id": "11053398271434491", "action": "push", "target_kind": "manifest", "request_host": "gcr.io",
        "repository": "freshly-docker/freshly", "tag": "PIG-267-refactor-email-service", "digest": PUSHED,
        "actor": None,
    }  # fmt: skip
    assert row["event_at"].isoformat() == "2021-02-26T19:13:55.749000+00:00"  # the message's publishTime
    bare = only(fixture("gcr_insert"))  # written to Kafka without its envelope: the receive time, a content id
    assert (bare["event_at"], bare["event_id"][:4]) == (RECEIVED_AT, "gcr-")
    untag = json.dumps({"action": "DELETE", "tag": json.loads(fixture("gcr_insert"))["tag"]}).encode()
    assert (only(untag)["action"], only(untag)["target_kind"]) == ("delete", "tag")


def test_bad_input_is_a_reason_never_an_exception() -> None:
    assert parse(b"{", RECEIVED_AT)[1].startswith("not JSON")
    assert parse(b"[]", RECEIVED_AT) == (None, "not an Artifact Registry record: not a JSON object")
    other = json.loads(fixture("audit_get_tags_denied"))
    other["protoPayload"]["serviceName"] = "cloudsql.googleapis.com"
    assert parse(json.dumps(other).encode(), RECEIVED_AT) == (
        None, "not an Artifact Registry entry: serviceName 'cloudsql.googleapis.com'"
    )  # fmt: skip
    assert parse(json.dumps({"message": {"data": "%%%"}}).encode(), RECEIVED_AT)[1].startswith("Pub/Sub message data")
    assert parse(b'{"protoPayload": {}}', RECEIVED_AT)[1].startswith("not an Artifact Registry record:")
