"""Prometheus text for every process that serves ``/metrics``, and the small server of the ones without a web app.

The webhook renders its counters inside its FastAPI app; ``regaudit consume`` has no web app, so it serves the
same text from ``MetricsServer``: the standard library's threaded HTTP server on a daemon thread, answering
``GET /metrics`` and ``GET /healthz`` only. No metrics library: the text format (version 0.0.4) is a few lines
per family, and ``family`` is the one place that writes it (HELP and TYPE lines, label values escaped)::

    # HELP regaudit_consumer_batches_total Batches stored and their offsets committed.
    # TYPE regaudit_consumer_batches_total counter
    regaudit_consumer_batches_total 12

A server that cannot bind (the port taken by another consumer on the same host) is logged as an error and left
out: metrics are never a reason to stop the audit feed, and Prometheus shows the missing target as ``up == 0``.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

#: the ``Content-Type`` of Prometheus's text exposition format
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MetricKind = Literal["counter", "gauge", "summary"]
#: ``(status, JSON body)`` of ``/healthz``
Health = tuple[int, dict[str, Any]]


@dataclass(frozen=True)
class Sample:
    """One line of a family: a value, its labels, and the suffix of a summary's ``_sum`` or ``_count``."""

    value: float
    labels: Mapping[str, object] = field(default_factory=dict)
    suffix: str = ""

    def line(self, name: str) -> str:
        labels = ",".join(f'{key}="{_escape(str(value))}"' for key, value in self.labels.items())
        selector = f"{{{labels}}}" if labels else ""
        return f"{name}{self.suffix}{selector} {_number(self.value)}"


def family(name: str, kind: MetricKind, description: str, samples: Iterable[Sample] | float) -> list[str]:
    """The HELP and TYPE lines of a metric and its samples (a bare number is one sample without labels)."""
    listed = [Sample(samples)] if isinstance(samples, int | float) else list(samples)
    help_text = description.replace("\\", "\\\\").replace("\n", "\\n")
    return [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", *(s.line(name) for s in listed)]


def by_label(label: str, counts: Mapping[Any, float]) -> list[Sample]:
    """One sample per key of ``counts``, labelled ``label``, in a stable order."""
    return [Sample(value, {label: key}) for key, value in sorted(counts.items(), key=lambda item: str(item[0]))]


def text(*families: list[str]) -> str:
    """The exposition: families one after the other, newline-terminated."""
    return "".join(line + "\n" for lines in families for line in lines)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    """Integers as integers, other values in Python's shortest round-trip form (Prometheus parses both)."""
    return str(int(value)) if isinstance(value, int) or value.is_integer() else repr(value)


class MetricsServer:
    """``GET /metrics`` (``render()``) and ``GET /healthz`` (``health()``) on a daemon thread.

    ``render`` and ``health`` run on the server's threads: they read thread-safe counters, never the Kafka
    consumer (kafka-python's is not thread-safe).
    """

    def __init__(self, host: str, port: int, render: Callable[[], str], health: Callable[[], Health]) -> None:
        self.address = (host, port)
        self.render = render
        self.health = health
        self._server: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int | None:
        """The bound port (the configured one, or the one the system chose for 0), none when not serving."""
        return None if self._server is None else int(self._server.server_address[1])

    def start(self) -> bool:
        """Bind and serve; False, with the reason logged, when the address cannot be bound."""
        try:
            self._server = _QuietServer(self.address, _handler(self))
        except OSError as error:
            log.error("metrics: cannot listen on %s:%d (%s); consuming without /metrics", *self.address, error)
            return False
        threading.Thread(target=self._server.serve_forever, name="metrics", daemon=True).start()
        log.info("metrics: serving /metrics and /healthz on http://%s:%d", self.address[0], self.port)
        return True

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A scraper that hung up mid-answer: logged, not a traceback on stderr."""
        log.debug("metrics: request from %s failed", client_address, exc_info=True)


def _handler(server: MetricsServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        """Two read-only paths; anything else is 404, any other method 501 (the standard library's answer)."""

        def do_GET(self) -> None:  # noqa: N802 - the standard library's name
            path = urlsplit(self.path).path
            if path == "/metrics":
                self._answer(200, CONTENT_TYPE, server.render().encode())
            elif path == "/healthz":
                status, body = server.health()
                self._answer(status, "application/json", json.dumps(body).encode())
            else:
                self._answer(404, "text/plain; charset=utf-8", b"not found: /metrics or /healthz\n")

        def _answer(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the standard library's name
            """Scrapes every 15 s are not news: at DEBUG, never on stderr."""
            log.debug("metrics: %s %s", self.address_string(), format % args)

    return Handler
