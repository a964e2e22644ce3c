"""When a one-shot consumer (``consume --until-idle``) is idle, at the seam between the loop and kafka-python: a
stand-in for ``KafkaConsumer`` that answers as a broker would (``test_pipeline_kafka.py`` runs the real one, with
the broker stopped under it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kafka import TopicPartition
from kafka.errors import KafkaTimeoutError

from regaudit.backoff import GIVE_UP_FAILURES
from regaudit.errors import BrokerUnavailable
from regaudit.ingest.consumer import Consumer
from regaudit.settings import Settings

PARTITION = TopicPartition("registry.events", 0)


class Broker:
    """What the consumer asks kafka-python when a poll brought nothing: its assignment, the end offsets and its
    positions; ``away`` makes every question time out as kafka-python's do."""

    def __init__(self, end: int, position: int, away: bool = False) -> None:
        self.end, self.at, self.away = end, position, away

    def assignment(self) -> set[TopicPartition]:
        return {PARTITION}

    def end_offsets(self, partitions: list[TopicPartition], timeout_ms: int | None = None) -> dict:
        if self.away:
            raise KafkaTimeoutError("Failed to get offsets by timestamps in 5000 ms")
        return dict.fromkeys(partitions, self.end)

    def position(self, partition: TopicPartition, timeout_ms: int | None = None) -> int:
        return self.at


@pytest.fixture
def consumer(tmp_path) -> Iterator[Consumer]:
    consumer = Consumer(Settings(store={"path": str(tmp_path / "audit.duckdb")}))
    yield consumer
    consumer.normalizer.close()


def test_caught_up_only_when_no_record_waits_after_the_positions(consumer):
    assert consumer._busy(Broker(end=10, position=7), max_idle_seconds=0) is True
    assert consumer._busy(Broker(end=10, position=10), max_idle_seconds=0) is False


def test_a_broker_that_does_not_answer_is_never_caught_up_and_ends_the_run_after_its_looks(consumer):
    broker = Broker(end=10, position=10, away=True)
    for _ in range(GIVE_UP_FAILURES - 1):
        assert consumer._busy(broker, max_idle_seconds=0) is True
    with pytest.raises(BrokerUnavailable, match="no answer for .* read again next run and stored once"):
        consumer._busy(broker, max_idle_seconds=0)


def test_an_answer_between_unanswered_looks_starts_the_count_again(consumer):
    away, back = Broker(end=10, position=7, away=True), Broker(end=10, position=7)
    for _ in range(GIVE_UP_FAILURES - 1):
        consumer._busy(away, max_idle_seconds=0)
    assert consumer._busy(back, max_idle_seconds=0) is True
    for _ in range(GIVE_UP_FAILURES - 1):
        assert consumer._busy(away, max_idle_seconds=0) is True


def test_a_lag_the_broker_never_delivers_is_idle_after_its_looks_not_a_wait_forever(consumer, caplog):
    stuck = Broker(end=12, position=10)  # e.g. a transaction's markers counted in the end offset
    for _ in range(GIVE_UP_FAILURES - 1):
        assert consumer._busy(stuck, max_idle_seconds=0) is True
    assert consumer._busy(stuck, max_idle_seconds=0) is False
    assert "delivers none" in caplog.text


def test_a_lag_that_moves_is_still_busy(consumer):
    broker = Broker(end=12, position=10)
    for end in range(12, 12 + 2 * GIVE_UP_FAILURES):
        broker.end = end
        assert consumer._busy(broker, max_idle_seconds=0) is True
