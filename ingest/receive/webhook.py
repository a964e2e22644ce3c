"""``regaudit webhook``: the HTTP receiver of registry notifications (DESIGN.md section 4).

Answers, exactly:

* 200 once every event of the POST is durable downstream (Kafka acks=all, or the DuckDB commit);
* 200 as well for a body that is not JSON, not an envelope, or holds an invalid event: it is stored raw as a
  dead letter, because the registry's queue is serial and retries forever, so a 4xx would block every later event;
* 401 for a missing or wrong bearer token, or one not bound to the registry posted for (``webhook_auth``);
* 413 for a body over the size limit;
* 503 while the sink is unavailable (broker down, store locked): the registry keeps the events and retries;
* 404 for ``/events/<name>`` whose name is not a registry name (``REGISTRY_NAME_PATTERN``), after the token
  was accepted: that is the registry's configured URL, not an event, and accepting it would store events under a
  name that cannot be queried or alerted on; a 404 is what an unknown path gets, and the operator sees it in
  the registry's log at once.

Nothing else, whatever the body holds: the parser never raises (``envelope``), the work per POST is bounded
(events per envelope, JSON depth, body size), and a failure that is not the sink's is answered as a dead letter,
because a 5xx blocks the registry's queue for ever.

Harbor posts to ``/events/harbor/<instance>`` (``<instance>`` is a registry name, and the token may be bound to
it in ``webhook.registry_tokens``): one event per POST, Default or CloudEvents, answered the same way; its policy's
auth header is sent verbatim, so ``Bearer <token>`` and the bare token are both accepted (``harbor_authorization``).
JFrog Artifactory posts to ``/events/artifactory/<instance>`` the same way, one Docker-domain event per POST, with
the webhook's secret in ``X-JFrog-Event-Auth``: the token itself, or with payload signing the hex HMAC-SHA256 of the
body under it (so the body is read before that check; without the header, ``Authorization: Bearer`` as for all).
AWS EventBridge API destinations post ECR's events to ``/events/ecr/<instance>``, one per POST (``ECR Image Action``,
``ECR Image Scan``, or a CloudTrail record forwarded as ``AWS API Call via CloudTrail``), with the bearer token as
the connection's API key header (``Authorization: Bearer <token>``). Azure Container Registry webhooks post to
``/events/acr/<instance>``, one event per POST, with only the custom headers the webhook was given: give it
``Authorization: Bearer <token>`` (``az acr webhook create --headers``).

``/healthz`` answers 200 or 503 by the sink's health; ``/metrics`` is Prometheus text.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse

from regaudit import __version__
from regaudit.errors import TransientError
from regaudit.ingest.metrics import Sample, by_label, family, text
from regaudit.ingest.receive.delivery import Deliver, delivery
from regaudit.ingest.receive.fast_path import EventsFastPath
from regaudit.ingest.receive.webhook_auth import BearerTokens, valid_registry_name
from regaudit.ingest.receive.workers import CounterTable
from regaudit.ingest.records import RawRecord
from regaudit.ingest.sinks import RecordSink, RecordsTooLarge, isolation
from regaudit.ingest.sources.acr.post import split_post as split_acr_post
from regaudit.ingest.sources.artifactory.post import split_post as split_jfrog_post
from regaudit.ingest.sources.distribution.envelope import EnvelopeLimits, ParsedPost, content_key, split_envelope
from regaudit.ingest.sources.ecr.post import split_post as split_ecr_post
from regaudit.ingest.sources.harbor.post import split_post
from regaudit.settings import WebhookSettings

log = logging.getLogger(__name__)

#: what is kept of a record the sink refuses for its size (a misconfigured topic limit): well under any limit
CLIPPED_BYTES = 64 * 1024


#: the answers /metrics counts by status code (every one ``receive`` gives), then its other counters
STATUSES = (200, 401, 404, 413, 503)
EVENTS, DEAD_LETTERS, DELIVER_SECONDS, DELIVERIES = range(len(STATUSES), len(STATUSES) + 4)
COLUMNS = len(STATUSES) + 4


class Metrics:
    """Counters for /metrics; thread-safe, no dependency on a metrics library.

    They live in a row of a ``CounterTable``: with ``webhook.workers`` above one, every worker process adds to its
    own row of one table in shared memory, and /metrics, whichever worker answers it, renders the sums of all rows.
    """

    def __init__(self, table: CounterTable | None = None, row: int = 0) -> None:
        self._lock = threading.Lock()
        self.table = CounterTable(1, COLUMNS) if table is None else table
        self._row = self.table.row(row)

    def observe(self, status: int, events: int = 0, dead: int = 0, seconds: float | None = None) -> None:
        with self._lock:
            row = self._row
            row[STATUSES.index(status)] += 1
            row[EVENTS] += events
            row[DEAD_LETTERS] += dead
            if seconds is not None:
                row[DELIVER_SECONDS] += seconds
                row[DELIVERIES] += 1

    def render(self, sink_up: bool) -> str:
        totals = self.table.totals()
        responses = {code: int(totals[index]) for index, code in enumerate(STATUSES) if totals[index]}
        deliver = [Sample(totals[DELIVER_SECONDS], suffix="_sum"), Sample(int(totals[DELIVERIES]), suffix="_count")]
        return text(
            family("regaudit_webhook_responses_total", "counter",
                   "Notification POSTs answered, by status code.", by_label("code", responses)),
            family("regaudit_webhook_events_total", "counter", "Events accepted and delivered.", int(totals[EVENTS])),
            family("regaudit_webhook_dead_letters_total", "counter",
                   "Payloads kept as dead letters.", int(totals[DEAD_LETTERS])),
            family("regaudit_webhook_deliver_seconds", "summary", "Time until the sink acknowledged.", deliver),
            family("regaudit_webhook_sink_up", "gauge",
                   "Whether the sink (Kafka or the store) is reachable.", int(sink_up)),
        )  # fmt: skip


#: a source's parse step: (body, origin, received_at, registry, content type) -> the POST's records
PostParser = Callable[[bytes, str, datetime, str, str | None], ParsedPost]
#: a source package's ``split_post``: (body, *, origin, received_at, instance, content_type, max_depth) -> ParsedPost
SourceSplit = Callable[..., ParsedPost]


def distribution_parser(limits: EnvelopeLimits) -> PostParser:
    def parse(body: bytes, origin: str, received_at: datetime, registry: str, content_type: str | None) -> ParsedPost:
        return split_envelope(
            body, origin=origin, received_at=received_at, registry=registry, content_type=content_type, limits=limits
        )

    return parse


def source_parser(split: SourceSplit, limits: EnvelopeLimits) -> PostParser:
    """The POST parser of a registry source that posts one event per request (Harbor's, JFrog's, EventBridge's and
    ACR's ``split_*post``): the body as one record of its kind, or a dead letter, its JSON depth limited."""

    def parse(body: bytes, origin: str, received_at: datetime, instance: str, content_type: str | None) -> ParsedPost:
        return split(
            body, origin=origin, received_at=received_at, instance=instance, content_type=content_type,
            max_depth=limits.max_depth,
        )  # fmt: skip

    return parse


def jfrog_allowed(tokens: BearerTokens, request: Request, instance: str, body: bytes) -> bool:
    """JFrog sends the webhook's secret in ``X-JFrog-Event-Auth``: the token, or with payload signing on the hex
    HMAC-SHA256 of the body under it; a webhook configured with a custom ``Authorization`` header sends that."""
    secret = request.headers.get("x-jfrog-event-auth")
    if secret is None:
        return tokens.allow(request.headers.get("authorization"), instance)
    return tokens.allow(f"Bearer {secret}", instance) | tokens.allow_signature(secret, body, instance)


def _parse(body: bytes, request_id: str, registry: str, content_type: str | None, split: PostParser) -> ParsedPost:
    """The POST's records; should the parser fail after all, the body whole as a dead letter (never a 500)."""
    received_at = datetime.now(UTC)
    origin = f"webhook:{request_id}"
    try:
        return split(body, origin, received_at, registry, content_type)
    except Exception as error:  # noqa: BLE001 - the registry retries a 5xx for ever: keep the body instead
        log.exception("request=%s parser failed", request_id)
        reason = f"parser failed: {type(error).__name__}"
        key = content_key(registry, body)
        record = RawRecord("deadletter", body, origin, received_at, registry, key, None, reason)
        return ParsedPost(dead_letters=[record])


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


async def _deliver(deliver: Deliver, records: list[tuple[str | None, RawRecord]]) -> list[int]:
    """Deliver; records the sink refuses for their size are replaced by a clipped dead letter (their indexes are
    returned). A retry could never pass them, and answering 503 would block the registry's queue for ever."""
    try:
        await deliver(records)
        return []
    except RecordsTooLarge as refused:
        log.warning("%s: kept as clipped dead letters; raise the topics' max.message.bytes", refused)
        substitutes = [(None, _clipped(records[index][1], refused.limit_bytes)) for index in refused.indexes]
        try:
            await deliver(substitutes)
        except RecordsTooLarge as again:
            raise TransientError(f"even clipped dead letters are refused: {again}") from again
        return refused.indexes


def _clipped(record: RawRecord, limit_bytes: int) -> RawRecord:
    """A dead letter with the first ``CLIPPED_BYTES`` of a record too large for the sink, its size and digest."""
    digest = hashlib.sha256(record.value).hexdigest()
    reason = (
        f"{record.kind} of {len(record.value)} bytes refused by the sink as too large (producer limit "
        f"{limit_bytes} bytes; the topic's max.message.bytes may be lower): first {CLIPPED_BYTES} bytes kept, "
        f"sha256 {digest}"
    )
    key = record.key or content_key(record.registry or "", record.value)
    value = record.value[:CLIPPED_BYTES]
    return RawRecord(
        "deadletter", value, record.origin, record.received_at, record.registry, key, record.content_type, reason
    )


def harbor_authorization(header: str | None) -> str | None:
    """Harbor sends its policy's auth header verbatim (``Authorization: <auth_header>``): ``Bearer <token>`` as
    every sender, or the bare token, which is read as the same bearer token."""
    if header is None or header[:7].lower() == "bearer ":
        return header
    return f"Bearer {header}"


def _refusal(metrics: Metrics, allowed: bool, registry: str) -> JSONResponse | None:
    """401 for a sender not allowed, then 404 for a name that is not a registry name (only once the sender was
    accepted: the name is the sender's configured URL); None to go on."""
    if not allowed:
        metrics.observe(401)
        return JSONResponse({"error": "missing or invalid bearer token"}, 401, {"WWW-Authenticate": "Bearer"})
    if not valid_registry_name(registry):
        metrics.observe(404)
        return JSONResponse({"error": "not a registry name: letters, digits, . _ -, 63 at most"}, 404)
    return None


def create_app(settings: WebhookSettings, sink: RecordSink, metrics: Metrics | None = None) -> EventsFastPath:
    """The ASGI app (FastAPI behind ``EventsFastPath``); the sink decides where events go (Kafka, the store, or
    memory in unit tests); ``metrics`` is a worker's row of the counters all workers share (its own otherwise)."""
    app = FastAPI(
        title="regaudit webhook",
        version=__version__,
        description="Receives CNCF Distribution registry notifications (events.v1+json, events.v2+json), Harbor"
        " webhooks (Default, CloudEvents), JFrog Artifactory webhooks (Docker domain), ECR EventBridge events and"
        " ACR webhooks.",
    )
    tokens = BearerTokens.from_settings(settings)  # TerminalError at start for an empty or short token
    limits = EnvelopeLimits(max_events=settings.max_events, max_depth=settings.max_json_depth)
    metrics = Metrics() if metrics is None else metrics
    app.state.metrics = metrics

    distribution = distribution_parser(limits)
    deliver = delivery(sink)
    harbor = source_parser(split_post, limits)
    artifactory = source_parser(split_jfrog_post, limits)
    ecr = source_parser(split_ecr_post, limits)
    acr = source_parser(split_acr_post, limits)

    async def receive(request: Request, registry: str, split: PostParser = distribution) -> JSONResponse:
        authorization = request.headers.get("authorization")
        if split is harbor:
            authorization = harbor_authorization(authorization)
        signed = split is artifactory  # its secret may be a signature of the body: checked once the body is read
        if not signed and (refused := _refusal(metrics, tokens.allow(authorization, registry), registry)):
            return refused
        body = await _read_body(request, settings.max_body_bytes)
        if body is None:
            metrics.observe(413)
            return JSONResponse({"error": f"body over {settings.max_body_bytes} bytes"}, 413)
        if signed and (refused := _refusal(metrics, jfrog_allowed(tokens, request, registry, body), registry)):
            return refused
        request_id = str(uuid.uuid4())
        parsed = _parse(body, request_id, registry, request.headers.get("content-type"), split)
        records: list[tuple[str | None, RawRecord]] = [(repo, record) for repo, record in parsed.events]
        records += [(None, record) for record in parsed.dead_letters]
        started = time.perf_counter()
        try:
            shrunk = await _deliver(deliver, records)
        except TransientError as error:
            log.warning("request=%s deliver failed: %s", request_id, error)
            metrics.observe(503)
            return JSONResponse({"error": "sink unavailable, retry later"}, 503, {"Retry-After": "1"})
        accepted = len(parsed.events) - sum(1 for index in shrunk if index < len(parsed.events))
        dead = len(records) - accepted
        metrics.observe(200, accepted, dead, time.perf_counter() - started)
        return JSONResponse({"request_id": request_id, "accepted": accepted, "dead_letters": dead})

    @app.post("/events", summary="Receive a notification envelope for the default registry")
    async def events(request: Request) -> JSONResponse:
        return await receive(request, settings.registry)

    @app.post("/events/{registry}", summary="Receive a notification envelope for a named registry")
    async def named_events(registry: str, request: Request) -> JSONResponse:
        return await receive(request, registry)

    @app.post("/events/harbor/{instance}", summary="Receive one Harbor webhook event (Default or CloudEvents)")
    async def harbor_events(instance: str, request: Request) -> JSONResponse:
        return await receive(request, instance, harbor)

    @app.post("/events/artifactory/{instance}", summary="Receive one JFrog Artifactory webhook event (Docker domain)")
    async def artifactory_events(instance: str, request: Request) -> JSONResponse:
        return await receive(request, instance, artifactory)

    @app.post("/events/ecr/{instance}", summary="Receive one AWS ECR EventBridge event (an API destination's POST)")
    async def ecr_events(instance: str, request: Request) -> JSONResponse:
        return await receive(request, instance, ecr)

    @app.post("/events/acr/{instance}", summary="Receive one Azure Container Registry webhook event")
    async def acr_events(instance: str, request: Request) -> JSONResponse:
        return await receive(request, instance, acr)

    @app.get("/healthz", summary="200 when the sink is reachable, 503 otherwise")
    async def healthz() -> JSONResponse:
        up = await run_in_threadpool(sink.healthy)
        return JSONResponse({"status": "ok" if up else "sink unavailable"}, 200 if up else 503)

    @app.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
    async def prometheus() -> PlainTextResponse:
        up = await run_in_threadpool(sink.healthy)
        text = metrics.render(up) + isolation.COUNTERS.render()  # the store sink's isolated records (--sink duckdb)
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4")

    return EventsFastPath(app, receive, settings.registry)  # a registry's POSTs skip FastAPI's layers
