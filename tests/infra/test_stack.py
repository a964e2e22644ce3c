"""The real registry, nginx and skopeo, wired as production runs them, against a recording endpoint.

Each test runs for both setups: nginx checks the password (``nginx``) or the registry does (``registry``).
"""

from __future__ import annotations

import hashlib
import http.client
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.infra.oci import AMD64, ARM64, INDEX_TYPE, MANIFEST_TYPE, BuiltImage, build_image, build_index
from tests.infra.process import LOOPBACK, wait_until
from tests.infra.receiver import RecordingReceiver
from tests.infra.stack import RegistryStack
from tests.infra.stack_fixtures import STACK_TOKEN

pytestmark = pytest.mark.stack

Event = dict[str, Any]
# FORMATS.md section 3.1, in the order of the log_format.
ACCESS_LOG_KEYS = [
    "ts", "msec", "req_id", "remote_addr", "xff", "remote_user", "auth", "host", "method", "uri", "proto",
    "status", "body_bytes_sent", "request_length", "request_time", "ua", "accept", "req_ct", "range",
    "resp_ct", "digest", "location", "www_auth", "up_addr", "up_status", "up_time", "tls",
]  # fmt: skip


@pytest.fixture(params=["nginx", "registry"], ids=["nginx-auth", "registry-auth"])
def stack(request: pytest.FixtureRequest) -> RegistryStack:
    fixture = f"registry_stack_{request.param}_auth"
    return request.getfixturevalue(fixture)  # type: ignore[no-any-return]


@pytest.fixture
def image(tmp_path: Path) -> BuiltImage:
    return build_image(tmp_path / "image", "v1", seed="stack-image", layer_count=3)


def manifest_event(action: str, repository: str, digest: str, *, tag: str | None) -> Callable[[list[Event]], bool]:
    """A ``RecordingReceiver.wait_for`` predicate: that manifest event, tagged ``tag`` (None: by digest)."""

    def found(events: list[Event]) -> bool:
        return any(_is_manifest_event(e, action, repository, digest, tag) for e in events)

    return found


def _is_manifest_event(event: Event, action: str, repository: str, digest: str, tag: str | None) -> bool:
    target = event["target"]
    return bool(
        event["action"] == action
        and target["repository"] == repository
        and target["digest"] == digest
        and target.get("tag") == tag
        and target["mediaType"] != "application/octet-stream"
    )


def test_push_of_a_multi_layer_image_notifies_each_blob_and_the_tag_with_the_pushers_name(
    stack: RegistryStack, notification_receiver: RecordingReceiver, image: BuiltImage
) -> None:
    stack.skopeo.push(image, "team/app", "v1", stack.creds("ci-bot"), check=True)

    events = notification_receiver.wait_for(manifest_event("push", "team/app", image.manifest.digest, tag="v1"))
    blob_pushes = {e["target"]["digest"] for e in events if e["target"]["mediaType"] == "application/octet-stream"}
    assert blob_pushes == {blob.digest for blob in image.blobs}
    manifest = next(e for e in events if e["target"].get("tag") == "v1")
    assert [ref["digest"] for ref in manifest["target"]["references"]] == [b.digest for b in image.blobs]
    assert {e["actor"].get("name") for e in events} == {"ci-bot"}
    assert {e["request"]["addr"] for e in events} == {LOOPBACK}  # from X-Forwarded-For: no port
    first = notification_receiver.requests[0]
    assert first.headers["Authorization"] == f"Bearer {STACK_TOKEN}"
    assert first.headers["Content-Type"] == "application/vnd.docker.distribution.events.v1+json"


def test_push_of_a_multi_platform_index_pushes_each_platform_by_digest_then_the_index_by_tag(
    stack: RegistryStack, notification_receiver: RecordingReceiver, tmp_path: Path
) -> None:
    index = build_index(tmp_path / "multi", "1.0", seed="stack-index")

    stack.skopeo.push(index, "team/multi", "1.0", stack.creds("ci-bot"), check=True)

    events = notification_receiver.wait_for(manifest_event("push", "team/multi", index.index.digest, tag="1.0"))
    manifests = [e["target"] for e in events if e["target"]["mediaType"] != "application/octet-stream"]
    assert [(t["mediaType"], t["digest"], t.get("tag")) for t in manifests] == [
        *[(MANIFEST_TYPE, image.manifest.digest, None) for image in index.images],
        (INDEX_TYPE, index.index.digest, "1.0"),
    ]
    assert [ref["digest"] for ref in manifests[-1]["references"]] == [i.manifest.digest for i in index.images]
    raw = stack.skopeo.inspect("team/multi", "1.0", stack.creds("alice"), check=True).stdout
    assert f"sha256:{hashlib.sha256(raw.encode()).hexdigest()}" == index.index.digest


def test_pull_by_tag_and_by_digest_is_notified_with_the_pullers_name(
    stack: RegistryStack, notification_receiver: RecordingReceiver, image: BuiltImage, tmp_path: Path
) -> None:
    stack.skopeo.push(image, "team/app", "v1", stack.creds("ci-bot"), check=True)
    digest = image.manifest.digest

    stack.skopeo.pull("team/app", "v1", f"oci:{tmp_path / 'by-tag'}:v1", stack.creds("alice"), check=True)
    stack.skopeo.pull("team/app", digest, f"dir:{tmp_path / 'by-digest'}", stack.creds("alice"), check=True)

    expected_blobs = 2 * [blob.digest for blob in image.blobs]
    events = notification_receiver.wait_for(lambda ev: len(_blob_pulls(ev, "alice")) >= len(expected_blobs))
    pulls = [e for e in events if e["action"] == "pull"]
    manifest_pulls = [e for e in pulls if e["target"]["mediaType"] == MANIFEST_TYPE]
    assert [(e["target"]["digest"], e["target"].get("tag")) for e in manifest_pulls] == [
        (digest, "v1"),
        (digest, None),
    ]
    assert {e["actor"]["name"] for e in pulls} == {"alice"}
    assert sorted(_blob_pulls(events, "alice")) == sorted(expected_blobs)
    pulled_index = json.loads((tmp_path / "by-tag" / "index.json").read_text())
    assert pulled_index["manifests"][0]["digest"] == digest
    assert _sha256((tmp_path / "by-digest" / "manifest.json").read_bytes()) == digest


def test_pull_of_one_platform_from_an_index_names_the_platform_manifest_by_digest(
    stack: RegistryStack, notification_receiver: RecordingReceiver, tmp_path: Path
) -> None:
    index = build_index(tmp_path / "multi", "1.0", seed="stack-index")
    stack.skopeo.push(index, "team/multi", "1.0", stack.creds("ci-bot"), check=True)
    arm64 = index.image_for(ARM64)

    destination = f"oci:{tmp_path / 'arm64'}:arm64"
    stack.skopeo.pull("team/multi", arm64.manifest.digest, destination, stack.creds("alice"), check=True)

    arm64_blobs = {blob.digest for blob in arm64.blobs}
    events = notification_receiver.wait_for(lambda ev: arm64_blobs <= set(_blob_pulls(ev, "alice")))
    assert manifest_event("pull", "team/multi", arm64.manifest.digest, tag=None)(events)
    amd64_blobs = {blob.digest for blob in index.image_for(AMD64).blobs}
    assert not amd64_blobs & set(_blob_pulls(events, "alice"))


def test_wrong_password_is_refused_with_401_in_the_access_log_and_notifies_nothing(
    stack: RegistryStack, notification_receiver: RecordingReceiver, image: BuiltImage
) -> None:
    refused = stack.skopeo.push(image, "team/app", "v1", ("alice", "not-her-password"))
    # A sentinel: notifications arrive in order, so once ci-bot's push is in, alice's would have been too.
    stack.skopeo.push(image, "team/app", "v2", stack.creds("ci-bot"), check=True)

    events = notification_receiver.wait_for(manifest_event("push", "team/app", image.manifest.digest, tag="v2"))
    assert refused.returncode != 0
    assert "unauthorized" in refused.stderr
    assert not [e for e in events if e["actor"].get("name") == "alice"]
    alice_lines = [line for line in stack.nginx.access_log_entries() if line["remote_user"] == "alice"]
    assert alice_lines
    assert {line["status"] for line in alice_lines} == {"401"}
    assert {line["auth"] for line in alice_lines} == {"basic"}
    # Who refused: nginx itself (no upstream), or the registry behind it.
    assert {line["up_status"] for line in alice_lines} == ({""} if stack.auth == "nginx" else {"401"})


def test_access_log_lines_are_json_objects_with_the_formats_keys(
    stack: RegistryStack, notification_receiver: RecordingReceiver, image: BuiltImage, tmp_path: Path
) -> None:
    stack.skopeo.push(image, "team/app", "v1", stack.creds("ci-bot"), check=True)
    stack.skopeo.pull("team/app", "v1", f"oci:{tmp_path / 'pulled'}:v1", stack.creds("alice"), check=True)
    manifest_uri = "/v2/team/app/manifests/v1"
    assert wait_until(lambda: bool(_lines(stack, "GET", manifest_uri)), timeout=5)

    lines = stack.nginx.access_log_entries()
    assert all(list(line) == ACCESS_LOG_KEYS for line in lines)
    assert all(isinstance(value, str) for line in lines for value in line.values())
    assert {line["tls"] for line in lines} == {"TLSv1.3"}
    (put,) = _lines(stack, "PUT", manifest_uri)
    assert (put["status"], put["remote_user"], put["req_ct"]) == ("201", "ci-bot", MANIFEST_TYPE)
    assert put["digest"] == image.manifest.digest
    (get,) = _lines(stack, "GET", manifest_uri)
    assert (get["status"], get["remote_user"], get["resp_ct"]) == ("200", "alice", MANIFEST_TYPE)
    assert get["digest"] == image.manifest.digest


def test_every_answer_carries_the_distribution_api_version_header(stack: RegistryStack) -> None:
    connection = http.client.HTTPSConnection(LOOPBACK, int(stack.host.split(":")[1]), context=stack.nginx.ssl_context())
    try:
        connection.request("GET", "/v2/", headers={"User-Agent": "stack-test"})
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()

    assert response.status == 401  # from nginx or from the registry, depending on the setup
    assert response.getheader("Docker-Distribution-Api-Version") == "registry/2.0"
    assert response.getheader("WWW-Authenticate", "").startswith("Basic realm=")


def test_registry_retries_the_same_event_id_after_the_endpoint_answered_500(
    stack: RegistryStack, notification_receiver: RecordingReceiver, image: BuiltImage
) -> None:
    notification_receiver.fail_next(1)

    stack.skopeo.push(image, "team/app", "v1", stack.creds("ci-bot"), check=True)

    notification_receiver.wait_for(manifest_event("push", "team/app", image.manifest.digest, tag="v1"))
    failed, retried = notification_receiver.requests[:2]
    assert (failed.status, retried.status) == (500, 200)
    assert [e["id"] for e in failed.events()] == [e["id"] for e in retried.events()]
    assert failed.body == retried.body  # the same envelope, re-sent byte for byte
    metrics = stack.registry.debug_vars()["registry"]["notifications"]["endpoints"][0]["Metrics"]
    assert metrics["Failures"] == 1
    assert metrics["Statuses"]["500 Internal Server Error"] == 1


def test_delete_by_digest_notifies_the_manifest_then_each_of_its_tags_under_one_request_id(
    stack: RegistryStack, notification_receiver: RecordingReceiver, image: BuiltImage
) -> None:
    for tag in ("v1", "v2"):
        stack.skopeo.push(image, "team/app", tag, stack.creds("ci-bot"), check=True)

    stack.skopeo.delete("team/app", image.manifest.digest, stack.creds("alice"), check=True)

    def deleted(events: list[Event]) -> bool:
        return len([e for e in events if e["action"] == "delete"]) == 3

    deletes = [e for e in notification_receiver.wait_for(deleted) if e["action"] == "delete"]
    assert [e["target"] for e in deletes] == [
        {"digest": image.manifest.digest, "repository": "team/app"},  # v2.8: no mediaType, size, url
        {"repository": "team/app", "tag": "v1"},
        {"repository": "team/app", "tag": "v2"},
    ]
    assert len({e["request"]["id"] for e in deletes}) == 1
    assert {e["actor"]["name"] for e in deletes} == {"alice"}


def _blob_pulls(events: list[Event], user: str) -> list[str]:
    return [
        e["target"]["digest"]
        for e in events
        if e["action"] == "pull"
        and e["target"]["mediaType"] == "application/octet-stream"
        and e["actor"].get("name") == user
    ]


def _lines(stack: RegistryStack, method: str, uri: str) -> list[dict[str, Any]]:
    return [line for line in stack.nginx.access_log_entries() if (line["method"], line["uri"]) == (method, uri)]


def _sha256(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"
