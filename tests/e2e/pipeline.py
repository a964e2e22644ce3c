"""The regaudit side of the end-to-end chain, run as the separate processes operators run.

    registry ──POST──▶ FaultyForwarder ──▶ regaudit webhook ──▶ Kafka <events topic> ─┐
    nginx access log ──▶ regaudit ship-logs ──▶ Kafka <access topic> ─────────────────┼─▶ regaudit consume ─▶ DuckDB

:class:`AuditPipeline` starts the webhook (bearer token, Kafka sink), the shipper on nginx's JSON log and the
consumer on fresh topics of the session's broker, and stops them with SIGTERM, checking that each exits 0. The
shipper starts with :meth:`AuditPipeline.ship`, once nginx (which needs the forwarder's URL first) is running.
"""

from __future__ import annotations

import json
import signal
import subprocess
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import duckdb
from kafka import KafkaConsumer, TopicPartition

from regaudit.ingest import store
from tests.e2e.forwarder import FaultyForwarder
from tests.infra.fixtures import KafkaTopics
from tests.ingest import processes

WEBHOOK_TOKEN = "e2e-webhook-token"
SHIPPER_HOST = "edge-e2e"


class AuditPipeline:
    """Webhook behind a :class:`FaultyForwarder`, shipper and consumer; a context manager."""

    def __init__(self, workdir: Path, bootstrap: str, topics: KafkaTopics) -> None:
        self.workdir = workdir
        self.db = workdir / "audit.duckdb"
        self.bootstrap = bootstrap
        self.topics = topics
        self.env = processes.regaudit_env(self.db, bootstrap, topics, REGAUDIT_CONSUMER__BATCH_MAX_SECONDS="0.5")
        self._stack = ExitStack()
        self._daemons: dict[str, subprocess.Popen[bytes]] = {}
        self.forwarder: FaultyForwarder | None = None

    @property
    def notification_url(self) -> str:
        """Where the registry must send its events (the forwarder in front of the webhook)."""
        assert self.forwarder is not None, "the pipeline is not started"
        return self.forwarder.url

    def __enter__(self) -> AuditPipeline:
        try:
            webhook_url = self._stack.enter_context(
                processes.webhook(self.env, self.workdir / "webhook.log", [WEBHOOK_TOKEN])
            )
            self.forwarder = self._stack.enter_context(FaultyForwarder(webhook_url))
            self._daemons["consume"] = processes.start(["consume"], self.env, self.workdir / "consume.log")
        except BaseException:
            self._stack.close()
            raise
        return self

    def ship(self, access_log: Path) -> None:
        """Start ``regaudit ship-logs`` on nginx's JSON access log."""
        argv = ["ship-logs", str(access_log), "--state", str(self.workdir / "ship.pos"), "--host", SHIPPER_HOST]
        self._daemons["ship-logs"] = processes.start(argv, self.env, self.workdir / "ship-logs.log")

    def __exit__(self, *exc_info: object) -> None:
        try:
            self.stop()
        finally:
            self._stack.close()

    def stop(self) -> None:
        """SIGTERM the shipper and the consumer (each finishes its batch); both must exit 0."""
        failures = []
        for name, process in list(self._daemons.items()):
            code = processes.stop(process, signal.SIGTERM)
            if code != 0:
                log = (self.workdir / f"{name}.log").read_text(errors="replace")[-3000:]
                failures.append(f"regaudit {name} exited {code}:\n{log}")
            del self._daemons[name]
        assert not failures, "\n".join(failures)

    def log_tails(self, chars: int = 2000) -> str:
        """The end of each daemon's log, and whether it still runs: for a wait that timed out."""
        return "\n".join(
            f"regaudit {name} ({'running' if process.poll() is None else f'exited {process.returncode}'}):\n"
            + (self.workdir / f"{name}.log").read_text(errors="replace")[-chars:]
            for name, process in self._daemons.items()
        )

    def running(self) -> dict[str, bool]:
        return {name: process.poll() is None for name, process in self._daemons.items()}

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Rows of a read-only query on the store (empty while the consumer has not created it)."""
        try:
            with store.reader(self.db, timeout=10) as con:
                return list(con.execute(sql, params or {}).fetchall())
        except (duckdb.IOException, duckdb.CatalogException, OSError):
            return []

    def events_topic_ids(self) -> Counter[str]:
        """How many records of the events topic carry each event id (the webhook writes one per event)."""
        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False, consumer_timeout_ms=2000)
        try:
            partitions = [
                TopicPartition(self.topics.events, p) for p in consumer.partitions_for_topic(self.topics.events)
            ]
            consumer.assign(partitions)
            consumer.seek_to_beginning(*partitions)
            ends = consumer.end_offsets(partitions)
            ids: Counter[str] = Counter()
            while any(consumer.position(tp) < ends[tp] for tp in partitions):
                for messages in consumer.poll(timeout_ms=1000).values():
                    ids.update(_event_id(message.value) for message in messages)
            return ids
        finally:
            consumer.close()


def _event_id(value: bytes) -> str:
    return str(json.loads(value)["id"])
