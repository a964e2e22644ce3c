"""The Kafka record sink: one message per record, acks=all, delivered before ``deliver`` returns.

Messages carry the record's metadata in headers, so the consumer can rebuild the ``RawRecord``:
``regaudit-kind``, ``regaudit-origin``, ``regaudit-received-at`` (ISO 8601 UTC), and when set ``regaudit-registry``,
``regaudit-key``, ``regaudit-content-type``, ``regaudit-reason``, ``regaudit-registry-kind``. Events are keyed by
repository, so one repository's events stay in order on one partition; access lines by the log host.

The producer is created lazily and recreated after a failure, so a receiver started while the broker is down
answers 503 until it returns instead of refusing to start.

Size: a receiver passes the largest value it can send (the webhook: ``webhook.max_body_bytes``, a dead letter
being the whole body), and the producer's ``max_request_size`` is that plus ``RECORD_OVERHEAD_BYTES`` for the key,
headers and batch framing (``max_message_bytes``). The topics need a ``max.message.bytes`` at least as large (the
broker's default, 1 MiB + 12 bytes, refused a dead letter of a 1 MiB body: 503 on every retry). A record the
producer or the broker still refuses for its size raises ``RecordsTooLarge``, not ``BrokerUnavailable``: retrying
cannot help, so the receiver keeps a smaller dead letter in its place instead of answering 503 for ever.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from kafka import KafkaProducer
from kafka.errors import KafkaError, KafkaTimeoutError, MessageSizeTooLargeError, RecordListTooLargeError

from regaudit.errors import BrokerUnavailable
from regaudit.ingest.records import RawRecord
from regaudit.ingest.sinks import RecordsTooLarge
from regaudit.settings import KafkaSettings

log = logging.getLogger(__name__)

HEADER_PREFIX = "regaudit-"
#: room beyond a record's value: its key (clipped to ``MAX_KEY_BYTES``), headers (origin, received-at, registry,
#: key, and the content type and reason, each clipped to 1,000 characters) and the record batch's framing
RECORD_OVERHEAD_BYTES = 16 * 1024
#: a partition key longer than any repository name (255 at most in Distribution) is clipped: it only picks a partition
MAX_KEY_BYTES = 256
#: kafka-python's own default ``max_request_size``; never lowered
DEFAULT_MAX_REQUEST_SIZE = 1_048_576
_SIZE_ERRORS = (MessageSizeTooLargeError, RecordListTooLargeError)


def max_message_bytes(max_value_bytes: int) -> int:
    """The producer's ``max_request_size`` and the topics' ``max.message.bytes`` for values up to this size."""
    return max_value_bytes + RECORD_OVERHEAD_BYTES


def kafka_client_options(settings: KafkaSettings) -> dict[str, Any]:
    """Connection options shared by producers, consumers and admin clients."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers.split(","),
        "security_protocol": settings.security_protocol,
    }
    if settings.sasl_mechanism:
        options["sasl_mechanism"] = settings.sasl_mechanism
        options["sasl_plain_username"] = settings.sasl_username
        if settings.sasl_password is not None:
            options["sasl_plain_password"] = settings.sasl_password.get_secret_value()
    if settings.ssl_cafile:
        options["ssl_cafile"] = str(settings.ssl_cafile)
    return options


def record_headers(record: RawRecord) -> list[tuple[str, bytes]]:
    headers = [
        (HEADER_PREFIX + "kind", record.kind.encode()),
        (HEADER_PREFIX + "origin", record.origin.encode()),
        (HEADER_PREFIX + "received-at", record.received_at.isoformat().encode()),
    ]
    for name, value in (
        ("registry", record.registry),
        ("key", record.key),
        ("content-type", record.content_type),
        ("reason", record.reason),
        ("registry-kind", record.registry_kind),
    ):
        if value is not None:
            headers.append((HEADER_PREFIX + name, value.encode()))
    return headers


def _accepts_connections(server: str, timeout: float = 1.0) -> bool:
    host, _, port = server.strip().rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


class Sent:
    """Records handed to the producer (index, future) and those it refused for their size before sending."""

    def __init__(self, producer: KafkaProducer) -> None:
        self.producer = producer
        self.futures: list[tuple[int, Any]] = []
        self.too_large: list[int] = []
        self._lock = threading.Lock()
        self._waiting = 0

    def notify(self, on_done: Callable[[], None]) -> None:
        """Call ``on_done`` once, when the last future is done (at once when there is none)."""
        self._waiting = len(self.futures) + 1  # + 1 until every callback is registered

        def one_done(_: object) -> None:
            with self._lock:
                self._waiting -= 1
                last = self._waiting == 0
            if last:
                on_done()

        for _, future in self.futures:
            future.add_both(one_done)
        one_done(None)


class KafkaRecordSink:
    """Produces records to their topic and waits for acks=all."""

    def __init__(self, settings: KafkaSettings, max_value_bytes: int | None = None) -> None:
        self.settings = settings
        needed = DEFAULT_MAX_REQUEST_SIZE if max_value_bytes is None else max_message_bytes(max_value_bytes)
        self.max_request_size = max(DEFAULT_MAX_REQUEST_SIZE, needed)
        self.topics = {
            "event": settings.events_topic,
            "access": settings.access_topic,
            "deadletter": settings.deadletter_topic,
        }
        #: the longest wait for a send's acknowledgements: the producer's delivery timeout has failed them by then
        self.ack_timeout_seconds = 2 * settings.request_timeout_seconds + 2
        self._producer: KafkaProducer | None = None
        #: topics the current producer has delivered to, so has metadata for: send() to them does not block
        self._ready: set[str] = set()
        self._lock = threading.Lock()

    def _get_producer(self) -> KafkaProducer:
        with self._lock:
            if self._producer is None:
                timeout_ms = int(self.settings.request_timeout_seconds * 1000)
                try:
                    self._producer = KafkaProducer(
                        **kafka_client_options(self.settings),
                        acks="all",
                        linger_ms=0,  # a serial registry waits for each answer; concurrent sends batch anyway
                        max_block_ms=timeout_ms,
                        bootstrap_timeout_ms=timeout_ms,
                        reconnect_backoff_max_ms=1000,
                        request_timeout_ms=timeout_ms,
                        delivery_timeout_ms=timeout_ms + 1000,
                        retries=3,
                        compression_type=None,
                        max_request_size=self.max_request_size,
                    )
                except KafkaError as error:
                    raise BrokerUnavailable(f"kafka {self.settings.bootstrap_servers}: {error}") from error
            return self._producer

    def _reset(self) -> None:
        with self._lock:
            producer, self._producer = self._producer, None
            self._ready.clear()
        if producer is not None:
            try:
                producer.close(timeout=0)
            except KafkaError as error:  # records still buffered: dropped with it, the caller re-sends them
                log.debug("closing the producer: %r", error)

    def deliver(self, records: Sequence[tuple[str | None, RawRecord]]) -> None:
        if not records:
            return
        producer = self._get_producer()
        try:
            sent = self._send_all(producer, records)
            # no flush(): concurrent requests share produce requests; each waits for its own acks. The timeout is
            # on progress, not on the batch: a shipper batch of 50,000 lines is still being sent for seconds
            # after the last send() returns, and a fixed deadline failed it on a healthy broker.
            for _, future in sent.futures:
                with contextlib.suppress(*_SIZE_ERRORS):  # refused by the broker: judged in _settle
                    future.get(timeout=self.settings.request_timeout_seconds)
        except KafkaError as error:
            self._fail(error)
        self._settle(sent, records)

    def send_nowait(self, records: Sequence[tuple[str | None, RawRecord]], on_done: Callable[[], None]) -> Sent | None:
        """Sends without blocking, or returns None if that could block (no producer yet, or a topic this producer
        has not delivered to: ``send()`` would wait for its metadata), and the caller uses ``deliver`` in a
        thread instead. ``on_done`` is called once every record is acknowledged or failed, from Kafka's I/O
        thread (or this one); then ``settle(sent, records)`` raises as ``deliver`` would. The webhook's event loop
        calls this, so a serial registry's POST costs no thread hop but Kafka's own."""
        with self._lock:
            producer = self._producer
            if producer is None or not self._ready.issuperset(self.topics[record.kind] for _, record in records):
                return None
        try:
            sent = self._send_all(producer, records)
        except KafkaError as error:
            self._fail(error)
        sent.notify(on_done)
        return sent

    def settle(self, sent: Sent, records: Sequence[tuple[str | None, RawRecord]]) -> None:
        """After ``send_nowait``'s ``on_done``: raise BrokerUnavailable or RecordsTooLarge as ``deliver`` does."""
        self._settle(sent, records)

    def _send_all(self, producer: KafkaProducer, records: Sequence[tuple[str | None, RawRecord]]) -> Sent:
        sent = Sent(producer)
        for index, (key, record) in enumerate(records):
            try:
                sent.futures.append((index, self._send(producer, key, record)))
            except _SIZE_ERRORS:  # refused by the producer before sending
                sent.too_large.append(index)
        return sent

    def _settle(self, sent: Sent, records: Sequence[tuple[str | None, RawRecord]]) -> None:
        too_large = list(sent.too_large)
        for index, future in sent.futures:
            error = future.exception if future.is_done else KafkaTimeoutError("no acknowledgement in time")
            if isinstance(error, _SIZE_ERRORS):  # refused by the broker: the topic's max.message.bytes
                too_large.append(index)
            elif error is not None:
                self._fail(error)
        if too_large:
            self._reset()  # kafka-python's idempotent producer treats the broker's refusal as fatal: start afresh
            raise RecordsTooLarge(sorted(too_large), self.max_request_size)
        with self._lock:
            if self._producer is sent.producer:  # not one reset meanwhile: a new producer learns its topics anew
                self._ready.update(self.topics[record.kind] for _, record in records)

    def _fail(self, error: BaseException) -> NoReturn:
        self._reset()
        raise BrokerUnavailable(f"kafka {self.settings.bootstrap_servers}: {error!r}") from error

    def _send(self, producer: KafkaProducer, key: str | None, record: RawRecord) -> Any:
        return producer.send(
            self.topics[record.kind],
            value=record.value,
            key=key.encode()[:MAX_KEY_BYTES] if key is not None else None,
            headers=record_headers(record),
        )

    def healthy(self) -> bool:
        """The producer exists and a bootstrap server accepts a connection. kafka-python 3.0's
        ``bootstrap_connected()`` is true only while its first bootstrap is in flight, so /healthz answered 503
        on a healthy broker (and the compose health check never passed)."""
        try:
            self._get_producer()
        except BrokerUnavailable:
            return False
        return any(_accepts_connections(server) for server in self.settings.bootstrap_servers.split(","))

    def close(self) -> None:
        with self._lock:
            producer, self._producer = self._producer, None
            self._ready.clear()
        if producer is not None:
            producer.close(timeout=self.settings.request_timeout_seconds)
