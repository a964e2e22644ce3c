"""``regaudit webhook``: the HTTP receiver of registry notifications (DESIGN.md section 4).

Answers, exactly:

* 200 once every event of the POST is durable downstream (Kafka acks=all, or the DuckDB commit);
* 200 as well for a body that is not JSON, not an envelope, or holds an invalid event: it is stored raw as a
  dead letter, because the registry's queue is serial and retries forever, so a 4xx would block every later event;
* 401 for a missing or wrong bearer token (compared in constant time against each configured token);
* 413 for a body over the size limit;
* 503 while the sink is unavailable (broker down, store locked): the registry keeps the events and retries.

``/healthz`` answers 200 or 503 by the sink's health; ``/metrics`` is Prometheus text.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse

from regaudit import __version__
from regaudit.errors import TransientError
from regaudit.ingest.envelope import split_envelope
from regaudit.ingest.records import RawRecord
from regaudit.ingest.sinks import RecordSink
from regaudit.settings import WebhookSettings

log = logging.getLogger(__name__)


class Metrics:
    """Counters for /metrics; thread-safe, no dependency on a metrics library."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.responses: Counter[int] = Counter()
        self.events = 0
        self.dead_letters = 0
        self.deliver_seconds = 0.0
        self.deliveries = 0

    def observe(self, status: int, events: int = 0, dead: int = 0, seconds: float | None = None) -> None:
        with self._lock:
            self.responses[status] += 1
            self.events += events
            self.dead_letters += dead
            if seconds is not None:
                self.deliver_seconds += seconds
                self.deliveries += 1

    def render(self, sink_up: bool) -> str:
        with self._lock:
            lines = [
                "# HELP regaudit_webhook_responses_total Notification POSTs answered, by status code.",
                "# TYPE regaudit_webhook_responses_total counter",
                *(f'regaudit_webhook_responses_total{{code="{c}"}} {n}' for c, n in sorted(self.responses.items())),
                "# HELP regaudit_webhook_events_total Events accepted and delivered.",
                "# TYPE regaudit_webhook_events_total counter",
                f"regaudit_webhook_events_total {self.events}",
                "# HELP regaudit_webhook_dead_letters_total Payloads kept as dead letters.",
                "# TYPE regaudit_webhook_dead_letters_total counter",
                f"regaudit_webhook_dead_letters_total {self.dead_letters}",
                "# HELP regaudit_webhook_deliver_seconds Time until the sink acknowledged.",
                "# TYPE regaudit_webhook_deliver_seconds summary",
                f"regaudit_webhook_deliver_seconds_sum {self.deliver_seconds:.6f}",
                f"regaudit_webhook_deliver_seconds_count {self.deliveries}",
                "# HELP regaudit_webhook_sink_up Whether the sink (Kafka or the store) is reachable.",
                "# TYPE regaudit_webhook_sink_up gauge",
                f"regaudit_webhook_sink_up {int(sink_up)}",
            ]
        return "\n".join(lines) + "\n"


def _authorized(header: str | None, tokens: list[bytes]) -> bool:
    if not header or not header.startswith("Bearer "):
        return False
    offered = header[len("Bearer ") :].strip().encode()
    matched = False
    for token in tokens:  # every token compared, so timing does not tell which one (or whether any) matched
        matched |= hmac.compare_digest(offered, token)
    return matched


async def _read_body(request: Request, limit: int) -> bytes | None:
    """The body, or None when it exceeds the limit (declared or actual)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(settings: WebhookSettings, sink: RecordSink) -> FastAPI:
    """The ASGI app; the sink decides where events go (Kafka, the store, or memory in unit tests)."""
    app = FastAPI(
        title="regaudit webhook",
        version=__version__,
        description="Receives CNCF Distribution registry notifications (events.v1+json, events.v2+json).",
    )
    tokens = [token.get_secret_value().encode() for token in settings.tokens]
    metrics = Metrics()
    app.state.metrics = metrics

    async def receive(request: Request, registry: str) -> JSONResponse:
        if not _authorized(request.headers.get("authorization"), tokens):
            metrics.observe(401)
            return JSONResponse({"error": "missing or invalid bearer token"}, 401, {"WWW-Authenticate": "Bearer"})
        body = await _read_body(request, settings.max_body_bytes)
        if body is None:
            metrics.observe(413)
            return JSONResponse({"error": f"body over {settings.max_body_bytes} bytes"}, 413)
        request_id = str(uuid.uuid4())
        parsed = split_envelope(
            body,
            origin=f"webhook:{request_id}",
            received_at=datetime.now(UTC),
            registry=registry,
            content_type=request.headers.get("content-type"),
        )
        records: list[tuple[str | None, RawRecord]] = [(repo, record) for repo, record in parsed.events]
        records += [(None, record) for record in parsed.dead_letters]
        started = time.perf_counter()
        try:
            await run_in_threadpool(sink.deliver, records)
        except TransientError as error:
            log.warning("request=%s deliver failed: %s", request_id, error)
            metrics.observe(503)
            return JSONResponse({"error": "sink unavailable, retry later"}, 503, {"Retry-After": "1"})
        metrics.observe(200, len(parsed.events), len(parsed.dead_letters), time.perf_counter() - started)
        return JSONResponse(
            {
                "request_id": request_id,
                "accepted": len(parsed.events),
                "dead_letters": len(parsed.dead_letters),
            }
        )

    @app.post("/events", summary="Receive a notification envelope for the default registry")
    async def events(request: Request) -> JSONResponse:
        return await receive(request, settings.registry)

    @app.post("/events/{registry}", summary="Receive a notification envelope for a named registry")
    async def named_events(registry: str, request: Request) -> JSONResponse:
        return await receive(request, registry)

    @app.get("/healthz", summary="200 when the sink is reachable, 503 otherwise")
    async def healthz() -> JSONResponse:
        up = await run_in_threadpool(sink.healthy)
        return JSONResponse({"status": "ok" if up else "sink unavailable"}, 200 if up else 503)

    @app.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
    async def prometheus() -> PlainTextResponse:
        up = await run_in_threadpool(sink.healthy)
        return PlainTextResponse(metrics.render(up), media_type="text/plain; version=0.0.4")

    return app
