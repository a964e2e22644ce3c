"""One ACR resource log record into canonical event fields (FORMATS-more-registries.md 1.3). Pure.

Mapping, by category and ``operationName``:

* ``ContainerRegistryLoginEvents``: a ``login`` about the whole registry (``target_kind`` ``registry``);
* ``Pull``: a ``pull`` of a ``manifest``. ``properties.tag`` holds the digest when the pull was by digest, so a
  tag that is a digest is moved to ``digest``; a pull by tag names no digest (ACR does not resolve it in the log).
  No HTTP method: the log does not say whether it was a GET or a HEAD, and a source that does not say counts as a
  GET (as Quay's);
* ``Push``: a ``push`` of a ``manifest`` with its tag, digest and media type;
* ``Delete``: a ``delete`` of a ``digest`` when it names one, else of a ``tag``, else of the ``repository``;
  ``Untag``: a ``delete`` of the ``tag`` (the webhook has no event for it);
* every other operation (``PurgeTag``, ``PurgeManifest``...: strings Microsoft lists but no sample shows): kept
  under its name in snake case, about an ``artifact``, never image activity.

``resultDescription`` is the HTTP status: a 2xx is ``outcome`` ``success``, any other (a 401, a 404 like the
sample's) ``failure`` (schema 9: counted as refused); no status, no outcome. The identity is ``identity`` as ACR
writes it (a user principal name, a service principal's or token's name); ``callerIpAddress`` is the client only
when it is an address. The record has no id: the event id is a digest of what identifies the request and its
target (FORMATS-more-registries.md 1.3), so the same record read from the Event Hub and from the storage account,
or delivered twice (Event Hubs is at least once), is stored once.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from typing import Any

from regaudit.schemas.acr import ResourceLogRecord

REGISTRY_KIND = "acr"
REPOSITORY_EVENTS = "ContainerRegistryRepositoryEvents"
LOGIN_EVENTS = "ContainerRegistryLoginEvents"
CATEGORIES = frozenset({REPOSITORY_EVENTS, LOGIN_EVENTS})
_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[A-Fa-f0-9]{32,}$")
_WORD = re.compile(r"(?<!^)(?=[A-Z])")


def record_row(record: ResourceLogRecord) -> dict[str, Any]:
    """The canonical fields of one resource log record."""
    properties = record.properties
    return {
        "event_id": event_id(record),
        "event_at": record.time,
        "actor": record.identity,
        "client_addr": client_addr(record.callerIpAddress),
        "user_agent": properties.userAgent,
        "request_id": record.correlationId,
        "request_host": properties.loginServer,
        "http_method": None,
        "outcome": outcome(record.resultDescription),
        "registry_kind": REGISTRY_KIND,
        **_target(record),
    }


def _target(record: ResourceLogRecord) -> dict[str, Any]:
    properties = record.properties
    tag, digest = properties.tag, properties.digest
    if tag is not None and _DIGEST.match(tag):
        tag, digest = None, digest or tag
    target = {"repository": properties.repository or "", "tag": tag, "digest": digest,
              "media_type": properties.mediaType}  # fmt: skip
    if record.category == LOGIN_EVENTS:
        return {**target, "action": "login", "target_kind": "registry"}
    name = record.operationName
    if name == "Pull":
        return {**target, "action": "pull", "target_kind": "manifest"}
    if name == "Push":
        return {**target, "action": "push", "target_kind": "manifest"}
    if name == "Delete":
        kind = "digest" if digest else "tag" if tag else "repository"
        return {**target, "action": "delete", "target_kind": kind}
    if name == "Untag":
        return {**target, "action": "delete", "target_kind": "tag"}
    return {**target, "action": _WORD.sub("_", name).lower(), "target_kind": "artifact"}


def outcome(status: str | None) -> str | None:
    """``resultDescription`` (an HTTP status as text): 2xx success, any other failure, none when absent."""
    if status is None:
        return None
    return "success" if status.strip().isdigit() and 200 <= int(status) < 300 else "failure"


def client_addr(caller: str | None) -> str | None:
    """``callerIpAddress`` when it is an IP address (nothing else is a client address)."""
    if caller is None:
        return None
    try:
        return str(ipaddress.ip_address(caller))
    except ValueError:
        return None


def event_id(record: ResourceLogRecord) -> str:
    """A digest of the request and its target: the record carries no id of its own."""
    properties = record.properties
    parts = (
        record.category, record.time.isoformat(), record.correlationId, record.operationName, record.identity,
        record.callerIpAddress, properties.repository, properties.tag, properties.digest,
    )  # fmt: skip
    text = "\0".join(part or "" for part in parts)
    return "acr-" + hashlib.sha256(text.encode()).hexdigest()[:32]
