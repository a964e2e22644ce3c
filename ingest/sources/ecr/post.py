"""One EventBridge POST (an API destination's delivery) into a raw record, or a dead letter. Never raises.

EventBridge sends one event per request to an API destination, the event JSON as the body unless a rule's input
transformer reshapes it (then it is no ECR event and becomes a dead letter, kept). The body is kept whole as the
record, marked with the registry kind so the consumer hands it to the ECR normalizer; the repository keys the
Kafka message like a Distribution event's. A CloudTrail record posted alone is read the same way.
"""

from __future__ import annotations

from datetime import datetime

from regaudit.ingest.records import RawRecord
from regaudit.ingest.sources.distribution.envelope import ParsedPost, clip, content_key
from regaudit.ingest.sources.ecr.cloudtrail import REGISTRY_KIND
from regaudit.ingest.sources.ecr.events import parse


def split_post(
    body: bytes, *, origin: str, received_at: datetime, instance: str, content_type: str | None, max_depth: int
) -> ParsedPost:
    """The body as one event record when it is an ECR event, else as a dead letter with the reason."""
    kind = None if content_type is None else clip(content_type)
    rows, reason = parse(body, max_depth)
    if not rows:
        key = content_key(instance, body)
        record = RawRecord("deadletter", body, origin, received_at, instance, key, kind, clip(reason or "no event"))
        return ParsedPost(dead_letters=[record])
    record = RawRecord("event", body, origin, received_at, instance, None, kind, None, REGISTRY_KIND)
    return ParsedPost(events=[(str(rows[0]["repository"]), record)])
