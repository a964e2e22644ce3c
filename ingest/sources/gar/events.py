"""Parse one Artifact Registry body into canonical rows, or a reason. Never raises.

The consumer, the importer and the webhook route judge a body with this one function, by its shape:

* a **Pub/Sub push envelope** (``message`` with base64 ``data``): the message's data is read as below, and a
  ``gcr`` notification takes the message's ``messageId`` as its id and ``publishTime`` as its time;
* a **LogEntry** (``protoPayload``): a Log Router sink's line (Cloud Storage) or a Pub/Sub message's data as a
  Pub/Sub-to-Kafka connector writes it; an entry of another service is refused (a sink filtered on
  ``protoPayload.serviceName="artifactregistry.googleapis.com"`` sends none);
* a **``gcr`` notification** (``action`` with ``digest`` or ``tag``) without its envelope: no time of its own, so
  it takes the time the record was received (``received_at``).
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

import orjson
from pydantic import ValidationError

from regaudit.ingest.sources.distribution.envelope import deeper_than, validation_reason
from regaudit.ingest.sources.gar.audit import SERVICE, entry_row
from regaudit.ingest.sources.gar.notifications import notification_row
from regaudit.schemas.gar import GcrNotification, LogEntry, PubSubPush

#: audit log entries nest about 6 levels; far beyond, refused unopened
MAX_DEPTH = 64


def parse(value: bytes, received_at: datetime, max_depth: int = MAX_DEPTH) -> tuple[dict[str, Any] | None, str | None]:
    """The body's canonical fields, or none and the reason."""
    try:
        document = orjson.loads(value)
        if not isinstance(document, dict):
            return None, "not an Artifact Registry record: not a JSON object"
        if deeper_than(document, max_depth):
            return None, f"JSON nested deeper than {max_depth} levels"
        return _document(document, received_at, max_depth)
    except orjson.JSONDecodeError as error:
        return None, f"not JSON: {error}"
    except ValidationError as error:
        return None, f"not an Artifact Registry record: {validation_reason(error)}"
    except Exception as error:  # noqa: BLE001 - parse never raises: the body becomes a dead letter
        return None, f"invalid Artifact Registry record: {type(error).__name__}: {error}"


def _document(
    document: dict[str, Any], received_at: datetime, max_depth: int
) -> tuple[dict[str, Any] | None, str | None]:
    if "message" in document:
        return _envelope(PubSubPush.model_validate(document), received_at, max_depth)
    return _inner(document, received_at, None)


def _inner(
    document: dict[str, Any], received_at: datetime, message_id: str | None
) -> tuple[dict[str, Any] | None, str | None]:
    """A LogEntry or a ``gcr`` notification, alone or out of a Pub/Sub message (``message_id``)."""
    if "protoPayload" in document:
        entry = LogEntry.model_validate(document)
        if entry.protoPayload.serviceName != SERVICE:
            return None, f"not an Artifact Registry entry: serviceName {entry.protoPayload.serviceName[:100]!r}"
        return entry_row(entry), None
    if "action" in document:
        notification = GcrNotification.model_validate(document)
        return {**notification_row(notification, message_id), "event_at": received_at}, None
    return None, "not an Artifact Registry record: no protoPayload, action or Pub/Sub message"


def _envelope(push: PubSubPush, received_at: datetime, max_depth: int) -> tuple[dict[str, Any] | None, str | None]:
    message = push.message
    try:
        data = base64.b64decode(message.data or "", validate=True)
    except (binascii.Error, ValueError) as error:
        return None, f"Pub/Sub message data is not base64: {error}"
    inner = orjson.loads(data)
    if not isinstance(inner, dict):
        return None, "Pub/Sub message data is not a JSON object"
    if deeper_than(inner, max_depth):
        return None, f"JSON nested deeper than {max_depth} levels"
    return _inner(inner, message.publishTime or received_at, message.messageId or message.message_id)
