"""A recording HTTP endpoint for the registry's notifications, to test the stack without the webhook.

:class:`RecordingReceiver` keeps every POST (path, headers, raw body, the status it answered) and can be told
to answer the next N requests with an error, to watch the registry retry the same event.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.infra.process import LOOPBACK


@dataclass(frozen=True)
class RecordedRequest:
    """One POST as it arrived, with the status the receiver answered."""

    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    received_at: float = field(default_factory=time.time)

    def envelope(self) -> dict[str, Any]:
        return dict(json.loads(self.body))

    def events(self) -> list[dict[str, Any]]:
        return list(self.envelope().get("events", []))


class RecordingReceiver:
    """A threaded HTTP server on a free loopback port; a context manager."""

    def __init__(self, path: str = "/events") -> None:
        self.path = path
        self._lock = threading.Condition()
        self._requests: list[RecordedRequest] = []
        self._failures: list[int] = []
        self._server = ThreadingHTTPServer((LOOPBACK, 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="recording-receiver", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self._server.server_address[1]}{self.path}"

    def start(self) -> RecordingReceiver:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> RecordingReceiver:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def fail_next(self, count: int, status: int = 500) -> None:
        """Answer the next ``count`` POSTs with ``status`` (they are still recorded)."""
        with self._lock:
            self._failures.extend([status] * count)

    def recover(self) -> None:
        """Answer every later POST 2xx again, whatever ``fail_next`` still had queued."""
        with self._lock:
            self._failures.clear()

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every POST so far, failed ones included, in arrival order."""
        with self._lock:
            return list(self._requests)

    def events(self) -> list[dict[str, Any]]:
        """The events of the POSTs answered 2xx, in arrival order (a retried event appears once per 2xx)."""
        return [event for request in self.requests if 200 <= request.status < 300 for event in request.events()]

    def wait_for(
        self, condition: Callable[[list[dict[str, Any]]], bool], *, timeout: float = 15.0
    ) -> list[dict[str, Any]]:
        """Wait until ``condition(self.events())`` holds, and return those events; AssertionError if not."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                events = [e for r in self._requests if 200 <= r.status < 300 for e in r.events()]
                if condition(events):
                    return events
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"condition not met within {timeout}s; {len(events)} events received")
                self._lock.wait(remaining)

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)
            self._lock.notify_all()

    def _next_status(self) -> int:
        with self._lock:
            return self._failures.pop(0) if self._failures else 200

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status = receiver._next_status()
                receiver._record(RecordedRequest(self.path, dict(self.headers.items()), body, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the recorded requests are the log."""

        return Handler
