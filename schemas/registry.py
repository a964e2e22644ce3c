"""CNCF Distribution notification envelopes and events, as they arrive on the wire (FORMATS.md section 1).

Both envelope versions share these models:

* ``application/vnd.docker.distribution.events.v1+json`` (2.8.x): descriptor fields are ``omitempty``, so a
  manifest delete carries only ``digest`` and ``repository``;
* ``application/vnd.docker.distribution.events.v2+json`` (3.x): ``mediaType``, ``digest`` and ``size`` are always
  present, empty or zero on deletes, plus optional OCI descriptor extras;
* plain ``application/json``: the same body from a proxy or a replay tool.

Wire models keep the wire names and allow unknown fields (they are kept in the raw payload, never dropped).
An event is valid when it has an ``id``, a parseable ``timestamp`` inside ``TIME_WINDOW``, an ``action`` and a
``target.repository``; every other field is optional, and empty strings count as missing (parser checklist items
7 and 25).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, StrictStr


def _empty_to_none(value: Any) -> Any:
    return None if value == "" else value


#: The window a record's own timestamp must fall in (UTC, end excluded). Fixed, so parsing reads no clock: wide
#: enough for any real registry or proxy clock, narrow enough that no arithmetic downstream (a derive step's
#: margin, a streaming rule's window, a conversion to a Python datetime) can overflow. Year 9999 with a
#: negative offset is year 10000 in UTC, which Python cannot represent; before this window the consumer
#: stored it and then failed every batch holding it, for ever.
EARLIEST_AT = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_AT = datetime(2200, 1, 1, tzinfo=UTC)
TIME_WINDOW = f"{EARLIEST_AT:%Y-%m-%d}..{LATEST_AT:%Y-%m-%d}"


def outside_window(value: datetime) -> str | None:
    """Why an aware time is refused (the reason a dead letter keeps), or none when it lies in the window."""
    if EARLIEST_AT <= value < LATEST_AT:
        return None
    return f"timestamp {value.isoformat()} outside {TIME_WINDOW}"


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamp has no zone offset")
    if reason := outside_window(value):  # compared before converting: astimezone overflows past year 9999
        raise ValueError(reason)
    return value.astimezone(UTC)


#: RFC 3339 date-time: the registry's Go ``time.RFC3339Nano`` and every zone offset. The batch normalizer uses
#: the same pattern (normalize_events.sql), so both parsers accept exactly the same timestamps.
RFC3339_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
_RFC3339 = re.compile(RFC3339_PATTERN)


def parse_rfc3339(value: Any) -> Any:
    """RFC 3339 with 0 to 9 fractional digits and any offset, truncated to microseconds (checklist 5)."""
    if not isinstance(value, str):
        return value
    if not _RFC3339.fullmatch(value):
        raise ValueError("not an RFC 3339 timestamp with a zone offset")
    text = value
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    head, dot, rest = text.partition(".")
    if dot:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        fraction, zone = rest[:digits], rest[digits:]
        if not fraction:
            raise ValueError("empty fraction in timestamp")
        text = f"{head}.{fraction[:6].ljust(6, '0')}{zone}"
    return datetime.fromisoformat(text)


OptionalText = Annotated[StrictStr | None, BeforeValidator(_empty_to_none)]
UtcTimestamp = Annotated[datetime, BeforeValidator(parse_rfc3339), AfterValidator(_utc)]


class WireModel(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)


class Descriptor(WireModel):
    """An OCI descriptor inside ``target.references``."""

    media_type: OptionalText = Field(None, alias="mediaType")
    digest: OptionalText = None
    size: StrictInt | None = None
    artifact_type: OptionalText = Field(None, alias="artifactType")


class Target(WireModel):
    """What the event is about: a manifest, a blob, a tag or a repository."""

    media_type: OptionalText = Field(None, alias="mediaType")
    digest: OptionalText = None
    size: StrictInt | None = None
    length: StrictInt | None = None
    repository: Annotated[StrictStr, Field(min_length=1)]
    from_repository: OptionalText = Field(None, alias="fromRepository")
    url: OptionalText = None
    tag: OptionalText = None
    references: list[Descriptor] | None = None


class Request(WireModel):
    """The HTTP request that caused the event. ``addr`` is spoofable (first X-Forwarded-For entry)."""

    id: OptionalText = None
    addr: OptionalText = None
    host: OptionalText = None
    method: OptionalText = None
    useragent: StrictStr | None = None


class Actor(WireModel):
    """The authenticated subject; ``{}`` when anonymous.

    GitLab's container registry, a Distribution fork, adds ``user_type`` (``personal_access_token``,
    ``deploy_token``, ``build`` for a CI job token, ``gitlab_or_ldap``; absent or empty for anonymous pulls) and
    ``user``, a JWT GitLab Rails signed with what it knows of the user (FORMATS-more-registries.md 8.1). The JWT
    is a secret: the receiver keeps it without its signature (``strip_actor_jwt``), the claims readable in ``raw``.
    """

    name: OptionalText = None
    user_type: OptionalText = None


class Source(WireModel):
    """The registry node that emitted the event; ``instanceID`` changes on every restart."""

    addr: OptionalText = None
    instance_id: OptionalText = Field(None, alias="instanceID")


class Event(WireModel):
    """One notification event, v1 (2.8) or v2 (3.x)."""

    id: Annotated[StrictStr, Field(min_length=1)]
    timestamp: UtcTimestamp
    action: Annotated[StrictStr, Field(min_length=1)]
    target: Target
    request: Request = Field(default_factory=Request)
    actor: Actor = Field(default_factory=Actor)
    source: Source = Field(default_factory=Source)


class Envelope(WireModel):
    """The body of one notification POST: ``events`` of any length, including none."""

    events: list[Any] = Field(default_factory=list)


class StrictEnvelope(WireModel):
    """The envelope with every event validated, for the JSON Schema export."""

    events: list[Event] = Field(default_factory=list)
