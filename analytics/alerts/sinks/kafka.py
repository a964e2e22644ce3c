"""The Kafka sink: the alert's JSON document on a topic (default ``registry.alerts``), acks=all.

Messages are keyed by finding id, so the alerts of one finding stay in order on one partition, and carry the
header ``regaudit-alert-id``. Brokers and security come from ``[kafka]``. The producer is created lazily and
dropped after a failure, so a broker that is down only delays the alerts.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from kafka import KafkaProducer
from kafka.errors import KafkaError

from regaudit.analytics.alerts.alert import Alert
from regaudit.analytics.alerts.errors import SinkUnavailable
from regaudit.analytics.alerts.settings import SinkSettings
from regaudit.ingest.sinks.kafka import kafka_client_options

if TYPE_CHECKING:
    from regaudit.settings import KafkaSettings

log = logging.getLogger(__name__)


class KafkaAlertSink:
    def __init__(self, settings: SinkSettings, dashboard_url: str | None, kafka: KafkaSettings) -> None:
        self.name = settings.name
        self.topic = settings.topic
        self.timeout = settings.timeout_seconds
        self.dashboard_url = dashboard_url
        self.options = kafka_client_options(kafka)
        self._producer: KafkaProducer | None = None

    def _connect(self) -> KafkaProducer:
        if self._producer is None:
            timeout_ms = int(self.timeout * 1000)
            self._producer = KafkaProducer(
                **self.options,
                acks="all",
                linger_ms=0,
                max_block_ms=timeout_ms,
                bootstrap_timeout_ms=timeout_ms,  # else 30 s for a broker that is away, the other sinks waiting
                request_timeout_ms=timeout_ms,
                delivery_timeout_ms=timeout_ms + 1000,
            )
        return self._producer

    def send(self, alert: Alert) -> None:
        value = json.dumps(alert.document(self.dashboard_url), sort_keys=True).encode()
        try:
            producer = self._connect()
            future = producer.send(
                self.topic,
                value=value,
                key=alert.finding_id.encode(),
                headers=[("regaudit-alert-id", alert.alert_id.encode())],
            )
            future.get(timeout=self.timeout + 2)
        except KafkaError as error:
            self.close()
            raise SinkUnavailable(f"sink {self.name}: Kafka: {type(error).__name__}: {error}") from None

    def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                producer.close(timeout=self.timeout)
            except KafkaError as error:
                log.warning("sink=%s closing the Kafka producer failed: %s", self.name, error)
