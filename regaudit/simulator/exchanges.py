"""What nginx logs, byte for byte: one ``Exchange`` per HTTP request, written as an access-log line in the
FORMATS.md section 3.1 JSON format (``escape=json``, every value a string) or nginx's predefined ``combined``
format. An exchange also carries the registry events the request caused.
"""

from __future__ import annotations

from regaudit.simulator.primitives import epoch_millis, iso_seconds, time_local
from regaudit.simulator.wire import Event


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
