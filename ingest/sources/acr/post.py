"""One ACR webhook POST into a raw record, or a dead letter. Never raises.

ACR posts one event per request, with only the custom headers the webhook was given (``az acr webhook create
--headers "Authorization=Bearer <token>"``): the route checks that bearer token as for every registry. The body
is kept whole as the record, marked with the registry kind so the consumer hands it to the ACR normalizer; the
repository keys the Kafka message like a Distribution event's. A resource log body posted by a forwarder (an
Azure Function on the Event Hub) is read the same way.
"""

from __future__ import annotations

from datetime import datetime

from regaudit.ingest.records import RawRecord
from regaudit.ingest.sources.acr.events import parse
from regaudit.ingest.sources.acr.resource_logs import REGISTRY_KIND
from regaudit.ingest.sources.distribution.envelope import ParsedPost, clip, content_key


def split_post(
    body: bytes, *, origin: str, received_at: datetime, instance: str, content_type: str | None, max_depth: int
) -> ParsedPost:
    """The body as one event record when it holds an ACR event, else as a dead letter with the reason."""
    kind = None if content_type is None else clip(content_type)
    rows, problems = parse(body, max_depth)
    if not rows:
        key = content_key(instance, body)
        reason = clip("; ".join(problems) or "no event")
        record = RawRecord("deadletter", body, origin, received_at, instance, key, kind, reason)
        return ParsedPost(dead_letters=[record])
    record = RawRecord("event", body, origin, received_at, instance, None, kind, None, REGISTRY_KIND)
    return ParsedPost(events=[(str(rows[0]["repository"]), record)])
