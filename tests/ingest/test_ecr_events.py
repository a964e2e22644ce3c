"""AWS ECR records from the ECR User Guide's samples (tests/fixtures/ecr/PROVENANCE.md): the canonical rows each
call becomes, and what lands in the store (logins, refusals, pulls, pushes, deletes)."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from regaudit.ingest import store
from regaudit.ingest.normalize import Normalizer
from regaudit.ingest.records import RawRecord
from regaudit.ingest.sinks.duckdb import DuckDBSink
from regaudit.ingest.sources.ecr.events import parse
from tests.samples import RECEIVED_AT

FIXTURES = Path(__file__).parents[1] / "fixtures" / "ecr"
PUSHED = "sha256:98c8b060c21d9adbb6b8c41b916e95e6307102786973ab93a41e8b86d1fc6d3e"
LAYER = "sha256:3b37166ec61459e76e33282dda08f2a9cd698ca7e3d6bc44e6a6e7580cdeff8e"  # a layer of the guide's push
ROLE_ARN = "arn:aws:sts::123456789012:assumed-role/RoleToBeAssumed/MySessionName"


def fixture(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def derived(event_name: str, request: dict, response: dict | None = None, **extra: object) -> bytes:
    """The guide's real BatchGetImage record with only the call changed: no AWS publication holds a whole record of
    these calls (PROVENANCE.md, "Not found"); the parameters are the ECR API's request and response fields."""
    record = json.loads(fixture("cloudtrail_batch_get_image"))
    record |= {"eventName": event_name, "requestParameters": request, "responseElements": response, **extra}
    record.pop("resources")  # the pull's repository ARN; the call's own parameters name its repository
    record["eventID"] = f"{record['eventID']}-{event_name}"
    return json.dumps(record).encode()


def only(value: bytes) -> dict:
    rows, reason = parse(value)
    assert reason is None
    [row] = rows
    return row


def test_a_batch_get_image_is_a_manifest_pull_of_the_tag_asked_for_by_the_principal_from_its_address():
    row = only(fixture("cloudtrail_batch_get_image"))
    assert (row["action"], row["target_kind"], row["repository"], row["tag"], row["digest"]) == (
        "pull", "manifest", "testrepo", "latest", None)  # fmt: skip
    assert row["actor"] == "arn:aws:sts::123456789012:user/Mary_Major"
    assert (row["client_addr"], row["user_agent"]) == ("203.0.113.12", "console.amazonaws.com")
    assert (row["event_id"], row["outcome"], row["registry_kind"]) == (
        "c84f5880-c2f9-4585-9757-28fa5c1065df", "success", "ecr")  # fmt: skip
    assert row["http_method"] == "GET"  # the call returns the manifest: a download


def test_a_put_image_is_a_manifest_push_of_the_tag_with_the_digest_ecr_answered():
    row = only(fixture("cloudtrail_put_image"))
    assert (row["action"], row["target_kind"], row["tag"], row["digest"]) == ("push", "manifest", "latest", PUSHED)
    assert row["media_type"] == "application/vnd.docker.distribution.manifest.v2+json"  # from imageManifest


def test_a_lifecycle_expiry_is_a_delete_of_each_expired_digest_by_nobody_from_nowhere():
    rows, _ = parse(fixture("cloudtrail_lifecycle_expiry"))
    assert [(r["action"], r["target_kind"], r["event_id"][-2:]) for r in rows] == [
        ("delete", "digest", "aa"), ("delete", "digest", ".1")]  # fmt: skip
    assert {(r["actor"], r["client_addr"]) for r in rows} == {(None, None)}  # "AWS Internal" is not an address


def test_other_calls_are_kept_under_their_name_and_other_services_are_refused():
    assert only(fixture("cloudtrail_create_repository"))["action"] == "create_repository"
    assert only(fixture("cloudtrail_create_repository"))["target_kind"] == "api_call"
    assert parse(fixture("cloudtrail_kms_create_grant")) == ([], "not an ECR record: eventSource 'kms.amazonaws.com'")


def test_a_layer_download_is_a_blob_get_and_a_completed_upload_a_blob_push():
    pull = only(derived("GetDownloadUrlForLayer", {"registryId": "123456789012", "repositoryName": "testrepo",
                                                   "layerDigest": LAYER}))  # fmt: skip
    assert (pull["action"], pull["target_kind"], pull["digest"], pull["http_method"]) == ("pull", "blob", LAYER, "GET")
    push = only(
        derived(
            "CompleteLayerUpload",
            {"repositoryName": "testrepo", "uploadId": "u-1", "layerDigests": [LAYER]},
            {"layerDigest": LAYER, "uploadId": "u-1"},
        )
    )
    assert (push["action"], push["target_kind"], push["digest"]) == ("push", "blob", LAYER)
    started = only(derived("InitiateLayerUpload", {"repositoryName": "testrepo"}, {"uploadId": "u-1"}))
    assert (started["action"], started["target_kind"], started["digest"]) == ("push", "blob_upload", None)


def test_a_batch_delete_is_a_delete_per_image_deleted_and_a_failed_delete_per_failure():
    response = {"imageIds": [{"imageTag": "latest", "imageDigest": PUSHED}],
                "failures": [{"imageId": {"imageTag": "old"}, "failureCode": "ImageNotFound",
                              "failureReason": "Requested image not found"}]}  # fmt: skip
    rows, _ = parse(derived("BatchDeleteImage", {"repositoryName": "testrepo", "imageIds": [{"imageTag": "latest"},
                                                 {"imageTag": "old"}]}, response))  # fmt: skip
    assert [(r["action"], r["target_kind"], r["tag"], r["digest"], r["outcome"]) for r in rows] == [
        ("delete", "tag", "latest", PUSHED, "success"), ("delete", "tag", "old", None, "failure")]  # fmt: skip


def test_an_authorization_token_is_a_login_and_a_denied_call_is_the_attempt_refused():
    login = only(derived("GetAuthorizationToken", {"registryIds": ["123456789012"]}, None))
    assert (login["action"], login["target_kind"], login["repository"], login["outcome"]) == (
        "login", "registry", "", "success")  # fmt: skip
    denied = only(derived("BatchGetImage", {"repositoryName": "testrepo", "imageIds": [{"imageTag": "latest"}]},
                          errorCode="AccessDenied",
                          errorMessage="User is not authorized to perform: ecr:BatchGetImage"))  # fmt: skip
    assert (denied["action"], denied["tag"], denied["outcome"]) == ("pull", "latest", "failure")
    repush = only(derived("PutImage", {"repositoryName": "testrepo", "imageTag": "latest"},
                          errorCode="ImageAlreadyExistsException"))  # fmt: skip
    assert repush["outcome"] == "success"  # an identical re-push changed nothing; it was not refused


def test_an_assumed_role_is_its_session_arn_and_a_service_name_is_no_client_address():
    record = json.loads(fixture("cloudtrail_batch_get_image"))
    record["userIdentity"] = {
        "type": "AssumedRole",
        "arn": ROLE_ARN,
        "sessionContext": {"sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::123456789012:role/RoleToBeAssumed"}},
    }  # the CloudTrail guide's element
    record["sourceIPAddress"] = "ecr.amazonaws.com"
    row = only(json.dumps(record).encode())
    assert (row["actor"], row["client_addr"]) == (ROLE_ARN, None)


def test_eventbridge_image_actions_are_a_push_and_a_tag_delete_with_no_actor_and_scans_are_kept():
    push = only(fixture("eventbridge_image_push"))
    assert (push["action"], push["target_kind"], push["tag"], push["actor"], push["event_id"]) == (
        "push", "manifest", "latest", None, "13cde686-328b-6117-af20-0e5566167482")  # fmt: skip
    delete = only(fixture("eventbridge_image_delete"))
    assert (delete["action"], delete["target_kind"], delete["tag"]) == ("delete", "tag", "latest")
    assert only(fixture("eventbridge_image_scan"))["action"] == "ecr_image_scan"
    assert only(fixture("eventbridge_scan_resource_change"))["target_kind"] == "artifact"


def test_a_cloudtrail_record_forwarded_by_eventbridge_is_the_same_row_as_from_the_trail():
    record = json.loads(fixture("cloudtrail_put_image"))
    wrapped = {"version": "0", "id": "597eb076-4eb8-4d4b-b019-203b18a55cce",
               "detail-type": "AWS API Call via CloudTrail", "source": "aws.ecr", "account": "123456789012",
               "time": "2019-04-15T16:45:00Z", "region": "us-east-2", "resources": [], "detail": record}  # fmt: skip
    assert only(json.dumps(wrapped).encode())["event_id"] == record["eventID"]


def test_the_store_keeps_the_pull_push_and_expiry_as_activity_and_a_refused_pull_as_refused(tmp_path):
    names = ["cloudtrail_batch_get_image", "cloudtrail_put_image", "cloudtrail_lifecycle_expiry",
             "cloudtrail_create_repository", "eventbridge_image_scan"]  # fmt: skip
    bodies = [fixture(name) for name in names]
    bodies.append(derived("BatchGetImage", {"repositoryName": "testrepo", "imageIds": [{"imageTag": "v2"}]},
                          errorCode="AccessDenied"))  # fmt: skip
    bodies.append(derived("GetAuthorizationToken", {}, None))
    records = [RawRecord("event", body, f"t:{i}", RECEIVED_AT, "ecr-prod", None, None, None, "ecr")
               for i, body in enumerate(bodies)]  # fmt: skip
    normalizer = Normalizer()
    path = tmp_path / "store.duckdb"
    sink = DuckDBSink(path, 5.0, "default")
    sink.write(normalizer.normalize(records), "test")
    sink.write(normalizer.normalize(records), "test")  # a re-delivered file: nothing twice
    normalizer.close()
    with store.reader(path) as con:
        assert con.execute("SELECT count(*) FROM registry_events WHERE registry_kind = 'ecr'").fetchone() == (8,)
        counted = con.execute(
            "SELECT action, tag, counted_as::VARCHAR FROM counted_activity WHERE registry = 'ecr-prod' "
            "ORDER BY occurred_at, activity_id").fetchall()  # fmt: skip
    assert ("pull", "latest", "pull") in counted
    assert ("push", "latest", "push") in counted
    assert ("pull", "v2", "refused") in counted
    assert ("login", None, "none") in counted
    assert sum(1 for action, _, kind in counted if (action, kind) == ("delete", "delete")) == 2


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=200).map(str.encode))
def test_parse_never_raises_on_arbitrary_bytes(value):
    rows, reason = parse(value)
    assert rows or reason


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(sorted(p.stem for p in FIXTURES.glob("*.json"))), st.text(max_size=12),
       st.none() | st.integers() | st.text(max_size=8) | st.lists(st.integers(), max_size=2))  # fmt: skip
def test_parse_never_raises_on_a_published_record_with_any_key_replaced(name, key, value):
    document = json.loads(fixture(name))
    target = document.get("detail") if isinstance(document.get("detail"), dict) and key[:1] == "d" else document
    target[key if key in target or not target else next(iter(target))] = value
    rows, reason = parse(json.dumps(document).encode())
    assert rows or reason
