"""The Kafka record sink turns every producer failure into BrokerUnavailable, which the receivers retry or answer
503 for; a failure while dropping the broken producer must not escape instead (it crashed ship-logs once)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from kafka.errors import KafkaTimeoutError

from regaudit.errors import BrokerUnavailable
from regaudit.ingest.records import RawRecord
from regaudit.ingest.sinks.kafka import KafkaRecordSink
from regaudit.settings import KafkaSettings


class Expired:
    def get(self, timeout: float) -> None:
        raise KafkaTimeoutError("Timeout after waiting for 0.0008 secs.")


class StuckProducer:
    """kafka-python's producer with records it cannot deliver: close() refuses to drop them in time."""

    closed = False

    def send(self, topic, value, key, headers):
        return Expired()

    def close(self, timeout):
        self.closed = True
        raise KafkaTimeoutError("Timeout waiting for future")


def test_an_ack_timeout_is_a_retryable_broker_failure_even_when_the_producer_will_not_close():
    sink = KafkaRecordSink(KafkaSettings())
    stuck = sink._producer = StuckProducer()  # type: ignore[assignment]
    record = RawRecord("access", b"line", "file:h:/p:1.0:0", datetime.now(UTC), key="h:/p:1.0:0")

    with pytest.raises(BrokerUnavailable, match="Timeout after waiting"):
        sink.deliver([(None, record)])
    assert stuck.closed
    assert sink._producer is None  # the next delivery starts a fresh producer
