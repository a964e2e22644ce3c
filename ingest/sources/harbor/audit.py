"""Parse one Harbor audit-log row (from the API, or a forwarded syslog line) into canonical event fields, or a reason.
Never raises.

Both say the same thing (FORMATS.md 2.5, FORMATS-more-registries.md 7): an ``operation`` on a ``resource_type``, by a
``username``, at ``op_time``. Mapping:

* ``create``/``pull``/``delete`` on an ``artifact``: ``push``/``pull`` of a ``manifest``, ``delete`` of a ``digest``
  (Harbor's audit rows of ``PushArtifactEvent``, ``PullArtifactEvent``, ``DeleteArtifactEvent``; a pull is a manifest
  GET, like the webhook's: Harbor audits neither HEAD nor blobs);
* ``login``/``logout`` of a ``user`` (2.13+, UI and OIDC logins only: ``docker login`` is not audited): action
  ``login``/``logout`` about a ``login``, as Quay's logins (schema version 9);
* ``delete`` of a ``tag`` or a ``repository``: ``delete`` of that ``tag`` or ``repository``, as Distribution's;
* everything else: Harbor's own event-type key ``<operation>_<resource_type>`` as the action (``create_tag``, as the
  webhook's, ``create_project``, ``create_robot``, ``update_configuration``...), kept in ``registry_events`` and never
  counted as image activity.

``outcome`` (schema version 9): ``failure`` when an extended row's ``operation_result`` is false (a refused UI login,
the one failure Harbor audits), ``success`` for a login it says succeeded, else NULL: the legacy table and a syslog
line carry no result.

``resource`` is ``<repository>:<tag>`` or ``<repository>@<digest>`` (``controller/event/topic.go``); an extended row's
``operation_description`` (``pull artifact: <repository>@<digest>``) gives the digest a tagged row lacks. ``username``
``anonymous`` is NULL, as the webhook's ``""``; a login row without one names the principal it tried as its ``resource``
(``auditext/event/login/login.go``), which is then the actor. No client address, user agent or size: Harbor records
none. The event id is the row id under the endpoint's prefix (the two tables number separately); a syslog line has no
id, so its id is a digest of its Harbor message (FORMATS-more-registries.md 7).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from regaudit.ingest.sources.distribution.envelope import validation_reason
from regaudit.schemas.harbor import AuditLogEntry
from regaudit.schemas.registry import EARLIEST_AT, LATEST_AT, TIME_WINDOW

#: the content types regaudit marks its Harbor audit records with (Harbor declares none: these name the source)
AUDIT_LOG_TYPE = "application/x.harbor.audit-log+json"
AUDIT_LOG_EXT_TYPE = "application/x.harbor.auditlog-ext+json"
AUDIT_TYPES = {AUDIT_LOG_TYPE: "harbor-audit", AUDIT_LOG_EXT_TYPE: "harbor-auditext"}
_ARTIFACT_ACTIONS = {"create": "push", "pull": "pull", "delete": "delete"}
_IMAGE_ACTIONS = ("push", "pull", "delete")
_DIGEST = re.compile(r"@(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$")
_MAX_ENTRY_BYTES = 64 * 1024


def parse_entry(value: bytes, content_type: str) -> tuple[list[dict[str, Any]], str | None]:
    """One API row (JSON) as the canonical fields of one event, or no rows and the reason."""
    try:
        if len(value) > _MAX_ENTRY_BYTES:
            return [], f"Harbor audit row of {len(value)} bytes, over {_MAX_ENTRY_BYTES}"
        try:
            entry = AuditLogEntry.model_validate_json(value)
        except ValidationError as error:
            return [], f"not a Harbor audit-log row: {validation_reason(error)}"
        return audit_rows(entry, f"{AUDIT_TYPES.get(content_type, 'harbor-audit')}:{entry.id}")
    except Exception as error:  # noqa: BLE001 - parse never raises: the row becomes a dead letter
        return [], f"invalid Harbor audit-log row: {type(error).__name__}: {error}"


def audit_rows(entry: AuditLogEntry, event_id: str) -> tuple[list[dict[str, Any]], str | None]:
    """The event fields of one audit row, API or syslog alike."""
    if not EARLIEST_AT <= entry.op_time < LATEST_AT:
        return [], f"op_time {entry.op_time.isoformat()} outside {TIME_WINDOW}"
    operation = entry.operation.lower()
    resource_type = (entry.resource_type or "").lower()
    repository, tag, digest = split_resource(entry.resource or "", resource_type)
    digest = digest or _described_digest(entry.operation_description)
    action, target_kind = _action(operation, resource_type)
    if action in _IMAGE_ACTIONS and not repository:
        return [], f"{operation} {resource_type} without a repository in resource {entry.resource!r}"
    outcome = "failure" if entry.operation_result is False else None
    if action == "login" and entry.operation_result:
        outcome = "success"
    username = None if entry.username in (None, "", "anonymous") else entry.username
    if username is None and action in ("login", "logout"):
        username = entry.resource or None  # a refused UI login names the principal tried only as its resource
    return [
        {
            "event_id": event_id,
            "event_at": entry.op_time,
            "action": action,
            "target_kind": target_kind,
            "repository": repository,
            "tag": tag,
            "digest": digest,
            "url": None,
            "request_id": None,
            "http_method": "GET" if action == "pull" else None,
            "actor": username,
            "outcome": outcome,
            "registry_kind": "harbor",
        }
    ], None


def _action(operation: str, resource_type: str) -> tuple[str, str]:
    """(action, target kind) of an operation on a resource type."""
    if resource_type == "artifact" and operation in _ARTIFACT_ACTIONS:
        action = _ARTIFACT_ACTIONS[operation]
        return action, "digest" if action == "delete" else "manifest"
    if operation == "delete" and resource_type in ("tag", "repository"):
        return "delete", resource_type  # as Distribution's tag and repository deletes
    if resource_type == "user" and operation in ("login", "logout"):
        return operation, "login"
    # kept out of image_activity (its target kinds are manifest, tag, digest, repository), as the webhook's create_tag
    kind = "artifact" if resource_type in ("", "tag", "repository") else resource_type
    return f"{operation}_{resource_type or 'unknown'}", kind


def split_resource(resource: str, resource_type: str) -> tuple[str, str | None, str | None]:
    """(repository, tag, digest) of an artifact or tag resource; a repository is itself; anything else (a project,
    a user, a robot) names no repository."""
    if resource_type in ("artifact", "tag"):
        name, at, digest = resource.partition("@")
        if at:
            return name, None, digest or None
        name, colon, tag = resource.rpartition(":")
        return (name, tag or None, None) if colon else (resource, None, None)
    if resource_type == "repository":
        return resource, None, None
    return "", None, None


def _described_digest(description: str | None) -> str | None:
    """The digest of ``<verb> artifact: <repository>@<digest>`` (the extended log's description), if any."""
    match = _DIGEST.search(description or "")
    return match.group(1) if match else None
