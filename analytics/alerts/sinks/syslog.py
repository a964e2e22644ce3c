"""The syslog sink: RFC 5424 messages with structured data, over UDP (RFC 5426), TCP or TLS (RFC 5425).

One alert is one message::

    <27>1 2026-05-10T14:03:07.412000Z host regaudit 4242 push.human_to_ci_repository [regaudit@32473
    alert_id="..." finding_id="..." detection="push.human_to_ci_repository" severity="high" actor="alice"
    client_addr="192.168.1.20" action="push" repository="team/app" tag="hotfix" digest="sha256:..."
    event_at="2026-05-10T14:03:07.101000Z" link="https://..."] HIGH Human push to a CI-only repository: alice
    pushed to team/app, which only CI pushed to before (3 pushes since 2026-05-10)

PRI is facility * 8 + severity, the alert's severity mapped to syslog's (critical 2, high 3 error, medium 4
warning, low 5 notice). The timestamp is the alert's creation, MSGID the detection id. SD-ID ``regaudit@32473``
uses IANA's example enterprise number. In SD-PARAM values ``"``, ``\\`` and ``]`` are escaped with a backslash;
header fields hold printable US-ASCII only. Over TCP and TLS each message is framed by octet counting
(``<length> <message>``, RFC 6587 3.4.1); over UDP one datagram holds one message, cut to 2048 octets.
"""

from __future__ import annotations

import os
import select
import socket
import ssl
from datetime import datetime

from regaudit.analytics.alerts.alert import Alert
from regaudit.analytics.alerts.errors import SinkUnavailable
from regaudit.analytics.alerts.settings import FACILITIES, SinkSettings
from regaudit.analytics.detection import Severity

SD_ID = "regaudit@32473"
UDP_MAX_OCTETS = 2048
SEVERITY_CODES = {Severity.CRITICAL: 2, Severity.HIGH: 3, Severity.MEDIUM: 4, Severity.LOW: 5}


def sd_escape(value: str) -> str:
    """An SD-PARAM value: backslash before ``\\``, ``"`` and ``]`` (RFC 5424 section 6.3.3)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def header_field(value: str | None, limit: int) -> str:
    """A header field: printable US-ASCII without spaces, at most ``limit`` characters, ``-`` when empty."""
    cleaned = "".join(c if 33 <= ord(c) <= 126 else "_" for c in (value or ""))[:limit]
    return cleaned or "-"


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def structured_data(alert: Alert, link: str | None) -> str:
    params = {
        "alert_id": alert.alert_id,
        "finding_id": alert.finding_id,
        "detection": alert.detection_id,
        "severity": alert.severity.value,
        "origin": alert.origin,
        "actor": alert.actor,
        "client_addr": alert.client_addr,
        "user_agent": alert.user_agent,
        "action": alert.action,
        "registry": alert.registry,
        "repository": alert.repository,
        "tag": alert.tag,
        "digest": alert.digest,
        "event_at": _timestamp(alert.event_at) if alert.event_at else None,
        "attack": ",".join(alert.attack) or None,
        "link": link,
    }
    pairs = " ".join(f'{name}="{sd_escape(value)}"' for name, value in params.items() if value)
    return f"[{SD_ID} {pairs}]"


def format_message(alert: Alert, facility: str, hostname: str, app_name: str, link: str | None) -> str:
    """The RFC 5424 message for one alert (without transport framing)."""
    pri = FACILITIES[facility] * 8 + SEVERITY_CODES[alert.severity]
    header = " ".join(
        [
            f"<{pri}>1",
            _timestamp(alert.created_at),
            header_field(hostname, 255),
            header_field(app_name, 48),
            header_field(str(os.getpid()), 128),
            header_field(alert.detection_id, 32),
        ]
    )
    text = f"{alert.severity.value.upper()} {alert.title}: {alert.summary}"
    return f"{header} {structured_data(alert, link)} {text}"


def frame(message: str, protocol: str) -> bytes:
    """Octet counting over TCP and TLS; one datagram of at most 2048 octets over UDP."""
    data = message.encode("utf-8")
    if protocol == "udp":
        return data[:UDP_MAX_OCTETS].decode("utf-8", "ignore").encode("utf-8")
    return str(len(data)).encode() + b" " + data


class SyslogSink:
    def __init__(self, settings: SinkSettings, dashboard_url: str | None, hostname: str | None = None) -> None:
        assert settings.host is not None  # checked by SinkSettings
        self.name = settings.name
        self.settings = settings
        self.address = (settings.host, settings.syslog_port)
        self.dashboard_url = dashboard_url
        self.hostname = hostname or socket.gethostname()
        self._stream: socket.socket | None = None

    def send(self, alert: Alert) -> None:
        link = alert.links(self.dashboard_url).get("finding")
        message = format_message(alert, self.settings.facility, self.hostname, self.settings.app_name, link)
        data = frame(message, self.settings.protocol)
        try:
            if self.settings.protocol == "udp":
                with socket.socket(_family(self.address[0]), socket.SOCK_DGRAM) as sock:
                    sock.sendto(data, self.address)
            else:
                self._connected().sendall(data)
        except OSError as error:
            self.close()
            raise SinkUnavailable(f"sink {self.name}: syslog {self.settings.protocol}: {error}") from None

    def _connected(self) -> socket.socket:
        if self._stream is not None and _readable(self._stream):
            self.close()  # a collector never writes to us: readable means it closed the connection
        if self._stream is None:
            sock = socket.create_connection(self.address, timeout=self.settings.timeout_seconds)
            if self.settings.protocol == "tls":
                cafile = str(self.settings.tls_ca_file) if self.settings.tls_ca_file else None
                context = ssl.create_default_context(cafile=cafile)
                sock = context.wrap_socket(sock, server_hostname=self.address[0])
            self._stream = sock
        return self._stream

    def close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.close()


def _readable(sock: socket.socket) -> bool:
    readable, _, _ = select.select([sock], [], [], 0)
    return bool(readable)


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET
