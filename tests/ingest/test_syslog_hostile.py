"""``regaudit listen-syslog`` against hostile peers over real sockets: thousands of idle TCP connections cost a
bounded number of threads (the oldest is hung up), and a UDP flood while the sink is down neither piles up threads
nor stops the listener (datagrams that find the queue full are dropped and counted).
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

from regaudit.ingest.receive import syslog
from regaudit.ingest.receive.syslog import SyslogListener
from regaudit.ingest.sinks.memory import MemorySink

LINE = b"<134>Dec  5 03:00:00 harbor-core[1]: a line\n"


def _listening(sink: MemorySink, **options: int) -> tuple[SyslogListener, threading.Thread]:
    listener = SyslogListener(sink, host="127.0.0.1", port=0, protocols=["tcp", "udp"], instance="harbor-prod",
                              registry_kind="harbor", content_type="text/plain", **options)  # fmt: skip
    thread = threading.Thread(target=listener.run, kwargs={"max_idle_seconds": 1.0})
    thread.start()
    return listener, thread


def _handler_threads() -> int:
    return sum("process_request" in thread.name for thread in threading.enumerate())


def _settle(condition, seconds: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)


def test_idle_connections_beyond_the_limit_hang_up_the_oldest_and_a_sender_is_still_served() -> None:
    sink = MemorySink()
    listener, thread = _listening(sink, max_connections=4)
    idle = [socket.create_connection(("127.0.0.1", listener.tcp_port)) for _ in range(40)]
    try:
        _settle(lambda: _handler_threads() <= 4)
        assert _handler_threads() <= 4
        idle[0].settimeout(2.0)
        assert idle[0].recv(1) == b""  # hung up by the listener, not left to its 30 s idle timeout
        with socket.create_connection(("127.0.0.1", listener.tcp_port)) as sender:
            sender.sendall(LINE)
        _settle(lambda: len(sink.delivered) == 1)
    finally:
        for connection in idle:
            connection.close()
    thread.join(timeout=10)
    assert [record.value for _, record in sink.delivered] == [LINE.rstrip(b"\n")]


class _StuckSink(MemorySink):
    """Down (its deliver waits) until released."""

    def __init__(self) -> None:
        super().__init__()
        self.released = threading.Event()

    def deliver(self, records):  # type: ignore[no-untyped-def]
        self.released.wait(10)
        super().deliver(records)


def test_a_udp_flood_while_the_sink_is_stuck_is_dropped_without_a_thread_per_datagram() -> None:
    sink = _StuckSink()
    listener, thread = _listening(sink, queue_lines=5, batch_lines=1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        for number in range(300):
            udp.sendto(b"flood %d" % number, ("127.0.0.1", listener.udp_port))
    _settle(lambda: listener.dropped > 0)
    time.sleep(0.2)
    threads = _handler_threads()
    sink.released.set()
    assert threads <= 1
    assert listener.dropped > 0
    with socket.create_connection(("127.0.0.1", listener.tcp_port)) as sender:  # the listener goes on
        sender.sendall(LINE)
    thread.join(timeout=10)
    values = [record.value for _, record in sink.delivered]
    assert LINE.rstrip(b"\n") in values
    assert len(values) + listener.dropped <= 301  # every datagram the socket buffer kept is delivered or counted


def test_a_peer_dripping_bytes_does_not_hold_the_listener_open_after_stop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(syslog, "IDLE_CONNECTION_SECONDS", 0.5)  # the grace at shutdown (30 s in use)
    sink = MemorySink()
    listener = SyslogListener(sink, host="127.0.0.1", port=0, protocols=["tcp"], instance="harbor-prod",
                              registry_kind="harbor", content_type="text/plain")  # fmt: skip
    thread = threading.Thread(target=listener.run)
    thread.start()
    stop = threading.Event()

    def drip() -> None:
        with socket.create_connection(("127.0.0.1", listener.tcp_port)) as connection:
            connection.sendall(LINE)
            while not stop.wait(0.1):  # a byte every 0.1 s: never idle for the handler's timeout
                try:
                    connection.sendall(b"x")
                except OSError:
                    return

    dripper = threading.Thread(target=drip)
    dripper.start()
    _settle(lambda: len(sink.delivered) == 1)
    listener.stop()
    thread.join(timeout=5)
    alive = thread.is_alive()
    stop.set()
    dripper.join()
    thread.join()
    assert not alive  # run waited for the dripping peer for as long as it dripped
    assert [record.value for _, record in sink.delivered][:1] == [LINE.rstrip(b"\n")]
