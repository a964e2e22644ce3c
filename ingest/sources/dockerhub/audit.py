"""Parse one Docker Hub audit log event into canonical event fields, or a reason. Never raises.

Mapping (FORMATS-more-registries.md section 3.1; ``ACTIONS``):

* ``repo.tag.push``: a ``push`` of a ``manifest`` to the repository ``name``, with ``data.tag`` and
  ``data.digest``: the tag moved to that digest, so it is an interval of ``tag_history`` like a Distribution push;
* ``repo.tag.delete``: a ``delete`` of that ``tag``; ``repo.delete``: a ``delete`` of the ``repository``;
* every other action (``repo.create``, ``repo.change_privacy``, ``team.member.add``, ``access_token.create``...):
  Hub's action name as the action, about a ``log`` entry; kept in ``registry_events``, never image activity.

Hub's audit log records **no pull, no login, no failed login, no client address and no user agent**
(docker/docs ``content/manuals/docker-hub/usage/pulls.md``): those columns stay NULL, and a detection that needs
them stays quiet on this source. Who: ``actor``; when a token did it Hub decorates it as
``<user> - access token "<label>"`` and adds ``data.access_token_*``: the user is kept as the actor, the label
and the token's id stay in ``raw``. Hub gives no event id, so the id is a digest of the whole event: the same event
read twice (an overlap of windows, a page fetched again after a crash) is stored once.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import ValidationError

from regaudit.ingest.sources.distribution.envelope import deeper_than, validation_reason
from regaudit.schemas.dockerhub import AuditLog
from regaudit.schemas.registry import outside_window

REGISTRY_KIND = "dockerhub"
MAX_DEPTH = 16
#: Hub action -> (action, target_kind); any other action is (action, "log")
ACTIONS: dict[str, tuple[str, str]] = {
    "repo.tag.push": ("push", "manifest"),
    "repo.tag.delete": ("delete", "tag"),
    "repo.delete": ("delete", "repository"),
}
#: how Hub decorates the actor of an event a token caused (a Go Hub client's test fixture; FORMATS 3.1)
_TOKEN_MARK = ' - access token "'  # noqa: S105 - a marker in a name, no secret


def parse(value: bytes) -> tuple[list[dict[str, Any]], str | None]:
    """The event's canonical fields (one row), or no rows and the reason."""
    try:
        document = orjson.loads(value)
    except orjson.JSONDecodeError as error:
        return [], f"not JSON: {error}"
    if not isinstance(document, dict):
        return [], "not a Docker Hub audit log event: not a JSON object"
    if deeper_than(document, MAX_DEPTH):
        return [], f"JSON nested deeper than {MAX_DEPTH} levels"
    try:
        return _row(AuditLog.model_validate(document), document)
    except ValidationError as error:
        return [], f"not a Docker Hub audit log event: {validation_reason(error)}"
    except Exception as error:  # noqa: BLE001 - parse never raises: the event becomes a dead letter
        return [], f"invalid Docker Hub audit log event: {type(error).__name__}: {error}"


def event_id(document: dict[str, Any]) -> str:
    """An event's id: a digest of all it says, since Hub gives none (the poller and the store key by it)."""
    return hashlib.sha256(orjson.dumps(document, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]


def _row(log: AuditLog, document: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
    moment = datetime.fromisoformat(log.timestamp)
    if moment.tzinfo is None:
        return [], f"timestamp {log.timestamp!r} has no time zone"
    moment = moment.astimezone(UTC)
    if reason := outside_window(moment):
        return [], reason
    action, target_kind = ACTIONS.get(log.action, (log.action, "log"))
    repository = (log.name or "") if log.action.startswith("repo.") else ""
    if log.action in ACTIONS and "/" not in repository:
        return [], f"{log.action} without a repository name (name {log.name!r})"
    data = log.data or {}
    return [
        {
            "event_id": event_id(document),
            "event_at": moment,
            "action": action,
            "target_kind": target_kind,
            "repository": repository,
            "tag": _text(data, "tag"),
            "digest": _text(data, "digest"),
            "actor": _actor(log.actor),
            "registry_kind": REGISTRY_KIND,
            "outcome": None,
        }
    ], None


def _actor(actor: str | None) -> str | None:
    """The user behind ``<user> - access token "<label>"``; the plain actor otherwise."""
    if actor is None:
        return None
    user, marked, _ = actor.partition(_TOKEN_MARK)
    return (user or None) if marked else actor


def _text(data: dict[str, Any], key: str) -> str | None:
    """A ``data`` value when it is non-empty text (the spec says string to string; nothing else is trusted)."""
    value = data.get(key)
    return value if isinstance(value, str) and value else None
