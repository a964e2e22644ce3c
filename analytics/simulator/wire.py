"""What the registry and nginx write, byte for byte: notification bodies and access-log lines.

A notification body is what Distribution 2.8 POSTs: ``json.MarshalIndent(envelope, "", "   ")`` with the v2.8
field order (``mediaType, size, digest, length, repository, fromRepository, url, tag``), every descriptor
field omitted when empty (so a manifest delete is ``{digest, repository}`` and a tag delete ``{repository,
tag}``), and ``"actor": {}`` for an anonymous request. Access lines follow FORMATS.md section 3.1
(``escape=json``, every value a string) or nginx's predefined ``combined`` format.
"""

from __future__ import annotations

from json.encoder import encode_basestring

from regaudit.analytics.simulator.primitives import epoch_millis, iso_seconds, rfc3339_nano, time_local

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
    actor = f'{{{t}"name": {go_string(e.actor)}{_INDENT}}}' if e.actor else "{}"
    return (
        '{\n   "events": [\n      {\n         "id": "'
        + e.event_id
        + '",\n         "timestamp": "'
        + rfc3339_nano(e.ts_ns, e.offset_minutes)
        + '",\n         "action": "'
        + e.action
        + '",\n         "target": {'
        + ",".join(parts)
        + '\n         },\n         "request": {\n            "id": "'
        + e.request_id
        + '",\n            "addr": "'
        + e.addr
        + '",\n            "host": "'
        + e.host
        + '",\n            "method": "'
        + e.method
        + '",\n            "useragent": '
        + go_string(e.user_agent)
        + '\n         },\n         "actor": '
        + actor
        + ',\n         "source": {\n            "addr": "'
        + e.source_addr
        + '",\n            "instanceID": "'
        + e.instance_id
        + '"\n         }\n      }\n   ]\n}'
    ).encode()


class Exchange:
    """One HTTP request as nginx served and logged it, with the registry events it caused."""

    __slots__ = (
        "start_ns",
        "duration_ns",
        "req_id",
        "remote_addr",
        "xff",
        "remote_user",
        "auth",
        "method",
        "uri",
        "status",
        "sent",
        "request_length",
        "user_agent",
        "accept",
        "req_ct",
        "resp_ct",
        "digest",
        "location",
        "www_auth",
        "upstream",
        "upstream_ns",
        "tls",
        "logged",
        "events",
        "actor",
    )

    def __init__(self, start_ns: int, method: str, uri: str, status: int) -> None:
        self.start_ns = start_ns
        self.duration_ns = 0
        self.req_id = ""
        self.remote_addr = ""
        self.xff = ""
        self.remote_user = ""
        self.auth = "none"
        self.method = method
        self.uri = uri
        self.status = status
        self.sent = 0
        self.request_length = 0
        self.user_agent = ""
        self.accept = ""
        self.req_ct = ""
        self.resp_ct = ""
        self.digest = ""
        self.location = ""
        self.www_auth = ""
        self.upstream = ""
        self.upstream_ns = 0
        self.tls = "TLSv1.3"
        self.logged = True
        self.events: list[Event] = []
        self.actor = ""

    @property
    def end_ns(self) -> int:
        return self.start_ns + self.duration_ns


def _nginx_json(value: str) -> str:
    """nginx ``escape=json`` (the values we generate hold no control characters)."""
    if "\\" in value or '"' in value:
        return value.replace("\\", "\\\\").replace('"', '\\"')
    return value


def _seconds(ns: int) -> str:
    return f"{ns / 1e9:.3f}"


def access_json(exchange: Exchange, host: str) -> bytes:
    """The access-log line in the FORMATS.md section 3.1 JSON format (no trailing newline)."""
    e = exchange
    end = e.start_ns + e.duration_ns
    upstream = bool(e.upstream)
    return (
        f'{{"ts":"{iso_seconds(end)}","msec":"{epoch_millis(end)}","req_id":"{e.req_id}",'
        f'"remote_addr":"{e.remote_addr}","xff":"{e.xff}","remote_user":"{_nginx_json(e.remote_user)}",'
        f'"auth":"{e.auth}","host":"{host}","method":"{e.method}","uri":"{_nginx_json(e.uri)}",'
        f'"proto":"HTTP/1.1","status":"{e.status}","body_bytes_sent":"{e.sent}",'
        f'"request_length":"{e.request_length}","request_time":"{_seconds(e.duration_ns)}",'
        f'"ua":"{_nginx_json(e.user_agent)}","accept":"{e.accept}","req_ct":"{e.req_ct}","range":"",'
        f'"resp_ct":"{e.resp_ct}","digest":"{e.digest}","location":"{e.location}",'
        f'"www_auth":"{_nginx_json(e.www_auth)}","up_addr":"{e.upstream}",'
        f'"up_status":"{e.status if upstream else ""}",'
        f'"up_time":"{_seconds(e.upstream_ns) if upstream else ""}","tls":"{e.tls}"}}'
    ).encode()


def _nginx_default(value: str) -> str:
    """nginx's default log escaping: ``"``, ``\\`` and bytes outside 0x20..0x7E as ``\\xXX``; empty as
    ``-``."""
    if not value:
        return "-"
    if "\\" in value or '"' in value:
        value = value.replace("\\", "\\x5C").replace('"', "\\x22")
    if not value.isascii():
        value = "".join(c if " " <= c <= "~" else "".join(f"\\x{b:02X}" for b in c.encode()) for c in value)
    return value


def access_combined(exchange: Exchange) -> bytes:
    """The access-log line in nginx's predefined ``combined`` format (no trailing newline)."""
    e = exchange
    end_s = (e.start_ns + e.duration_ns) // 1_000_000_000
    return (
        f"{e.remote_addr} - {_nginx_default(e.remote_user)} [{time_local(end_s)}] "
        f'"{_nginx_default(e.method + " " + e.uri + " HTTP/1.1")}" {e.status} {e.sent} "-" '
        f'"{_nginx_default(e.user_agent)}"'
    ).encode()
