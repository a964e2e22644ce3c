"""Parse one GitHub audit log event into canonical event fields, or a reason. Never raises.

Mapping (FORMATS-more-registries.md §4.1; ``ACTIONS``), for container packages (``ecosystem`` ``container`` or
``docker``, or none named) that name their ``package``:

* ``packages.package_version_published``: a ``push`` of a ``manifest`` to ``<org>/<package>`` (as ghcr.io names
  it), its digest the ``version`` when that is a digest. The event names **no tag** [I], so no ``tag_history``;
* ``packages.package_version_deleted``: a ``delete`` of that ``digest``; ``packages.package_deleted``: a
  ``delete`` of the ``repository``;
* every other event (``packages.package_published``, ``..._restored``, another ecosystem's, or none of GitHub
  Packages): GitHub's action name as the action, about a ``log`` entry; kept, never image activity.

**GitHub records no pull or download of a package on GitHub.com** (no such action in its audit log's event list,
github/docs ``src/audit-logs/data/fpt/organization.json``), and no ghcr.io login: those stay absent and a detection
that needs them is quiet on this source. Who: ``actor``; address: ``actor_ip`` (only with IP disclosure on). The id
is ``_document_id``, else a digest of the whole event.
"""

from __future__ import annotations

import hashlib
import ipaddress
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import ValidationError

from regaudit.ingest.sources.distribution.envelope import deeper_than, validation_reason
from regaudit.schemas.ghcr import AuditEvent
from regaudit.schemas.registry import outside_window

REGISTRY_KIND = "ghcr"
MAX_DEPTH = 16
#: GitHub action -> (action, target_kind) for a container package's event
ACTIONS: dict[str, tuple[str, str]] = {
    "packages.package_version_published": ("push", "manifest"),
    "packages.package_version_deleted": ("delete", "digest"),
    "packages.package_deleted": ("delete", "repository"),
}
_CONTAINER_ECOSYSTEMS = (None, "container", "docker")


def parse(value: bytes) -> tuple[list[dict[str, Any]], str | None]:
    """The event's canonical fields (one row), or no rows and the reason."""
    try:
        document = orjson.loads(value)
    except orjson.JSONDecodeError as error:
        return [], f"not JSON: {error}"
    if not isinstance(document, dict):
        return [], "not a GitHub audit log event: not a JSON object"
    if deeper_than(document, MAX_DEPTH):
        return [], f"JSON nested deeper than {MAX_DEPTH} levels"
    try:
        return _row(AuditEvent.model_validate(document), document)
    except ValidationError as error:
        return [], f"not a GitHub audit log event: {validation_reason(error)}"
    except Exception as error:  # noqa: BLE001 - parse never raises: the event becomes a dead letter
        return [], f"invalid GitHub audit log event: {type(error).__name__}: {error}"


def event_id(document: dict[str, Any]) -> str:
    """``_document_id`` when GitHub gives one, else a digest of the whole event."""
    given = document.get("_document_id")
    if isinstance(given, str) and given:
        return given
    return hashlib.sha256(orjson.dumps(document, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]


def _row(event: AuditEvent, document: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
    millis = event.created_at if event.created_at is not None else event.timestamp
    if millis is None:
        return [], "no created_at or @timestamp"
    moment = datetime.fromtimestamp(millis / 1000, UTC)
    if reason := outside_window(moment):
        return [], reason
    container = event.package is not None and event.org is not None and event.ecosystem in _CONTAINER_ECOSYSTEMS
    action, target_kind = ACTIONS.get(event.action, (event.action, "log")) if container else (event.action, "log")
    version = event.version or ""
    return [
        {
            "event_id": event_id(document),
            "event_at": moment,
            "action": action,
            "target_kind": target_kind,
            "repository": f"{event.org}/{event.package}".lower() if container else (event.repo or ""),
            "tag": None,
            "digest": version if version.startswith("sha256:") else None,
            "actor": event.actor,
            "client_addr": _address(event.actor_ip),
            "user_agent": event.user_agent,
            "registry_kind": REGISTRY_KIND,
            "outcome": None,
        }
    ], None


def _address(value: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address(value)) if value else None
    except ValueError:
        return None
