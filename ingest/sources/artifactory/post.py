"""One JFrog webhook POST into a raw record, or a dead letter: the receiver's parse step. Never raises.

Artifactory posts one event per request. The body is kept whole as the record, marked with the registry kind so
the consumer hands it to the Artifactory normalizer; the repository keys the Kafka message like a Distribution
event's.
"""

from __future__ import annotations

from datetime import datetime

from regaudit.ingest.records import RawRecord
from regaudit.ingest.sources.artifactory.events import REGISTRY_KIND, parse
from regaudit.ingest.sources.distribution.envelope import ParsedPost, clip, content_key


def split_post(
    body: bytes, *, origin: str, received_at: datetime, instance: str, content_type: str | None, max_depth: int
) -> ParsedPost:
    """The body as one event record when it is a Docker-domain JFrog event, else as a dead letter with the reason."""
    kind = None if content_type is None else clip(content_type)
    event, reason = parse(body, received_at, max_depth)
    if event is None:
        key = content_key(instance, body)
        record = RawRecord("deadletter", body, origin, received_at, instance, key, kind, clip(reason or "no event"))
        return ParsedPost(dead_letters=[record])
    record = RawRecord("event", body, origin, received_at, instance, None, kind, None, REGISTRY_KIND)
    return ParsedPost(events=[(str(event["repository"]), record)])
