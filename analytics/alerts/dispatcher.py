"""The dispatcher: moves alerts from the outbox to the sinks, never in the way of ingestion.

It is a thread in ``regaudit consume`` (woken after each batch that committed) or the foreground loop of
``regaudit alerts dispatch``. Each cycle is one short transaction on the store (``outbox``): take the lease
(one dispatcher per store delivers), log the outcomes the sink workers reported, pick up new analyze findings,
expire what is older than ``give_up_after_hours``, and claim what is due for each idle sink; then the claimed
alerts go to the sinks' own threads (``worker``), so no network I/O happens while the store is held. In the
consumer's process the cycle takes the consumer's store lock, so the two never hold the file at once.

A sink that is down costs one failed attempt per backoff period (the oldest alert probes it), never a blocked
thread elsewhere. Once it is back, its next probe comes within ``retry_max_seconds``, and the alerts it is owed
follow at its rate limit: every alert younger than ``give_up_after_hours`` is delivered then; older ones are
logged as expired. A crash between a send and the log of it sends that alert again after restart with the
same ``alert_id`` (delivery is at least once; creation is exactly once).
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import duckdb

from regaudit.analytics.alerts import outbox
from regaudit.analytics.alerts.outbox import Due, Outcome
from regaudit.analytics.alerts.pickup import pick_up_findings
from regaudit.analytics.alerts.policy import Route
from regaudit.analytics.alerts.sinks import Sink, build_sink
from regaudit.analytics.alerts.worker import SinkWorker
from regaudit.analytics.registry import default_registry
from regaudit.errors import StoreLocked
from regaudit.ingest import store

if TYPE_CHECKING:
    from regaudit.settings import Settings

log = logging.getLogger(__name__)
LEASE_SECONDS = 15.0


def _wall_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Cycle:
    """What one cycle did."""

    leased: bool
    recorded: int
    picked_up: int
    handed: int

    @property
    def active(self) -> bool:
        return bool(self.recorded or self.picked_up or self.handed)


class Dispatcher:
    """Delivers the outbox to the configured sinks; ``run`` in the foreground, or ``start``/``stop`` a thread."""

    def __init__(
        self,
        settings: Settings,
        *,
        sinks: Mapping[str, Sink] | None = None,
        store_lock: AbstractContextManager[object] | None = None,
        clock: Callable[[], datetime] = _wall_clock,
    ) -> None:
        self.settings = settings.alerts
        self.path = settings.store.path
        self.lock_timeout = settings.store.lock_timeout_seconds
        self.store_lock = store_lock or threading.Lock()
        self.clock = clock
        self.registry = default_registry()
        given = dict(sinks or {})
        self.workers = [
            SinkWorker(
                given.get(s.name) or build_sink(s, self.settings.dashboard_url, settings.kafka),
                s, Route.of(s, self.registry), self.settings, clock,
            )
            for s in self.settings.sinks
        ]  # fmt: skip
        severities = [s.min_severity for s in self.settings.sinks]
        self.least = min(severities, key=lambda severity: severity.rank) if severities else None
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.outcomes: Counter[str] = Counter()
        self._results: queue.Queue[list[Outcome]] = queue.Queue()
        self._unrecorded: list[Outcome] = []
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lease_held = True

    # -- driving ------------------------------------------------------------------------------------------------
    def wake(self, *_: object) -> None:
        """Look at the outbox now (the consumer calls this after each committed batch)."""
        self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="alerts-dispatcher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run(self, until_idle: float | None = None) -> Counter[str]:
        """Cycle until stopped (or, with ``until_idle``, until nothing happened for that many seconds)."""
        self.start_workers()
        idle_since = time.monotonic()
        try:
            while not self._stop.is_set():
                self._wake.clear()
                cycle = self.cycle()
                if cycle.active or any(worker.busy for worker in self.workers):
                    idle_since = time.monotonic()
                elif until_idle is not None and time.monotonic() - idle_since > until_idle:
                    break
                self._wake.wait(self._wait_seconds())
        finally:
            self.close()
        return self.outcomes

    def start_workers(self) -> None:
        for worker in self.workers:
            worker.start(self._report)

    def _report(self, outcomes: list[Outcome]) -> None:
        self._results.put(outcomes)
        self._wake.set()

    def _wait_seconds(self) -> float:
        now = self.clock()
        waits = [self.settings.poll_seconds]
        waits += [(w.ready_at - now).total_seconds() for w in self.workers if w.ready_at and w.ready_at > now]
        return max(0.01, min(waits))

    def close(self) -> None:
        """Stop the sink threads (each finishes the alert in hand), log their outcomes, release the lease."""
        for worker in self.workers:
            worker.stop(timeout=self.settings.retry_max_seconds)
        self._drain()
        try:
            with self.store_lock, store.writer(self.path, self.lock_timeout) as con:
                con.execute("BEGIN TRANSACTION")
                outbox.record(con, self._unrecorded)
                outbox.release_lease(con, self.owner, self.clock())
                con.execute("COMMIT")
            self._unrecorded = []
        except StoreLocked as error:
            log.error("alerts: %d outcomes not logged at exit (will be sent again): %s", len(self._unrecorded), error)

    # -- one cycle ----------------------------------------------------------------------------------------------
    def cycle(self) -> Cycle:
        """One short transaction: log outcomes, pick up findings, expire and claim; then hand out the work."""
        now = self.clock()
        ready = [w for w in self.workers if w.ready(now)]  # before draining: their outcomes are queued already
        self._drain()
        try:
            with self.store_lock, store.writer(self.path, self.lock_timeout) as con:
                con.execute("BEGIN TRANSACTION")
                try:
                    cycle, claimed = self._transaction(con, now, ready)
                    con.execute("COMMIT")
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
        except (StoreLocked, duckdb.Error) as error:
            log.warning("alerts: store unavailable, the next cycle retries: %s", error)
            return Cycle(False, 0, 0, 0)
        self._unrecorded = []
        for worker, items in claimed:
            worker.submit(items)
        if cycle.active:
            log.info("alerts cycle recorded=%d picked_up=%d handed=%d %s", cycle.recorded, cycle.picked_up,
                     cycle.handed, " ".join(f"{k}={v}" for k, v in sorted(self.outcomes.items())))  # fmt: skip
        return cycle

    def _transaction(
        self, con: duckdb.DuckDBPyConnection, now: datetime, ready: list[SinkWorker]
    ) -> tuple[Cycle, list[tuple[SinkWorker, list[Due]]]]:
        recorded = len(self._unrecorded)
        outbox.record(con, self._unrecorded)
        if not self._leased(con, now) or self.least is None:
            return Cycle(False, recorded, 0, 0), []
        oldest = now - timedelta(hours=self.settings.give_up_after_hours)
        picked = pick_up_findings(con, self.registry, self.least, oldest, now)
        claimed = []
        for worker in ready:
            expired = outbox.expire(con, worker.name, now, oldest)
            outbox.record(con, expired)
            self.outcomes.update(item.outcome for item in expired)
            if items := outbox.claim(con, worker.name, now, oldest, self.settings.batch_size):
                claimed.append((worker, items))
        return Cycle(True, recorded, picked, sum(len(items) for _, items in claimed)), claimed

    def _leased(self, con: duckdb.DuckDBPyConnection, now: datetime) -> bool:
        held = outbox.take_lease(con, self.owner, now, now + timedelta(seconds=LEASE_SECONDS))
        if held != self._lease_held:
            log.info("alerts: dispatcher %s %s the delivery lease", self.owner, "holds" if held else "waits for")
            self._lease_held = held
        return held

    def _drain(self) -> None:
        while True:
            try:
                outcomes = self._results.get_nowait()
            except queue.Empty:
                return
            self._unrecorded.extend(outcomes)
            self.outcomes.update(item.outcome for item in outcomes)
