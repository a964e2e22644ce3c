"""One ``gcr`` Pub/Sub notification into canonical event fields (FORMATS.md 5.4). Pure.

``INSERT`` is a ``push`` of a ``manifest`` (an image pushed, or a new tag on one already there); ``DELETE`` is a
``delete`` of the digest it names, or of the tag when it names only a tag (an untag). ``digest`` and ``tag`` are
full references: the host (``<location>-docker.pkg.dev``, ``gcr.io``...) is the request host and the path the
repository, as the audit log's URLs name it. The message names no actor and no address (NULL: Data Access audit
logs say who). The event id is Pub/Sub's ``messageId`` (Pub/Sub delivers at least once); a notification that
arrives without its envelope is identified by a digest of what it says.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from regaudit.ingest.sources.gar.audit import REGISTRY_KIND
from regaudit.schemas.gar import GcrNotification

_DIGEST_REF = re.compile(r"^(?P<host>[^/]+)/(?P<repository>.+)@(?P<digest>[^@]+)$")
_TAG_REF = re.compile(r"^(?P<host>[^/]+)/(?P<repository>.+):(?P<tag>[^:/]+)$")
_ACTIONS = {"INSERT": "push", "DELETE": "delete"}


def notification_row(notification: GcrNotification, message_id: str | None) -> dict[str, Any]:
    """The canonical fields of one notification; ``message_id`` is its Pub/Sub message's, when known."""
    digest_ref = _DIGEST_REF.match(notification.digest or "")
    tag_ref = _TAG_REF.match(notification.tag or "")
    where = digest_ref or tag_ref
    action = _ACTIONS.get(notification.action, notification.action.lower())
    target_kind = "manifest" if action == "push" else "digest" if digest_ref else "tag"
    return {
        "event_id": message_id or _content_id(notification),
        "actor": None,
        "client_addr": None,
        "user_agent": None,
        "request_id": message_id,
        "request_host": where["host"] if where else None,
        "http_method": None,
        "outcome": "success",
        "registry_kind": REGISTRY_KIND,
        "repository": where["repository"] if where else "",
        "tag": tag_ref["tag"] if tag_ref else None,
        "digest": digest_ref["digest"] if digest_ref else None,
        "media_type": None,
        "action": action,
        "target_kind": target_kind if action in ("push", "delete") else "artifact",
    }


def _content_id(notification: GcrNotification) -> str:
    text = "\0".join((notification.action, notification.digest or "", notification.tag or ""))
    return "gcr-" + hashlib.sha256(text.encode()).hexdigest()[:32]
