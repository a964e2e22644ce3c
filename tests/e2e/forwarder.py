"""A pass-through between the registry and ``regaudit webhook`` that can turn one delivered POST into a failure.

The registry counts any non-2xx answer as a failed delivery and sends the same envelope again (FORMATS.md 1.6).
The costly case for the pipeline is a POST that the webhook *did* accept (its events are in Kafka) but whose
answer the registry did not get as a success, e.g. after its 1 s timeout: the retry puts the same event id into
Kafka a second time, and only the consumer's idempotent insert keeps the store free of duplicates.
:meth:`FaultyForwarder.fail_once_after_delivery` produces exactly that: the matching POST is forwarded to the
webhook, and the registry is answered 500 however the webhook answered.

Every POST is recorded with the status the webhook gave and the status the registry got.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from tests.infra.process import LOOPBACK

Event = dict[str, Any]
_FORWARDED_HEADERS = ("Authorization", "Content-Type", "User-Agent")


@dataclass(frozen=True)
class ForwardedPost:
    """One POST of the registry: its events, what the webhook answered, what the registry was told."""

    events: tuple[Event, ...]
    webhook_status: int
    answered_status: int

    @property
    def event_ids(self) -> list[str]:
        return [event["id"] for event in self.events]


class FaultyForwarder:
    """A threaded HTTP server on a free loopback port forwarding POSTs to ``target``; a context manager."""

    def __init__(self, target: str) -> None:
        parts = urlsplit(target)
        self._target_host, self._target_port = parts.hostname or LOOPBACK, parts.port or 80
        self._lock = threading.Condition()
        self._posts: list[ForwardedPost] = []
        self._fail_when: Callable[[list[Event]], bool] | None = None
        self._server = ThreadingHTTPServer((LOOPBACK, 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="faulty-forwarder", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self._server.server_address[1]}/events"

    def __enter__(self) -> FaultyForwarder:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def fail_once_after_delivery(self, predicate: Callable[[list[Event]], bool]) -> None:
        """The next POST whose events match ``predicate`` is delivered to the webhook, then answered 500."""
        with self._lock:
            self._fail_when = predicate

    @property
    def posts(self) -> list[ForwardedPost]:
        with self._lock:
            return list(self._posts)

    def wait_for(self, condition: Callable[[list[ForwardedPost]], bool], timeout: float) -> list[ForwardedPost]:
        """Wait until ``condition(posts)`` holds; AssertionError naming how many POSTs came if it does not."""
        with self._lock:
            if not self._lock.wait_for(lambda: condition(self._posts), timeout):
                raise AssertionError(f"registry POSTs: condition not met in {timeout}s after {len(self._posts)}")
            return list(self._posts)

    def _forward(self, body: bytes, headers: dict[str, str]) -> int:
        connection = http.client.HTTPConnection(self._target_host, self._target_port, timeout=10)
        try:
            connection.request("POST", "/events", body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            return response.status
        except OSError:
            return 502
        finally:
            connection.close()

    def _handle(self, body: bytes, headers: dict[str, str]) -> int:
        events = list(json.loads(body).get("events", []))
        webhook_status = self._forward(body, headers)
        with self._lock:
            answered = webhook_status
            if self._fail_when is not None and 200 <= webhook_status < 300 and self._fail_when(events):
                self._fail_when, answered = None, 500
            self._posts.append(ForwardedPost(tuple(events), webhook_status, answered))
            self._lock.notify_all()
        return answered

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        forwarder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                kept = {name: self.headers[name] for name in _FORWARDED_HEADERS if name in self.headers}
                status = forwarder._handle(body, kept)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the recorded POSTs are the log."""

        return Handler
