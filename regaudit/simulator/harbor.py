"""A simulated Harbor 2.x instance: the webhooks Harbor would POST for a month of an organisation's traffic.

The instance is its own simulated organisation (``Simulation`` at ``harbor_seed(seed)``, so the Distribution
registry's traffic, labels and seeds are untouched), served by Harbor instead of Distribution. Each notification the
registry would have sent becomes what Harbor's webhook job sends for the same request (FORMATS.md section 2;
``src/controller/event/handler/webhook/artifact/artifact.go`` in goharbor/harbor):

* a manifest push: ``PUSH_ARTIFACT``; a manifest GET: ``PULL_ARTIFACT``; a manifest delete: ``DELETE_ARTIFACT``
  with the artifact's first tag (the tag delete that follows it under the same request id), else its digest;
* nothing for blobs, mounts, HEAD checks and tag deletes: Harbor sends no event for them.

Bodies are byte for byte Harbor's renderings: the Default format is Go's ``json.Marshal`` of ``model.Payload``
(compact, struct field order; tests/fixtures/harbor/busybox-pulled.default.json is its formatter test's bytes), and
CloudEvents is sdk-go's ``WriteJson`` (``specversion, id, source, type, datacontenttype, time, data``, then the
extensions ``operator`` and ``requestid``). Each project's webhook policy picks one format, alternating by project,
so both arrive. What Harbor lacks (client address, user agent, blob pulls) is absent, as on the wire.

``labels`` keeps the instance's incidents that Harbor's data can show (``HARBOR_KINDS``: the kinds whose detections
need only what Harbor records; a test holds it to ``schemas/sources.py`` and the detections' needs), with their
Distribution event ids dropped (Harbor's event ids are digests the receiver computes).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, NamedTuple

from regaudit.simulator.engine import DEFAULT_START, Simulation
from regaudit.simulator.model import CredentialRow, Identity, Label
from regaudit.simulator.wire import go_string

#: Harbor's own host name in resource URLs (``resource_url``), as its ``core`` renders it
HARBOR_HOST = "harbor.example.com"
DEFAULT_TYPE = "application/json"
CLOUDEVENTS_TYPE = "application/cloudevents+json"
#: the incident kinds a Harbor instance's webhooks can show (see the module docstring)
HARBOR_KINDS = frozenset(
    {
        "mass_pull",
        "anonymous_pull",
        "release_tag_overwrite",
        "tag_moved_back",
        "protected_delete",
        "mass_delete",
        "first_push_to_repo",
        "off_hours_push",
        "human_push_ci_repo",
        "dormant_credential",
        "expired_credential_used",
        "never_used_credential",
        "unrotated_credential",
    }
)
_CLOUD_TYPES = {"PUSH_ARTIFACT": "harbor.artifact.pushed", "PULL_ARTIFACT": "harbor.artifact.pulled",
                "DELETE_ARTIFACT": "harbor.artifact.deleted"}  # fmt: skip
_MANIFEST = "manifest"


def harbor_seed(seed: int) -> int:
    """The Harbor instance's own simulation seed: another organisation than the registry's at ``seed``."""
    return seed + 17_000


class HarborPost(NamedTuple):
    """One POST Harbor's webhook job made: when, the Content-Type its policy's format declares, the exact body."""

    posted_at: datetime
    content_type: str
    body: bytes


@dataclass(slots=True)
class HarborTraffic:
    """A Harbor instance's simulated period: its POSTs in order, the labels it can show, who it serves (with their
    credential inventory, as Harbor's robot and user lists would give it) and its ``[org]`` settings."""

    seed: int
    posts: list[HarborPost] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    identities: list[Identity] = field(default_factory=list)
    credentials: list[CredentialRow] = field(default_factory=list)
    org: dict[str, object] = field(default_factory=dict)


def simulate_harbor(seed: int, days: int = 30, start: datetime = DEFAULT_START, scale: float = 1.0) -> HarborTraffic:
    """The Harbor instance beside the registry simulated at ``seed``: its whole period in memory."""
    simulation = Simulation(harbor_seed(seed), days, start, scale)
    traffic = HarborTraffic(seed)
    for chunk in simulation.chunks():
        traffic.posts.extend(harbor_posts(chunk.notifications))
    traffic.labels = [replace(label, event_ids=(), request_ids=(), proxy_request_ids=())
                      for label in simulation.labels if label.kind in HARBOR_KINDS]  # fmt: skip
    traffic.identities = simulation.identities
    traffic.credentials = simulation.credentials
    traffic.org = simulation.org
    return traffic


def harbor_posts(notifications: list[Any]) -> Iterator[HarborPost]:
    """What Harbor POSTs for one batch of Distribution notifications (a simulated hour, in POST order)."""
    events = [(notification.posted_at, json.loads(notification.body)["events"][0]) for notification in notifications]
    first_tags = _first_tags(event for _, event in events)
    for posted_at, event in events:
        harbor_type = _harbor_type(event)
        if harbor_type is None:
            continue
        target = event["target"]
        tag = target.get("tag") or target["digest"]  # Harbor's resource tag: the tag, else the digest
        if harbor_type == "DELETE_ARTIFACT":
            tag = first_tags.get(event["request"]["id"], tag)
        content_type, body = render(harbor_type, event, tag)
        yield HarborPost(posted_at, content_type, body)


def _first_tags(events: Iterator[dict[str, Any]]) -> dict[str, str]:
    """A manifest delete's first tag: Distribution 2.8 follows it with one tag delete per tag, same request id."""
    tags: dict[str, str] = {}
    for event in events:
        if event["action"] == "delete" and "tag" in event["target"] and "digest" not in event["target"]:
            tags.setdefault(event["request"]["id"], event["target"]["tag"])
    return tags


def _harbor_type(event: dict[str, Any]) -> str | None:
    target = event["target"]
    if event["action"] == "delete":
        return "DELETE_ARTIFACT" if "digest" in target and "tag" not in target else None
    if _MANIFEST not in target.get("mediaType", "") or "digest" not in target:
        return None  # blobs, mounts: Harbor notifies none
    if event["action"] == "push":
        return "PUSH_ARTIFACT"
    if event["action"] == "pull" and event["request"]["method"] == "GET":
        return "PULL_ARTIFACT"  # Harbor skips HEAD (FORMATS.md 2.4)
    return None


def render(harbor_type: str, event: dict[str, Any], tag: str) -> tuple[str, bytes]:
    """The body Harbor renders for this event, in its project's policy format, and its Content-Type."""
    repository = event["target"]["repository"]
    namespace, _, name = repository.partition("/")
    digest = event["target"]["digest"]
    url = f"{HARBOR_HOST}/{repository}" + (f"@{digest}" if tag == digest else f":{tag}")
    data = (
        f'{{"resources":[{{"digest":{go_string(digest)},"tag":{go_string(tag)},"resource_url":{go_string(url)}}}],'
        f'"repository":{{"date_created":{_created(repository)},"name":{go_string(name)},'
        f'"namespace":{go_string(namespace)},"repo_full_name":{go_string(repository)},'
        f'"repo_type":"{"public" if namespace == "public" else "private"}"}}}}'
    )
    occur_at = int(datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")).timestamp())
    operator = go_string(event["actor"].get("name", ""))
    project = _project_id(namespace)
    if project % 2:
        body = f'{{"type":"{harbor_type}","occur_at":{occur_at},"operator":{operator},"event_data":{data}}}'
        return DEFAULT_TYPE, body.encode()
    time = datetime.fromtimestamp(occur_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = (
        f'{{"specversion":"1.0","id":"{_uuid(event["id"])}","source":"/projects/{project}/webhook/policies/'
        f'{project + 1}","type":"{_CLOUD_TYPES[harbor_type]}","datacontenttype":"application/json",'
        f'"time":"{time}","data":{data},"operator":{operator},"requestid":{go_string(event["request"]["id"])}}}'
    )
    return CLOUDEVENTS_TYPE, body.encode()


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def _project_id(namespace: str) -> int:
    """A stable Harbor project id for a namespace (``library`` is project 1 in every Harbor)."""
    return 2 + int.from_bytes(_digest(f"project/{namespace}")[:2], "big") % 97


def _created(repository: str) -> int:
    """When Harbor created the repository: a stable moment in the year before the simulated period."""
    return (
        int(DEFAULT_START.timestamp())
        - 86_400
        - int.from_bytes(_digest(f"repo/{repository}")[:3], "big") % (365 * 86_400)
    )


def _uuid(event_id: str) -> str:
    """The CloudEvents ``id`` (a UUID per rendering), stable per event so the same seed gives the same bytes."""
    return str(uuid.UUID(bytes=_digest(f"cloudevent/{event_id}")[:16], version=4))
