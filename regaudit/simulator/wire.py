"""What the registry writes, byte for byte: notification bodies.

A notification body is what Distribution 2.8 POSTs: ``json.MarshalIndent(envelope, "", "   ")`` with the v2.8
field order (``mediaType, size, digest, length, repository, fromRepository, url, tag``), every descriptor
field omitted when empty (so a manifest delete is ``{digest, repository}`` and a tag delete ``{repository,
tag}``), and ``"actor": {}`` for an anonymous request.
"""

from __future__ import annotations

from json.encoder import encode_basestring

from regaudit.simulator.primitives import rfc3339_nano

ENVELOPE_MEDIA_TYPE = "application/vnd.docker.distribution.events.v1+json"
_INDENT = "\n         "
_INDENT_TARGET = "\n            "


class Event:
    """One notification event, before encoding. ``None`` fields are omitted from the body."""

    __slots__ = (
        "event_id",
        "ts_ns",
        "offset_minutes",
        "action",
        "media_type",
        "size",
        "digest",
        "repository",
        "from_repository",
        "url",
        "tag",
        "request_id",
        "addr",
        "host",
        "method",
        "user_agent",
        "actor",
        "source_addr",
        "instance_id",
    )

    def __init__(
        self,
        event_id: str,
        ts_ns: int,
        action: str,
        repository: str,
        request_id: str,
        method: str,
        actor: str,
        *,
        media_type: str | None = None,
        size: int | None = None,
        digest: str | None = None,
        from_repository: str | None = None,
        url: str | None = None,
        tag: str | None = None,
    ) -> None:
        self.event_id = event_id
        self.ts_ns = ts_ns
        self.offset_minutes = 0
        self.action = action
        self.media_type = media_type
        self.size = size
        self.digest = digest
        self.repository = repository
        self.from_repository = from_repository
        self.url = url
        self.tag = tag
        self.request_id = request_id
        self.addr = ""
        self.host = ""
        self.method = method
        self.user_agent = ""
        self.actor = actor
        self.source_addr = ""
        self.instance_id = ""


def go_string(value: str) -> str:
    """A JSON string as Go's encoder writes it (``<``, ``>`` and ``&`` escaped for HTML safety)."""
    text: str = encode_basestring(value)
    if "<" in text or ">" in text or "&" in text:
        text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text


def _target_pairs(event: Event) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    if event.media_type is not None:
        pairs.append(("mediaType", go_string(event.media_type)))
    if event.size is not None:
        pairs.append(("size", str(event.size)))
    if event.digest is not None:
        pairs.append(("digest", go_string(event.digest)))
    if event.size is not None:
        pairs.append(("length", str(event.size)))
    pairs.append(("repository", go_string(event.repository)))
    if event.from_repository is not None:
        pairs.append(("fromRepository", go_string(event.from_repository)))
    if event.url is not None:
        pairs.append(("url", go_string(event.url)))
    if event.tag is not None:
        pairs.append(("tag", go_string(event.tag)))
    return pairs


def _object(pairs: list[tuple[str, str]], inner: str, outer: str) -> str:
    if not pairs:
        return "{}"
    if not inner:
        return "{" + ",".join(f'"{key}":{value}' for key, value in pairs) + "}"
    return "{" + ",".join(f'{inner}"{key}": {value}' for key, value in pairs) + outer + "}"


def encode_event(event: Event, indent: bool = True) -> str:
    """The event as one JSON object: indented as inside a 2.8 envelope, or compact."""
    inner, outer = (_INDENT_TARGET, _INDENT) if indent else ("", "")
    request = [
        ("id", go_string(event.request_id)),
        ("addr", go_string(event.addr)),
        ("host", go_string(event.host)),
        ("method", go_string(event.method)),
        ("useragent", go_string(event.user_agent)),
    ]
    actor = [("name", go_string(event.actor))] if event.actor else []
    source = [("addr", go_string(event.source_addr)), ("instanceID", go_string(event.instance_id))]
    fields = [
        ("id", go_string(event.event_id)),
        ("timestamp", '"' + rfc3339_nano(event.ts_ns, event.offset_minutes) + '"'),
        ("action", go_string(event.action)),
        ("target", _object(_target_pairs(event), inner, outer)),
        ("request", _object(request, inner, outer)),
        ("actor", _object(actor, inner, outer)),
        ("source", _object(source, inner, outer)),
    ]
    if not indent:
        return _object(fields, "", "")
    return _object(fields, _INDENT, "\n      ")


_ENVELOPE = (
    '{{\n   "events": [\n      {{\n         "id": "{id}",\n         "timestamp": "{timestamp}",\n'
    '         "action": "{action}",\n         "target": {{{target}\n         }},\n         "request": {{\n'
    '            "id": "{request}",\n            "addr": "{addr}",\n            "host": "{host}",\n'
    '            "method": "{method}",\n            "useragent": {agent}\n         }},\n'
    '         "actor": {actor},\n         "source": {{\n            "addr": "{source}",\n'
    '            "instanceID": "{instance}"\n         }}\n      }}\n   ]\n}}'
)


def encode_envelope(event: Event) -> bytes:
    """The POST body Distribution 2.8 sends for one event (a fast path for ``encode_event``: the simulator's
    own values need no escaping; user agents and actor names go through ``go_string``)."""
    e, t = event, _INDENT_TARGET
    parts = []
    if e.media_type is not None:
        parts.append(f'{t}"mediaType": "{e.media_type}"')
    if e.size is not None:
        parts.append(f'{t}"size": {e.size}')
    if e.digest is not None:
        parts.append(f'{t}"digest": "{e.digest}"')
    if e.size is not None:
        parts.append(f'{t}"length": {e.size}')
    parts.append(f'{t}"repository": "{e.repository}"')
    if e.from_repository is not None:
        parts.append(f'{t}"fromRepository": "{e.from_repository}"')
    if e.url is not None:
        parts.append(f'{t}"url": "{e.url}"')
    if e.tag is not None:
        parts.append(f'{t}"tag": "{e.tag}"')
    return _ENVELOPE.format(
        id=e.event_id,
        timestamp=rfc3339_nano(e.ts_ns, e.offset_minutes),
        action=e.action,
        target=",".join(parts),
        request=e.request_id,
        addr=e.addr,
        host=e.host,
        method=e.method,
        agent=go_string(e.user_agent),
        actor=f'{{{t}"name": {go_string(e.actor)}{_INDENT}}}' if e.actor else "{}",
        source=e.source_addr,
        instance=e.instance_id,
    ).encode()
