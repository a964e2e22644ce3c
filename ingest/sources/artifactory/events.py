"""Parse one JFrog webhook body (a Docker-domain event) into canonical event fields, or a reason. Never raises.

The receiver uses it to answer Artifactory and to key the Kafka record; the normalizer uses it again on the stored
bytes, so both judge a body the same way. What the payload does not say stays NULL (docs/sources.md): no client
address, user agent, HTTP method or media type, no pulls at all, and no identity (``source`` is kept in ``raw``).

Mapping (FORMATS-more-registries.md 5.4):

* ``pushed``: ``push`` of a ``manifest`` (the tag now points at ``sha256``), so tag history and pushes count it;
* ``deleted``: ``delete`` of a ``tag`` (the tag is gone; an overwrite is ``deleted`` then ``pushed``);
* ``promoted`` and any type JFrog adds: the type as the action, about an ``artifact``, kept and never counted.

The repository is ``<repo_key>/<image_name>``: the name a client of Artifactory's repository-path method pulls,
and the one the request log's ``/api/docker/<repo_key>/v2/<image>/...`` paths are read as, so both sources of one
Artifactory name an image alike. An event of another domain (``artifact``, ``build``...) is a dead letter: it is
not about a container image.

The payload has no time and no id. ``event_at`` is when regaudit received it (it travels with the record), and the
event id is a digest of the body and that time, so a Kafka replay is stored once; a retry by JFrog arrives later and
is stored again (nothing in the payload tells it from a second push of the same digest).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import orjson
from pydantic import ValidationError

from regaudit.ingest.sources.distribution.envelope import deeper_than, validation_reason
from regaudit.schemas.artifactory import DockerData, WebhookEvent
from regaudit.schemas.registry import outside_window

REGISTRY_KIND = "artifactory"
DOMAIN = "docker"
#: far beyond any JFrog payload (4 levels), the body is refused unopened
MAX_DEPTH = 64
_ACTIONS = {"pushed": ("push", "manifest"), "deleted": ("delete", "tag")}


def parse(value: bytes, received_at: datetime, max_depth: int = MAX_DEPTH) -> tuple[dict[str, Any] | None, str | None]:
    """The event's canonical fields, or None and the reason."""
    try:
        return _parse(value, received_at, max_depth)
    except Exception as error:  # noqa: BLE001 - parse never raises: the body becomes a dead letter
        return None, f"invalid JFrog event: {type(error).__name__}: {error}"


def _parse(value: bytes, received_at: datetime, max_depth: int) -> tuple[dict[str, Any] | None, str | None]:
    try:
        document = orjson.loads(value)
    except orjson.JSONDecodeError as error:
        return None, f"not JSON: {error}"
    if not isinstance(document, dict):
        return None, "not a JFrog event: not a JSON object"
    if deeper_than(document, max_depth):
        return None, f"JSON nested deeper than {max_depth} levels"
    if reason := outside_window(received_at):
        return None, reason
    try:
        event = WebhookEvent.model_validate(document)
        if event.domain != DOMAIN:
            return None, f"not a Docker-domain JFrog event: domain {event.domain[:100]!r}"
        data = DockerData.model_validate(event.data or {})
    except ValidationError as error:
        return None, f"not a JFrog Docker event: {validation_reason(error)}"
    return _row(event, data, document, received_at), None


def _row(event: WebhookEvent, data: DockerData, document: Any, received_at: datetime) -> dict[str, Any]:
    action, target_kind = _ACTIONS.get(event.event_type, (event.event_type, "artifact"))
    identity = orjson.dumps([document, received_at.isoformat()], option=orjson.OPT_SORT_KEYS)
    return {
        "event_id": hashlib.sha256(identity).hexdigest()[:32],
        "event_at": received_at,
        "action": action,
        "target_kind": target_kind,
        "repository": f"{data.repo_key}/{data.image_name}",
        "tag": data.tag,
        "digest": None if data.sha256 is None else f"sha256:{data.sha256}",
        "size_bytes": data.size,
        "registry_kind": REGISTRY_KIND,
    }
