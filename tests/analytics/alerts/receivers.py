"""Real local receivers for the alert sinks, each checking the wire format on its own terms.

- :class:`HttpReceiver`: an HTTP server that verifies the webhook's HMAC-SHA256 signature from the documented
  recipe (not from regaudit's code), within a 300-second replay window; with no secret it takes any JSON (the
  Slack-compatible sink). It can be stopped and started again on the same port (a sink that is down).
- :class:`SyslogListener`: UDP or TCP (octet-counting frames), every message parsed by ``rfc5424.parse_rfc5424``.
- :func:`kafka_alerts`: every record on an alerts topic.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import socket
import socketserver
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from tests.analytics.alerts.rfc5424 import SyslogMessage, parse_rfc5424

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Arrival:
    """One alert as a receiver got it, with its wall-clock arrival time."""

    body: dict[str, Any]
    arrived: float
    headers: dict[str, str] = field(default_factory=dict)
    verified: bool = True


class _Collector:
    def __init__(self) -> None:
        self.arrivals: list[Arrival] = []
        self.refused = 0
        self._condition = threading.Condition()

    def add(self, arrival: Arrival) -> None:
        with self._condition:
            self.arrivals.append(arrival)
            self._condition.notify_all()

    def wait_for(self, count: int, timeout: float) -> list[Arrival]:
        with self._condition:
            self._condition.wait_for(lambda: len(self.arrivals) >= count, timeout)
            return list(self.arrivals)


class HttpReceiver(_Collector):
    """POST endpoint on a loopback port; ``secret`` makes it verify X-Regaudit-Signature and refuse with 401.
    The port is kept across ``stop`` and ``start``."""

    def __init__(self, secret: bytes | None = None, window: float = 300.0) -> None:
        super().__init__()
        self.secret = secret
        self.window = window
        self.port = 0
        self.fail_with: int | None = None  # answer every POST with this status (and Retry-After: 7)
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}/alerts"

    def verify(self, headers: dict[str, str], body: bytes) -> bool:
        """The receiver's check, as documented: fresh timestamp, HMAC over "<timestamp>." + body."""
        assert self.secret is not None
        timestamp = headers.get("X-Regaudit-Timestamp", "")
        given = headers.get("X-Regaudit-Signature", "")
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > self.window:
            return False
        expected = "sha256=" + hmac.new(self.secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, given)

    def start(self) -> HttpReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = dict(self.headers.items())
                if receiver.fail_with is not None:
                    self.send_response(receiver.fail_with)
                    self.send_header("Retry-After", "7")
                    self.end_headers()
                    return
                ok = receiver.secret is None or receiver.verify(headers, body)
                if ok:
                    receiver.add(Arrival(json.loads(body), time.time(), headers))
                else:
                    receiver.refused += 1
                self.send_response(200 if ok else 401)
                self.end_headers()
                self.wfile.write(b"ok" if ok else b"bad signature")

            def log_message(self, format: str, *args: Any) -> None:
                return None

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer((LOOPBACK, self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> HttpReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _TlsServer(socketserver.ThreadingTCPServer):
    """A TCP server that speaks TLS on each accepted connection when it has a context."""

    context: ssl.SSLContext | None = None

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        if self.context is not None:
            connection = self.context.wrap_socket(connection, server_side=True)
        return connection, address


class SyslogListener(_Collector):
    """A syslog collector on a loopback port: ``udp`` datagrams, or ``tcp`` octet-counted frames (``tls``: over
    TLS with ``certificate``, a ``(cert, key)`` pair of files)."""

    def __init__(self, protocol: str, certificate: tuple[Path, Path] | None = None) -> None:
        super().__init__()
        self.protocol = protocol
        self.certificate = certificate
        self.messages: list[SyslogMessage] = []
        self.errors: list[str] = []
        self._server: socketserver.BaseServer | None = None
        self._connections: list[socket.socket] = []
        self._port = 0  # kept across stop and start

    @property
    def port(self) -> int:
        return self._port

    def _take(self, data: bytes) -> None:
        arrived = time.time()
        try:
            message = parse_rfc5424(data.decode("utf-8"), arrived)
        except (ValueError, UnicodeDecodeError) as error:
            self.errors.append(str(error))
            return
        self.messages.append(message)
        params = message.structured_data.get("regaudit@32473", {})
        self.add(Arrival(dict(params), arrived))

    def start(self) -> SyslogListener:
        listener = self

        class Udp(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                listener._take(self.request[0])

        class Tcp(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                listener._connections.append(self.connection)
                while True:
                    length = b""
                    while (char := self.rfile.read(1)) not in (b" ", b""):
                        length += char
                    if not length:
                        return
                    try:
                        listener._take(self.rfile.read(int(length)))
                    except ValueError:  # the listener closed this connection
                        return

        if self.protocol == "udp":
            self._server = socketserver.ThreadingUDPServer((LOOPBACK, self._port), Udp)
        else:
            socketserver.ThreadingTCPServer.allow_reuse_address = True
            self._server = _TlsServer((LOOPBACK, self._port), Tcp)
            if self.protocol == "tls":
                assert self.certificate is not None
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                context.load_cert_chain(*self.certificate)
                self._server.context = context
        self._port = int(self._server.server_address[1])  # type: ignore[index]
        self._server.daemon_threads = True  # type: ignore[attr-defined]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()  # type: ignore[attr-defined]
        for connection in self._connections:  # a collector that stops drops its clients
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> SyslogListener:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def kafka_alerts(bootstrap: str, topic: str, timeout: float = 2.0) -> list[tuple[Arrival, bytes | None]]:
    """Every record on ``topic`` (document, arrival = the record's broker timestamp) and its key."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, consumer_timeout_ms=int(timeout * 1000)
    )
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        return [
            (Arrival(json.loads(m.value), m.timestamp / 1000, {k: v.decode() for k, v in m.headers or ()}), m.key)
            for m in consumer
        ]
    finally:
        consumer.close()
