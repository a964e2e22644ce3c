"""Parse a notification POST body into one raw record per event, or a dead letter. Never raises.

This is the receivers' parse step (webhook, demo): the registry needs an answer per POST, and Kafka wants one
message per event keyed by repository, so the envelope is opened here with the pydantic wire models. Each valid
event is re-encoded alone; anything else becomes a dead-letter record carrying the raw bytes and the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import orjson
from pydantic import ValidationError

from regaudit.ingest.records import RawRecord
from regaudit.schemas.registry import Envelope, Event


@dataclass(frozen=True)
class ParsedPost:
    """The outcome of one POST: events to store, and dead letters for what was not an event."""

    events: list[tuple[str, RawRecord]] = field(default_factory=list)  # (repository, record)
    dead_letters: list[RawRecord] = field(default_factory=list)


def _reason(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    return f"{where}: {first['msg']}"


def split_envelope(
    body: bytes, *, origin: str, received_at: datetime, registry: str, content_type: str | None
) -> ParsedPost:
    """One record per valid event; the body or the invalid event as a dead letter otherwise."""
    parsed = ParsedPost()

    def dead(value: bytes, where: str, reason: str) -> None:
        parsed.dead_letters.append(
            RawRecord("deadletter", value, where, received_at, registry, None, content_type, reason)
        )

    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        dead(body, origin, f"not JSON: {error}")
        return parsed
    try:
        envelope = Envelope.model_validate(document)
    except ValidationError as error:
        dead(body, origin, f"not a notification envelope: {_reason(error)}")
        return parsed
    for index, item in enumerate(envelope.events):
        where = f"{origin}/{index}"
        value = orjson.dumps(item)
        try:
            event = Event.model_validate(item)
        except ValidationError as error:
            dead(value, where, f"invalid event: {_reason(error)}")
            continue
        record = RawRecord("event", value, where, received_at, registry, None, content_type)
        parsed.events.append((event.target.repository, record))
    return parsed
