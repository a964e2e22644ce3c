"""``regaudit listen-syslog``: receive syslog lines over TCP and UDP and deliver them as raw records.

Harbor forwards its audit log with Go's ``log/syslog`` over plain TCP, one ``\\n``-terminated line per record and a
new connection per record (FORMATS-more-registries.md 7); a relay (rsyslog, syslog-ng) may instead send RFC 6587
octet-counted frames (``<length> <message>``) over TCP, or one message per UDP datagram. All three are read here; a
frame's content is not judged (the Harbor normalizer does that, a line it cannot read becomes a dead letter).

Delivery: the listener threads put each line on a bounded queue; one delivery thread hands batches to the record
sink (Kafka acks=all, or the DuckDB commit), retrying while it is down. A full queue blocks the TCP readers, so a
slow sink pushes back on the senders instead of dropping lines; UDP has no such back-pressure (the kernel drops
datagrams a full buffer cannot take; syslog over UDP is lossy by design). Lines still queued at shutdown are
delivered before ``run`` returns. A line longer than ``max_line_bytes`` is kept clipped as a dead letter.

Hostile peers: UDP is read by one thread that never waits for the queue (a datagram finding it full is dropped and
counted in ``dropped``), so a flood costs no thread per datagram and cannot pile up blocked threads. TCP takes a
thread per connection, at most ``max_connections`` of them: a connection beyond that hangs up the oldest one open,
so thousands of idle or slowly dripping connections (or Harbor's abandoned ones) cannot exhaust threads or memory,
and the newest senders are the ones served. An idle connection also ends after ``IDLE_CONNECTION_SECONDS``, and at
shutdown any connection still open after that long is hung up, so a dripping peer cannot hold ``run`` for ever.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import queue
import socket
import socketserver
import threading
import time
from datetime import UTC, datetime

from regaudit.backoff import Backoff, no_jitter
from regaudit.errors import TransientError
from regaudit.ingest.records import RawRecord
from regaudit.ingest.sinks import RecordSink

log = logging.getLogger(__name__)

_QUEUE_LINES = 10_000
#: TCP connections served at once; one more hangs up the oldest (see the module docstring)
MAX_CONNECTIONS = 1000
#: a connection silent this long is closed (Harbor opens one per record and never closes the old ones)
IDLE_CONNECTION_SECONDS = 30.0


class SyslogListener:
    """TCP and UDP syslog servers feeding one delivery thread; records carry ``registry_kind`` and content type."""

    def __init__(
        self,
        sink: RecordSink,
        *,
        host: str,
        port: int,
        protocols: list[str],
        instance: str,
        registry_kind: str,
        content_type: str,
        batch_lines: int = 1000,
        max_line_bytes: int = 65536,
        max_connections: int = MAX_CONNECTIONS,
        queue_lines: int = _QUEUE_LINES,
    ) -> None:
        self.sink = sink
        self.instance = instance
        self.registry_kind = registry_kind
        self.content_type = content_type
        self.batch_lines = batch_lines
        self.max_line_bytes = max_line_bytes
        self.delivered = 0
        self.dropped = 0  # UDP datagrams that found the queue full
        self._queue: queue.Queue[RawRecord] = queue.Queue(queue_lines)
        self._stop = threading.Event()
        self._servers: list[socketserver.BaseServer] = []
        if "tcp" in protocols:
            self._servers.append(_TCPServer((host, port), _TCPHandler, self, max_connections))
        if "udp" in protocols:
            udp_port = port or (self.tcp_port if self._servers else 0)
            self._servers.append(_UDPServer((host, udp_port), _UDPHandler, self))

    @property
    def tcp_port(self) -> int:
        return next(s.server_address[1] for s in self._servers if isinstance(s, _TCPServer))

    @property
    def udp_port(self) -> int:
        return next(s.server_address[1] for s in self._servers if isinstance(s, _UDPServer))

    def stop(self) -> None:
        self._stop.set()

    def run(self, max_idle_seconds: float | None = None) -> int:
        """Serve until stopped (or idle for ``max_idle_seconds``), deliver what is queued; returns lines delivered."""
        threads = [threading.Thread(target=s.serve_forever, name="syslog", daemon=True) for s in self._servers]
        for thread in threads:
            thread.start()
        try:
            self._deliver_until_stopped(max_idle_seconds)
        finally:
            for server in self._servers:
                server.shutdown()
                if isinstance(server, _TCPServer):
                    server.hang_up_all(after_seconds=IDLE_CONNECTION_SECONDS)
                server.server_close()
            while batch := self._take(block=False):  # what the last connections queued
                self._deliver_batch(batch)
        return self.delivered

    def accept(self, line: bytes, peer: str, transport: str) -> None:
        """From a listener thread: one received message as a record (TCP waits while the queue is full, UDP drops)."""
        line = line.rstrip(b"\r\n")
        if not line:
            return
        received_at = datetime.now(UTC)
        digest = hashlib.sha256(line).hexdigest()
        origin = f"syslog:{transport}:{peer}:{digest[:16]}"
        if len(line) > self.max_line_bytes:
            reason = f"syslog line of {len(line)} bytes, over {self.max_line_bytes}: first bytes kept, sha256 {digest}"
            record = RawRecord("deadletter", line[: self.max_line_bytes], origin, received_at, self.instance,
                               digest[:32], self.content_type, reason, self.registry_kind)  # fmt: skip
        else:
            record = RawRecord("event", line, origin, received_at, self.instance, None, self.content_type, None,
                               self.registry_kind)  # fmt: skip
        if transport != "udp":
            self._queue.put(record)
            return
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1
            if self.dropped in (1, 10, 100) or self.dropped % 10_000 == 0:
                log.warning("syslog queue full: %d UDP datagrams dropped so far", self.dropped)

    def _deliver_until_stopped(self, max_idle_seconds: float | None) -> None:
        idle_since = datetime.now(UTC)
        while not self._stop.is_set():
            batch = self._take(block=True)
            if batch:
                self._deliver_batch(batch)
                idle_since = datetime.now(UTC)
            elif max_idle_seconds is not None and (datetime.now(UTC) - idle_since).total_seconds() > max_idle_seconds:
                return

    def _take(self, block: bool) -> list[RawRecord]:
        batch: list[RawRecord] = []
        try:
            batch.append(self._queue.get(timeout=0.05) if block else self._queue.get_nowait())
            while len(batch) < self.batch_lines:
                batch.append(self._queue.get_nowait())
        except queue.Empty:
            pass
        return batch

    def _deliver_batch(self, batch: list[RawRecord]) -> None:
        """Deliver, retrying while the sink is down (the queue fills meanwhile and pushes back on TCP senders)."""
        if not batch:
            return
        backoff = Backoff(0.1, 30.0, jitter=no_jitter)
        while True:
            try:
                self.sink.deliver([(None, record) for record in batch])
                self.delivered += len(batch)
                log.info("syslog delivered=%d total=%d", len(batch), self.delivered)
                return
            except TransientError as error:
                rest = backoff.failed()
                log.warning("deliver failed, retrying in %.1fs: %s", rest, error)
                threading.Event().wait(rest)


class _TCPServer(socketserver.ThreadingTCPServer):
    # socketserver's defaults (non-daemon threads, block_on_close) join the handler threads on close, so the lines
    # of connections still open are queued before the last delivery; an idle connection ends after its handler's
    # timeout (Harbor leaves its connections open)
    allow_reuse_address = True
    request_queue_size = socket.SOMAXCONN  # socketserver's 5 refuses a burst of Harbor's one-connection records

    def __init__(self, address: tuple[str, int], handler: type, listener: SyslogListener, most: int) -> None:
        self.listener = listener
        self.most = most
        self._open: dict[socket.socket, float] = {}  # connection -> when it was accepted
        self._open_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request: socket.socket, client_address: object) -> None:  # type: ignore[override]
        """Serve the connection in a thread of its own, hanging up the oldest one open if ``most`` already are."""
        with self._open_lock:
            if len(self._open) >= self.most:
                oldest = min(self._open, key=self._open.__getitem__)
                del self._open[oldest]
                _hang_up(oldest)
            self._open[request] = time.monotonic()
        super().process_request(request, client_address)

    def hang_up_all(self, after_seconds: float) -> None:
        """At shutdown: let open connections end by themselves for ``after_seconds``, then hang up the rest (a peer
        dripping a byte every few seconds never idles out, and ``server_close`` would wait for it for ever)."""
        deadline = time.monotonic() + after_seconds
        while self._open and time.monotonic() < deadline:
            time.sleep(0.05)
        with self._open_lock:
            for connection in self._open:
                _hang_up(connection)

    def shutdown_request(self, request: socket.socket) -> None:  # type: ignore[override]
        with self._open_lock:
            self._open.pop(request, None)
        super().shutdown_request(request)


def _hang_up(connection: socket.socket) -> None:
    """End a connection another thread reads: its read returns the end of the stream, and its handler returns."""
    with contextlib.suppress(OSError):  # already closed by its peer
        connection.shutdown(socket.SHUT_RDWR)


class _UDPServer(socketserver.UDPServer):
    # one thread reads every datagram and never waits for the queue (accept drops on a full one): a flood costs no
    # thread per datagram
    max_packet_size = 65535  # a syslog datagram can be as long as UDP allows (socketserver reads 8192 otherwise)

    def __init__(self, address: tuple[str, int], handler: type, listener: SyslogListener) -> None:
        self.listener = listener
        super().__init__(address, handler)


class _TCPHandler(socketserver.StreamRequestHandler):
    """One connection: newline-terminated lines, or RFC 6587 octet-counted frames (a frame starting with digits)."""

    timeout = IDLE_CONNECTION_SECONDS

    def handle(self) -> None:
        listener: SyslogListener = self.server.listener  # type: ignore[attr-defined]
        peer = f"{self.client_address[0]}:{self.client_address[1]}"
        limit = listener.max_line_bytes + 1
        try:
            while (message := _read_frame(self.rfile, limit)) is not None:
                listener.accept(message, peer, "tcp")
        except (TimeoutError, ConnectionError):
            return  # an idle or broken connection: what it sent whole was accepted


def _read_frame(stream: io.BufferedIOBase, limit: int) -> bytes | None:
    """The next message: ``<digits> <message>`` (octet counting) or a line; None at the end of the stream. At most
    ``limit`` bytes of a message are kept (the listener dead-letters a clipped one); the rest is read past."""
    first = stream.read(1)
    if not first:
        return None
    if first.isdigit():
        digits = first
        while (char := stream.read(1)).isdigit() and len(digits) < 9:
            digits += char
        if char == b" ":
            count = int(digits)
            message = stream.read(min(count, limit))
            _skip(stream, count - len(message))
            return message
        return digits + char + _rest_of_line(stream, limit)
    return first + _rest_of_line(stream, limit)


def _rest_of_line(stream: io.BufferedIOBase, limit: int) -> bytes:
    line = stream.readline(limit)
    tail = line
    while tail and not tail.endswith(b"\n"):  # longer than the limit: keep the head, read past the rest
        tail = stream.readline(limit)
    return line


def _skip(stream: io.BufferedIOBase, count: int) -> None:
    while count > 0 and (chunk := stream.read(min(count, 1 << 16))):
        count -= len(chunk)


class _UDPHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        listener: SyslogListener = self.server.listener  # type: ignore[attr-defined]
        data = self.request[0]
        listener.accept(data, f"{self.client_address[0]}:{self.client_address[1]}", "udp")
