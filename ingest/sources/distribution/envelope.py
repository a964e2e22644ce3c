"""Parse a notification POST body into one raw record per event, or a dead letter. Never raises.

This is the receivers' parse step (webhook, demo): the registry needs an answer per POST, and Kafka wants one
message per event keyed by repository, so the envelope is opened here with the pydantic wire models. Each valid
event is re-encoded alone; anything else becomes a dead-letter record carrying the raw bytes and the reason.

The work per POST is bounded (``EnvelopeLimits``): an envelope with more events than a registry ever batches, or
JSON nested deeper than any notification, is kept whole as one dead letter instead of being opened, so a 900 KB
body of 300,000 empty events costs one record, not 300,000 (it took 12 s and 1.5 GB of memory).

Dead letters carry a key made from their content (registry name and body, plus the event's index), so the
registry retrying the same malformed POST is stored once; the request id stays in the origin, for reading.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from pydantic import ValidationError

from regaudit.ingest.records import RawRecord
from regaudit.schemas.registry import Envelope, Event

#: what stands for a secret the receiver cannot cut to a harmless part
REDACTED = "[redacted]"
#: longest reason or content type carried along (Kafka headers, the store): error texts can quote input
MAX_TEXT_CHARS = 1000


@dataclass(frozen=True)
class EnvelopeLimits:
    """How much one POST may ask of the parser; beyond, the body is one dead letter with the reason.

    Distribution sends one event per POST unless its endpoint batches (FORMATS.md section 1.6); notification
    events nest 7 levels deep (envelope, events, event, target, references, descriptor, annotations).
    """

    max_events: int = 1000
    max_depth: int = 64


@dataclass(frozen=True)
class ParsedPost:
    """The outcome of one POST: events to store, and dead letters for what was not an event."""

    events: list[tuple[str, RawRecord]] = field(default_factory=list)  # (repository, record)
    dead_letters: list[RawRecord] = field(default_factory=list)


def content_key(registry: str, body: bytes) -> str:
    """The dead-letter key of a POST: the same registry posting the same bytes gets the same key."""
    digest = hashlib.sha256(registry.encode("utf-8", "replace") + b"\0" + body).hexdigest()
    return f"webhook:{digest[:32]}"


def clip(text: str) -> str:
    """Text cut to ``MAX_TEXT_CHARS`` (reasons and content types can quote input)."""
    return text if len(text) <= MAX_TEXT_CHARS else text[: MAX_TEXT_CHARS - 1] + "…"


def validation_reason(error: ValidationError) -> str:
    """The first error of a validation, as the dead letter's reason: where, then what."""
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    return f"{where}: {first['msg']}"


def deeper_than(document: Any, limit: int) -> bool:
    """Whether JSON containers nest deeper than ``limit`` (``{}`` is depth 1); stops at the first too deep."""
    if not isinstance(document, dict | list):
        return False
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            return True
        children = value.values() if isinstance(value, dict) else value
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _event_count(document: Any) -> int:
    events = document.get("events") if isinstance(document, dict) else None
    return len(events) if isinstance(events, list) else 0


def _envelope_problem(body: bytes, limits: EnvelopeLimits) -> tuple[Any, str | None]:
    """The parsed document, or the reason the body is a dead letter as a whole."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        return None, f"not JSON: {error}"
    count = _event_count(document)
    if count > limits.max_events:
        return None, f"envelope of {count} events, over the limit of {limits.max_events} (webhook.max_events)"
    if deeper_than(document, limits.max_depth):
        return None, f"JSON nested deeper than {limits.max_depth} levels (webhook.max_json_depth)"
    return document, None


def strip_actor_jwt(item: Any) -> Any:
    """The event with GitLab's ``actor.user`` JWT cut to its unsigned ``header.payload`` (anything else there:
    ``[redacted]``): the claims stay for forensics, the token can no longer be presented (FORMATS-more-registries.md
    8.1: a secret, never to be logged). Other events are returned as they are."""
    actor = item.get("actor") if isinstance(item, dict) else None
    if not isinstance(actor, dict) or "user" not in actor:
        return item
    user = actor["user"]
    parts = user.split(".") if isinstance(user, str) else []
    if user is None or len(parts) == 2 or user == REDACTED:  # nothing secret, or stripped already
        return item
    kept = ".".join(parts[:2]) if len(parts) == 3 else REDACTED
    return {**item, "actor": {**actor, "user": kept}}


def _event(item: Any) -> tuple[Event | None, str | None]:
    """The validated event, or why not. Validators can raise more than ValidationError (a timestamp whose
    offset overflows the calendar raised OverflowError, answered 500): every error is a reason here."""
    try:
        return Event.model_validate(item), None
    except ValidationError as error:
        return None, f"invalid event: {validation_reason(error)}"
    except Exception as error:  # noqa: BLE001 - parse never raises: the event becomes a dead letter
        return None, f"invalid event: {type(error).__name__}: {error}"


def split_envelope(
    body: bytes,
    *,
    origin: str,
    received_at: datetime,
    registry: str,
    content_type: str | None,
    limits: EnvelopeLimits | None = None,
) -> ParsedPost:
    """One record per valid event; the body or the invalid event as a dead letter otherwise."""
    parsed = ParsedPost()
    limits = limits or EnvelopeLimits()
    kind = None if content_type is None else clip(content_type)
    key = content_key(registry, body)

    def dead(value: bytes, where: str, reason: str, suffix: str = "") -> None:
        record = RawRecord("deadletter", value, where, received_at, registry, key + suffix, kind, clip(reason))
        parsed.dead_letters.append(record)

    document, problem = _envelope_problem(body, limits)
    if problem is not None:
        dead(body, origin, problem)
        return parsed
    try:
        envelope = Envelope.model_validate(document)
    except ValidationError as error:
        dead(body, origin, f"not a notification envelope: {validation_reason(error)}")
        return parsed
    for index, item in enumerate(envelope.events):
        where = f"{origin}/{index}"
        value = orjson.dumps(strip_actor_jwt(item))  # depth checked above, far below orjson's limit of 254
        event, reason = _event(item)
        if event is None:
            dead(value, where, reason or "invalid event", f"/{index}")
            continue
        record = RawRecord("event", value, where, received_at, registry, None, kind)
        parsed.events.append((event.target.repository, record))
    return parsed
