"""What ``regaudit consume`` has done, as Prometheus metrics and a health answer (served by ``metrics``).

The consume loop feeds ``ConsumerMetrics`` after each batch (the polling thread) and after each store write (the
writer thread); the metrics server's threads read it. Everything goes through one lock, and nothing here touches
the Kafka consumer, which is not thread-safe: the lag per partition is the one the loop computed after its last
batch. The isolated records and batches are the process-wide ``isolation.COUNTERS``, rendered as they are.

Counters start at zero with the process, as Prometheus expects of counters (``rate()`` and ``increase()``
handle the reset); the last commit is a Unix time, not an age, so that an alert computes the age itself
(``time() - regaudit_consumer_last_commit_timestamp_seconds``) and a scrape that fails cannot freeze it.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime

from regaudit.ingest.metrics import Health, Sample, by_label, family, text
from regaudit.ingest.sinks import isolation
from regaudit.ingest.sinks.duckdb import WriteResult

#: ``(topic, partition)``
Partition = tuple[str, int]


class ConsumerMetrics:
    """The consumer's counters since the process started; thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self.records = 0
        self.batches = 0
        self.stored: Counter[str] = Counter()
        self.dead_letters: Counter[str] = Counter()
        self.commit_failures = 0
        self.last_commit_at: float | None = None
        self.lag: dict[Partition, int] = {}
        self.pending_ranges = 0
        self.stopping = False

    def observe_dead_letters(self, sources: Iterable[str]) -> None:
        """The dead letters of a stored batch, by the ``source`` column: ``events`` and ``access`` failed
        validation here, ``receiver`` came from the webhook or the shipper (the dead-letter topic)."""
        with self._lock:
            self.dead_letters.update(sources)

    def observe_batch(
        self, result: WriteResult, records: int, committed: bool, lag: Mapping[Partition, int] | None
    ) -> None:
        """A batch stored, then its offsets committed (or not: ``committed`` False, to be replayed, stored once).
        ``lag`` is None when the broker could not tell; the last known lag then stays."""
        with self._lock:
            self.batches += 1
            self.records += records
            self.stored.update(
                registry_events=result.events_count,
                access_log=result.access_count,
                dead_letters=result.dead_letters_count,
            )
            if committed:
                self.last_commit_at = self._clock()
            else:
                self.commit_failures += 1
            if lag is not None:
                self.lag = dict(lag)

    def observe_pending(self, ranges: int) -> None:
        """Time ranges left queued for derivation (``derive_pending``) after the last batch or drain."""
        with self._lock:
            self.pending_ranges = ranges

    def stop(self) -> None:
        with self._lock:
            self.stopping = True

    def render(self) -> str:
        """Prometheus text: the consumer's families, then the process-wide isolation counters."""
        with self._lock:
            last_commit = [] if self.last_commit_at is None else [Sample(self.last_commit_at)]
            lag = [Sample(n, {"topic": t, "partition": p}) for (t, p), n in sorted(self.lag.items())]
            families = text(
                family("regaudit_consumer_records_total", "counter",
                       "Kafka records in the batches stored.", self.records),
                family("regaudit_consumer_batches_total", "counter",
                       "Batches stored in one DuckDB commit (or several, around isolated records).", self.batches),
                family("regaudit_consumer_stored_rows_total", "counter",
                       "New rows stored, by table; a replayed record adds none.", by_label("table", self.stored)),
                family("regaudit_consumer_dead_letters_total", "counter",
                       "Dead letters in the batches stored, by where they were refused: events or access "
                       "(validation here), receiver (the webhook or the shipper).",
                       by_label("source", self.dead_letters)),
                family("regaudit_consumer_offset_commit_failures_total", "counter",
                       "Offset commits that failed after the batch was stored (replayed, stored once).",
                       self.commit_failures),
                family("regaudit_consumer_last_commit_timestamp_seconds", "gauge",
                       "Unix time of the last Kafka offset commit, made after its batch's DuckDB commit.", last_commit),
                family("regaudit_consumer_lag_records", "gauge",
                       "Records after the consumer's position, per assigned partition, as of the last batch.", lag),
                family("regaudit_consumer_derive_pending_ranges", "gauge",
                       "Time ranges of stored batches left to derive (events scattered over time), after the last "
                       "batch.", self.pending_ranges),
            )  # fmt: skip
        return families + isolation.COUNTERS.render()

    def health(self) -> Health:
        """200 while the consume loop runs, 503 once it is stopping; the last commit's time either way."""
        with self._lock:
            stopping, last = self.stopping, self.last_commit_at
        body: dict[str, object] = {
            "status": "stopping" if stopping else "ok",
            "last_commit_at": None if last is None else datetime.fromtimestamp(last, UTC).isoformat(),
            "seconds_since_last_commit": None if last is None else round(self._clock() - last, 3),
        }
        return (503 if stopping else 200), body
