"""The Kafka record sink: one message per record, acks=all, delivered before ``deliver`` returns.

Messages carry the record's metadata in headers, so the consumer can rebuild the ``RawRecord``:
``regaudit-kind``, ``regaudit-origin``, ``regaudit-received-at`` (ISO 8601 UTC), and when set ``regaudit-registry``,
``regaudit-key``, ``regaudit-content-type``, ``regaudit-reason``. Events are keyed by repository, so one
repository's events stay in order on one partition; access lines by the log host.

The producer is created lazily and recreated after a failure, so a receiver started while the broker is down
answers 503 until it returns instead of refusing to start.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError

from regaudit.errors import BrokerUnavailable
from regaudit.ingest.records import RawRecord
from regaudit.settings import KafkaSettings

log = logging.getLogger(__name__)

HEADER_PREFIX = "regaudit-"


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
    ):
        if value is not None:
            headers.append((HEADER_PREFIX + name, value.encode()))
    return headers


class KafkaRecordSink:
    """Produces records to their topic and waits for acks=all."""

    def __init__(self, settings: KafkaSettings) -> None:
        self.settings = settings
        self.topics = {
            "event": settings.events_topic,
            "access": settings.access_topic,
            "deadletter": settings.deadletter_topic,
        }
        self._producer: KafkaProducer | None = None
        self._lock = threading.Lock()

    def _get_producer(self) -> KafkaProducer:
        with self._lock:
            if self._producer is None:
                timeout_ms = int(self.settings.request_timeout_seconds * 1000)
                try:
                    self._producer = KafkaProducer(
                        **kafka_client_options(self.settings),
                        acks="all",
                        linger_ms=2,
                        max_block_ms=timeout_ms,
                        bootstrap_timeout_ms=timeout_ms,
                        reconnect_backoff_max_ms=1000,
                        request_timeout_ms=timeout_ms,
                        delivery_timeout_ms=timeout_ms + 1000,
                        retries=3,
                        compression_type=None,
                    )
                except KafkaError as error:
                    raise BrokerUnavailable(f"kafka {self.settings.bootstrap_servers}: {error}") from error
            return self._producer

    def _reset(self) -> None:
        with self._lock:
            producer, self._producer = self._producer, None
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
            futures = [
                producer.send(
                    self.topics[record.kind],
                    value=record.value,
                    key=key.encode() if key is not None else None,
                    headers=record_headers(record),
                )
                for key, record in records
            ]
            # no flush(): linger_ms lets concurrent requests share produce requests; each waits for its own acks.
            # The timeout is on progress, not on the batch: a shipper batch of 50,000 lines is still being sent
            # for seconds after the last send() returns, and a fixed deadline failed it on a healthy broker.
            for future in futures:
                future.get(timeout=self.settings.request_timeout_seconds)
        except KafkaError as error:
            self._reset()
            raise BrokerUnavailable(f"kafka {self.settings.bootstrap_servers}: {error!r}") from error

    def healthy(self) -> bool:
        try:
            producer = self._get_producer()
            return bool(producer.bootstrap_connected())
        except BrokerUnavailable:
            return False

    def close(self) -> None:
        with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            producer.close(timeout=self.settings.request_timeout_seconds)
