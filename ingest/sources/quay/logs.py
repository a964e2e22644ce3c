"""Parse one Quay usage log (forwarded to Kafka, or one log of a logs API page) into canonical event fields, or a
reason. Never raises.

Mapping (FORMATS-more-registries.md section 6.2; ``KINDS``):

* ``pull_repo``: a ``pull`` of a ``manifest``, by ``tag`` or by ``manifest_digest`` as the metadata says: Quay
  logs pulls per repository and reference, so a pull by tag has no digest: it stays NULL, never looked up. Quay does
  not say GET or HEAD, so ``http_method`` is NULL;
* ``push_repo``: a ``push`` to a ``repository`` with its tag and never a digest: an image action, but no interval
  of ``tag_history`` (which needs the digest the tag moved to);
* ``delete_tag``: a ``delete`` of a ``tag`` (with its digest when the metadata has one);
* ``login_success`` / ``login_failure``: action ``login`` with ``outcome`` ``success`` / ``failure`` (schema
  version 9): a failed login counts as refused, like a 401 the proxy saw;
* ``pull_repo_failed``, ``push_repo_failed``, ``delete_tag_failed``: the attempted action with ``outcome``
  ``failure`` (Quay logs them only with its ``ACTION_LOG_AUDIT_*_FAILURES`` switches on);
* every other kind (``create_tag``, ``move_tag``, ``revert_tag``, ``manifest_label_add``, ``create_robot``...):
  Quay's kind name as the action, about a ``log`` entry, with the tag and digest its metadata names; kept in
  ``registry_events``, never counted as image activity.

Who: the performer's name (the API's ``performer.name``, the forwarded ``performer_username`` of extended
logging), else the robot a failed login claimed, else the metadata's ``username``. A forwarded entry names its kind
and performer by database ids only; the kind is named through the log kinds table (``load_kinds``), the performer
stays NULL unless extended logging or the metadata names it. The event id of a forwarded entry is Quay's own
``random_id``; an API log has none, so its id is a digest of what it says, and the same entry read both ways is two
events.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from regaudit.ingest.sources.distribution.envelope import deeper_than, validation_reason
from regaudit.schemas.quay import ApiLog, ForwardedLogEntry
from regaudit.schemas.registry import outside_window

REGISTRY_KIND = "quay"
_PACKAGE = "regaudit.ingest.sources.quay"
MAX_DEPTH = 64
#: Quay kind -> (action, target_kind, outcome); any other kind is (kind, "log", None)
KINDS: dict[str, tuple[str, str, str | None]] = {
    "pull_repo": ("pull", "manifest", None),
    "pull_repo_failed": ("pull", "manifest", "failure"),
    "push_repo": ("push", "repository", None),
    "push_repo_failed": ("push", "repository", "failure"),
    "delete_tag": ("delete", "tag", None),
    "delete_tag_failed": ("delete", "tag", "failure"),
    "login_success": ("login", "login", "success"),
    "login_failure": ("login", "login", "failure"),
}
_IMAGE_ACTIONS = ("pull", "push", "delete")


def load_kinds(path: Path | None = None) -> dict[int, str]:
    """Quay's log kinds by database id: ``path`` (``{"<id>": "<name>"}``, exported from Quay's ``logentrykind``
    table), else the table of a database Quay's migrations created (``log_kinds.json``, read from a real install)."""
    text = path.read_text("utf-8") if path else resources.files(_PACKAGE).joinpath("log_kinds.json").read_text("utf-8")
    return {int(kind_id): str(name) for kind_id, name in json.loads(text).items()}


def parse(
    value: bytes, kinds: Mapping[int, str], max_depth: int = MAX_DEPTH
) -> tuple[list[dict[str, Any]], str | None]:
    """The log's canonical fields (one row), or no rows and the reason."""
    try:
        document = orjson.loads(value)
    except orjson.JSONDecodeError as error:
        return [], f"not JSON: {error}"
    if not isinstance(document, dict):
        return [], "not a Quay log: not a JSON object"
    if deeper_than(document, max_depth):
        return [], f"JSON nested deeper than {max_depth} levels"
    try:
        if "kind_id" in document:
            return _forwarded(ForwardedLogEntry.model_validate(document), kinds)
        return _from_api(ApiLog.model_validate(document), document)
    except ValidationError as error:
        return [], f"not a Quay log: {validation_reason(error)}"
    except Exception as error:  # noqa: BLE001 - parse never raises: the log becomes a dead letter
        return [], f"invalid Quay log: {type(error).__name__}: {error}"


def _forwarded(entry: ForwardedLogEntry, kinds: Mapping[int, str]) -> tuple[list[dict[str, Any]], str | None]:
    kind = kinds.get(entry.kind_id)
    if kind is None:
        return [], f"Quay log kind_id {entry.kind_id} is not in the log kinds table (quay.log_kinds_file)"
    moment = datetime.fromisoformat(entry.datetime)
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    metadata = entry.metadata or {}
    facts = {
        "event_id": str(entry.random_id),
        "actor": entry.performer_username,
        "client_addr": entry.ip,
        "user_agent": entry.user_agent,
        "http_method": entry.http_method,
        "request_id": entry.request_id,
        "url": entry.request_url,
        "namespace": entry.namespace_name,
        "repository_name": entry.repository_name,
    }
    return _row(kind, moment, metadata, facts)


def _from_api(log: ApiLog, document: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
    moment = parsedate_to_datetime(log.datetime).astimezone(UTC)
    performer = log.performer.name if log.performer else None
    facts = {
        "event_id": api_event_id(document),
        "actor": performer,
        "client_addr": log.ip,
        "user_agent": None,
        "http_method": None,
        "request_id": None,
        "url": None,
        "namespace": log.namespace.name if log.namespace else None,
        "repository_name": None,
    }
    return _row(log.kind, moment, log.metadata or {}, facts)


def api_event_id(document: dict[str, Any]) -> str:
    """An API log's id: a digest of what it says (kind, time, address, performer, metadata, namespace), since the
    API gives none; the poller skips what it delivered by it, the store keys the row by it."""
    performer, namespace = document.get("performer"), document.get("namespace")
    identity = orjson.dumps(
        [document.get("kind"), document.get("datetime"), document.get("ip"),
         performer.get("name") if isinstance(performer, dict) else None, document.get("metadata"),
         namespace.get("name") if isinstance(namespace, dict) else None],
        option=orjson.OPT_SORT_KEYS,
    )  # fmt: skip
    return hashlib.sha256(identity).hexdigest()[:32]


def _row(
    kind: str, moment: datetime, metadata: dict[str, Any], facts: dict[str, Any]
) -> tuple[list[dict[str, Any]], str | None]:
    if reason := outside_window(moment):
        return [], reason
    action, target_kind, outcome = KINDS.get(kind, (kind, "log", None))
    repository = _repository(metadata, facts)
    if action in _IMAGE_ACTIONS and not repository:
        return [], f"{kind} without metadata repo and namespace"
    actor = facts["actor"] or (_text(metadata, "robot") if action == "login" else None) or _text(metadata, "username")
    return [
        {
            "event_id": facts["event_id"],
            "event_at": moment,
            "action": action,
            "target_kind": target_kind,
            "repository": repository,
            "tag": _text(metadata, "tag"),
            "digest": _text(metadata, "manifest_digest") or _text(metadata, "digest"),
            "media_type": _text(metadata, "mediaType"),
            "url": facts["url"],
            "request_id": facts["request_id"],
            "http_method": facts["http_method"],
            "client_addr": facts["client_addr"],
            "user_agent": facts["user_agent"] or _text(metadata, "user-agent") or _text(metadata, "useragent"),
            "actor": actor,
            "registry_kind": REGISTRY_KIND,
            "outcome": outcome,
        }
    ], None


def _repository(metadata: dict[str, Any], facts: dict[str, Any]) -> str:
    """``namespace/repo`` from the metadata (every repository kind names both), else extended logging's names."""
    namespace = _text(metadata, "namespace") or facts["namespace"]
    name = _text(metadata, "repo") or facts["repository_name"]
    return f"{namespace}/{name}" if namespace and name else ""


def _text(metadata: dict[str, Any], key: str) -> str | None:
    """A metadata value when it is non-empty text; Quay's metadata is free-form, anything else is not trusted."""
    value = metadata.get(key)
    return value if isinstance(value, str) and value else None
