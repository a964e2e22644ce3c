"""Pytest plugin: the real Kafka broker for the integration tests (DESIGN.md section 7).

- `kafka_broker` (session): one KRaft broker for the whole run, with the production topic names created
  (`registry.events`, `registry.access`, `registry.deadletters`, `registry.alerts`, 3 partitions each).
  Stopped at the end of the session; `tests.infra.kafka` also stops it at exit if the run dies.
- `kafka_topics` (function): fresh, uniquely named topics for one test, so no test sees another's records
  (`fresh_topics` makes them for a module-scoped fixture that several tests share).
  It also brings the shared broker back if an earlier test stopped or killed it and did not restart it.

The terminal summary reports the broker's start time.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.infra import workers
from tests.infra.kafka import KafkaBroker, kafka_libs

SHARED_TOPICS = ("registry.events", "registry.access", "registry.deadletters", "registry.alerts")
PARTITIONS = 3

_broker_start_seconds = pytest.StashKey[float]()


@dataclass(frozen=True)
class KafkaTopics:
    """Topic names created for one test; same roles as the production topics, unique names."""

    events: str
    access: str
    deadletters: str
    alerts: str

    @property
    def names(self) -> tuple[str, str, str, str]:
        return (self.events, self.access, self.deadletters, self.alerts)


@pytest.fixture(scope="session")
def kafka_broker(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """The session's Kafka broker; tests that stop or kill it should `restart()` it before they end."""
    # Under pytest's temporary directory, so the broker's server.log of the last runs stays for inspection.
    broker = KafkaBroker(kafka_libs(), tmp_path_factory.mktemp("kafka-broker"))
    try:
        broker.start()
        assert broker.start_seconds is not None
        request.config.stash[_broker_start_seconds] = broker.start_seconds
        broker.create_topics(SHARED_TOPICS, partitions=PARTITIONS)
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def kafka_topics(request: pytest.FixtureRequest, kafka_broker: KafkaBroker) -> KafkaTopics:
    """Fresh topics (3 partitions each) named after the test, e.g. `t.test-consume-a1b2c3d4.events`."""
    return fresh_topics(kafka_broker, request.node.name)


def fresh_topics(broker: KafkaBroker, name: str) -> KafkaTopics:
    """Fresh topics named after ``name`` (a test's, or a module fixture's that several tests share)."""
    if not broker.running:
        broker.start()
    prefix = f"t.{re.sub(r'[^a-zA-Z0-9-]+', '-', name).strip('-')[:80]}-{uuid.uuid4().hex[:8]}"
    topics = KafkaTopics(
        events=f"{prefix}.events",
        access=f"{prefix}.access",
        deadletters=f"{prefix}.deadletters",
        alerts=f"{prefix}.alerts",
    )
    broker.create_topics(topics.names, partitions=PARTITIONS)
    return topics


def pytest_sessionfinish(session: pytest.Session) -> None:
    start_seconds = session.config.stash.get(_broker_start_seconds, None)
    if start_seconds is not None:
        workers.send(session.config, "broker_start_seconds", start_seconds)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """How long the broker took to start: each worker's (each starts its own), or this process's."""
    own = config.stash.get(_broker_start_seconds, None)
    seconds = [own] if own is not None else workers.gathered(config, "broker_start_seconds")
    if seconds:
        started = ", ".join(f"{s:.1f}s" for s in seconds)
        terminalreporter.write_line(f"kafka broker{'s' if len(seconds) > 1 else ''}: started in {started}")
