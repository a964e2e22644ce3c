"""One thread per sink, so a slow or dead sink never holds up the others, nor the store.

The dispatcher hands a worker the alerts due for its sink; the worker decides and sends them in order, and
reports the outcomes back. It stops at the first failure (the sink is down: the others would fail too) and
rests for the backoff, and stops when the rate limit is reached (the rest wait their turn). Alerts it did not
reach stay pending in the store with their attempts unchanged. It never touches the store itself.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from regaudit.analytics.alerts.errors import SinkRejected, SinkUnavailable
from regaudit.analytics.alerts.outbox import Due, Outcome
from regaudit.analytics.alerts.policy import Deduplicator, Route, TokenBucket
from regaudit.analytics.alerts.settings import AlertsSettings, SinkSettings
from regaudit.analytics.alerts.sinks import Sink
from regaudit.backoff import Backoff

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


class SinkWorker:
    """Delivers to one sink; ``deliver`` is the synchronous core, ``start``/``submit`` run it on a thread."""

    def __init__(
        self, sink: Sink, sink_settings: SinkSettings, route: Route, settings: AlertsSettings, clock: Clock
    ) -> None:
        self.sink = sink
        self.name = sink_settings.name
        self.route = route
        self.clock = clock
        self.dedup = Deduplicator(timedelta(minutes=settings.dedup_window_minutes))
        self.bucket = TokenBucket(sink_settings.rate_limit_per_minute, sink_settings.rate_limit_burst)
        self.backoff = Backoff(settings.retry_initial_seconds, settings.retry_max_seconds)
        self.ready_at: datetime | None = None  # not before: backoff or rate limit
        self._work: queue.Queue[Sequence[Due] | None] = queue.Queue()
        self._busy = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def busy(self) -> bool:
        return self._busy.is_set()

    def ready(self, now: datetime) -> bool:
        return not self._busy.is_set() and (self.ready_at is None or self.ready_at <= now)

    def start(self, report: Callable[[list[Outcome]], None]) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, args=(report,), name=f"alerts-{self.name}", daemon=True)
        self._thread.start()

    def submit(self, items: Sequence[Due]) -> None:
        self._busy.set()
        self._work.put(items)

    def stop(self, timeout: float) -> None:
        """Finish the alert in hand, report, and end the thread."""
        self._stopping.set()
        self._work.put(None)
        if self._thread is not None:
            self._thread.join(timeout)
        self.sink.close()

    def _run(self, report: Callable[[list[Outcome]], None]) -> None:
        while (items := self._work.get()) is not None:
            outcomes: list[Outcome] = []
            try:
                outcomes = self.deliver(items)
            finally:
                report(outcomes)  # before the worker shows idle, so the dispatcher logs them before claiming again
                self._busy.clear()

    def deliver(self, items: Sequence[Due]) -> list[Outcome]:
        """Decide and send ``items`` in order; the outcomes of those it reached."""
        outcomes: list[Outcome] = []
        for due in items:
            if self._stopping.is_set():
                break
            now = self.clock()
            if decision := self._decide(due, now):
                outcomes.append(decision)
                continue
            wait = self.bucket.take()
            if wait > 0:
                self.ready_at = now + timedelta(seconds=wait)
                break
            outcome = self._send(due)
            outcomes.append(outcome)
            if outcome.outcome == "failed":
                break
        return outcomes

    def _decide(self, due: Due, now: datetime) -> Outcome | None:
        alert = due.alert
        if not self.route.takes(alert):
            return Outcome(alert.alert_id, alert.finding_id, self.name, 0, now, "filtered", "severity or detection")
        if self.dedup.duplicate(alert.finding_id, now, due.last_delivered_at):
            detail = "finding already delivered within alerts.dedup_window_minutes"
            return Outcome(alert.alert_id, alert.finding_id, self.name, 0, now, "deduplicated", detail)
        return None

    def _send(self, due: Due) -> Outcome:
        alert, attempt = due.alert, due.attempts + 1
        started = time.perf_counter()
        try:
            self.sink.send(alert)
        except SinkUnavailable as error:
            return self._failed(due, str(error), error.retry_after)
        except SinkRejected as error:
            log.warning("sink=%s alert=%s rejected: %s", self.name, alert.alert_id, error)
            return Outcome(alert.alert_id, alert.finding_id, self.name, attempt, self.clock(), "rejected", str(error))
        except Exception as error:  # a sink's own bug: this thread is its entry point; logged, retried
            log.exception("sink=%s alert=%s failed unexpectedly", self.name, alert.alert_id)
            return self._failed(due, f"{type(error).__name__}: {error}", None)
        self.backoff.succeeded()
        now = self.clock()
        self.dedup.delivered(alert.finding_id, now)
        seconds = time.perf_counter() - started
        log.info("sink=%s alert=%s attempt=%d delivered seconds=%.3f", self.name, alert.alert_id, attempt, seconds)
        return Outcome(alert.alert_id, alert.finding_id, self.name, attempt, now, "delivered", f"{seconds:.3f}s")

    def _failed(self, due: Due, detail: str, retry_after: float | None) -> Outcome:
        now = self.clock()
        rest = max(self.backoff.failed(), retry_after or 0.0)
        self.ready_at = now + timedelta(seconds=rest)
        attempt = due.attempts + 1
        log.warning("sink=%s alert=%s attempt=%d failed, next in %.1fs: %s", self.name, due.alert.alert_id, attempt,
                    rest, detail)  # fmt: skip
        return Outcome(
            due.alert.alert_id, due.alert.finding_id, self.name, attempt, now, "failed", detail, self.ready_at
        )
