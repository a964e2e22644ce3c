"""One ACR webhook event into canonical event fields (FORMATS.md 5.3). Pure.

* ``push``: a ``push`` of a ``manifest`` (tag, digest, media type, size);
* ``delete``: a manifest or repository delete (ACR sends none for an untag): a ``delete`` of the ``digest`` it
  names, else of the ``repository``;
* ``chart_push``, ``chart_delete`` (ACR's retired Helm repositories), ``quarantine`` and any other action: kept
  under the action's name, about an ``artifact``, never image activity.

The webhook names no actor and no client address (NULL); ``request`` gives the request id, host, method and user
agent (chart events have none). ACR fires it for completed operations only, so ``outcome`` is ``success``.
"""

from __future__ import annotations

from typing import Any

from regaudit.ingest.sources.acr.resource_logs import REGISTRY_KIND
from regaudit.schemas.acr import WebhookEvent


def event_row(event: WebhookEvent) -> dict[str, Any]:
    """The canonical fields of one webhook event."""
    target, request = event.target, event.request
    row = {
        "event_id": event.id,
        "event_at": event.timestamp,
        "actor": None,
        "client_addr": None,
        "user_agent": request.useragent if request else None,
        "request_id": request.id if request else None,
        "request_host": request.host if request else None,
        "http_method": request.method if request else None,
        "outcome": "success",
        "registry_kind": REGISTRY_KIND,
        "repository": target.repository,
        "tag": target.tag,
        "digest": target.digest,
        "media_type": target.mediaType,
        "size_bytes": target.size if target.size is not None else target.length,
    }
    if event.action == "push":
        return {**row, "action": "push", "target_kind": "manifest"}
    if event.action == "delete":
        return {**row, "action": "delete", "target_kind": "digest" if target.digest else "repository"}
    return {**row, "action": event.action, "target_kind": "artifact"}
