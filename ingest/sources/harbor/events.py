"""Parse one Harbor webhook body (Default or CloudEvents 1.0) into canonical event fields, or a reason. Never raises.

The receiver uses it to answer Harbor and to key the Kafka record; the normalizer uses it again on the stored bytes,
so both judge a body the same way. What Harbor does not report stays NULL (docs/sources.md): no client address,
user agent, HTTP method or size in any webhook, and blob downloads produce no event at all.

Mapping (FORMATS.md section 2):

* ``PUSH_ARTIFACT``, ``PULL_ARTIFACT``: ``push``/``pull`` of a ``manifest``. Harbor fires a pull for a manifest GET
  that succeeded and never for a HEAD or a 304 (FORMATS.md 2.4), so a Harbor pull's
  ``http_method`` is ``GET``: a download, not an existence check. It is the one request field Harbor implies;
* ``DELETE_ARTIFACT``: ``delete`` of a ``digest`` (the root artifact; ``tag`` is its first tag only);
* every other type (scans, quota, tag creation, replication, retention, a type Harbor adds later): the type in
  lower case as the action, about an ``artifact`` (events with resources), a ``replication`` or a ``retention``
  policy run; they are kept in ``registry_events`` and never counted as image activity.

``tag`` is NULL when Harbor put the digest there (an operation by digest). Harbor's Default payload has no id and
is rendered once (a retry resends the same bytes), and each webhook policy delivers its own copy, so the event id
is a digest of what the event says (type, time, operator, data and, for CloudEvents, the request id): a retry or a
second policy's copy is stored once. The CloudEvents ``id`` differs per policy, so it is not the key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import ValidationError

from regaudit.ingest.sources.distribution.envelope import deeper_than, validation_reason
from regaudit.schemas.harbor import CLOUDEVENTS_TYPES, CloudEvent, DefaultPayload, EventData, Resource
from regaudit.schemas.registry import EARLIEST_AT, LATEST_AT, TIME_WINDOW

REGISTRY_KIND = "harbor"
#: the content types Harbor declares (formats/default.go, formats/cloudevents.go)
ENVELOPE_TYPES = ("application/json", "application/cloudevents+json")
#: scan overviews nest about 6 levels; far beyond any Harbor payload, the body is refused unopened
MAX_DEPTH = 64
_ARTIFACT_ACTIONS = {"PUSH_ARTIFACT": "push", "PULL_ARTIFACT": "pull", "DELETE_ARTIFACT": "delete"}


@dataclass(frozen=True)
class HarborEvent:
    """What both payload formats say, under Harbor's own type names."""

    harbor_type: str
    occurred_at: datetime
    operator: str | None
    request_id: str | None
    data: EventData
    identity: bytes  # the canonical bytes the event id is a digest of


def parse(value: bytes, max_depth: int = MAX_DEPTH) -> tuple[list[dict[str, Any]], str | None]:
    """The event's canonical fields, one dict per artifact (at least one), or no rows and the reason."""
    try:
        event, reason = _event(value, max_depth)
        if event is None:
            return [], reason
        return _rows(event)
    except Exception as error:  # noqa: BLE001 - parse never raises: the body becomes a dead letter
        return [], f"invalid Harbor event: {type(error).__name__}: {error}"


def _event(value: bytes, max_depth: int) -> tuple[HarborEvent | None, str | None]:
    try:
        document = orjson.loads(value)
    except orjson.JSONDecodeError as error:
        return None, f"not JSON: {error}"
    if not isinstance(document, dict):
        return None, "not a Harbor event: not a JSON object"
    if deeper_than(document, max_depth):
        return None, f"JSON nested deeper than {max_depth} levels"
    try:
        if "specversion" in document:
            return _cloud_event(document), None
        return _default_event(document)
    except ValidationError as error:
        return None, f"not a Harbor event: {validation_reason(error)}"


def _default_event(document: dict[str, Any]) -> tuple[HarborEvent | None, str | None]:
    payload = DefaultPayload.model_validate(document)
    if not EARLIEST_AT.timestamp() <= payload.occur_at < LATEST_AT.timestamp():
        return None, f"occur_at {payload.occur_at} outside {TIME_WINDOW}"
    data = payload.event_data or EventData()
    raw_data = document.get("event_data")
    identity = orjson.dumps([payload.type, payload.occur_at, payload.operator, raw_data, None], option=_SORTED)
    occurred_at = datetime.fromtimestamp(payload.occur_at, UTC)
    return HarborEvent(payload.type, occurred_at, payload.operator, None, data, identity), None


def _cloud_event(document: dict[str, Any]) -> HarborEvent:
    event = CloudEvent.model_validate(document)
    harbor_type = CLOUDEVENTS_TYPES.get(event.type, event.type)
    seconds = int(event.time.timestamp())
    identity = orjson.dumps(
        [harbor_type, seconds, event.operator, document.get("data"), event.requestid], option=_SORTED
    )
    return HarborEvent(harbor_type, event.time, event.operator, event.requestid, event.data or EventData(), identity)


_SORTED = orjson.OPT_SORT_KEYS


def _rows(event: HarborEvent) -> tuple[list[dict[str, Any]], str | None]:
    action = _ARTIFACT_ACTIONS.get(event.harbor_type)
    resources = event.data.resources or []
    repository = event.data.repository.repo_full_name if event.data.repository else None
    if action is not None:
        if repository is None:
            return [], f"{event.harbor_type} without event_data.repository.repo_full_name"
        if not resources or any(resource.digest is None for resource in resources):
            return [], f"{event.harbor_type} without a resource digest"
    event_id = hashlib.sha256(event.identity).hexdigest()[:32]
    common = {
        "event_at": event.occurred_at,
        "action": action or event.harbor_type.lower(),
        "request_id": event.request_id,
        "http_method": "GET" if action == "pull" else None,
        "actor": event.operator or None,  # "" is an anonymous pull
        "registry_kind": REGISTRY_KIND,
    }
    if not resources:
        kind = "replication" if event.data.replication else "retention" if event.data.retention else "unknown"
        return [{**common, **_empty_resource(), "event_id": event_id, "target_kind": kind,
                 "repository": repository or ""}], None  # fmt: skip
    target_kind = {"push": "manifest", "pull": "manifest", "delete": "digest"}.get(action or "", "artifact")
    return [
        {**common, **_resource(resource), "event_id": event_id if index == 0 else f"{event_id}.{index}",
         "target_kind": target_kind, "repository": repository or ""}
        for index, resource in enumerate(resources)
    ], None  # fmt: skip


def _resource(resource: Resource) -> dict[str, Any]:
    tag = None if resource.tag == resource.digest else resource.tag
    return {"digest": resource.digest, "tag": tag, "url": resource.resource_url}


def _empty_resource() -> dict[str, Any]:
    return {"digest": None, "tag": None, "url": None}
