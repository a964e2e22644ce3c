"""``regaudit ship-logs``: follow an nginx access log and deliver each line, then save the position.

The position is saved only after the sink acknowledged the batch (Kafka acks=all, or the DuckDB commit), so a
crash re-delivers at most the last batch, under the same line keys, and the store keeps each line once. While
the sink is down the shipper retries with backoff and does not advance; a one-shot run (``--until-idle``) gives up
once the sink has been down for longer than its idle time (``regaudit.backoff.Outage``), with the sink's error (exit
75), its position still before the batch.

Delivery runs on a second thread, one batch at a time, while the next batch is read (``regaudit.ingest.loop``,
the consumer's loop too): reading the file (Python) and the sink's work (DuckDB, or Kafka's acknowledgement)
overlap, and at most two batches are in memory. The position is saved in batch order, each time after that batch's
delivery.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from regaudit.backoff import Backoff, Outage, no_jitter
from regaudit.errors import TransientError
from regaudit.ingest.loop import run_batches
from regaudit.ingest.receive.tail import FileTail, Line
from regaudit.ingest.records import RawRecord
from regaudit.ingest.sinks import RecordSink

log = logging.getLogger(__name__)


class Shipper:
    def __init__(self, tail: FileTail, sink: RecordSink, poll_seconds: float, batch_lines: int) -> None:
        self.tail = tail
        self.sink = sink
        self.poll_seconds = poll_seconds
        self.batch_lines = batch_lines
        self.shipped = 0
        self._stop = threading.Event()
        #: a one-shot run's idle time (``run``), which also bounds how long it retries a sink that is down
        self._max_idle_seconds: float | None = None

    def stop(self) -> None:
        self._stop.set()

    def run(self, max_idle_seconds: float | None = None) -> int:
        """Ship until stopped, or until idle for ``max_idle_seconds``; returns the lines shipped."""
        self._max_idle_seconds = max_idle_seconds
        try:
            run_batches(
                lambda: self.tail.read(self.batch_lines) or None,
                self._deliver,
                self._commit,
                self._stop,
                thread_name="ship-deliver",
                max_idle_seconds=max_idle_seconds,
                rest_seconds=self.poll_seconds,
            )
        finally:
            self.tail.close()
        return self.shipped

    def _deliver(self, lines: list[Line]) -> bool:
        """On the delivery thread: hand the batch to the sink, retrying while it is down; False if stopped first."""
        received_at = datetime.now(UTC)
        records = [
            (self.tail.host, RawRecord("access", line.value, f"file:{line.key}", received_at, key=line.key))
            for line in lines
        ]
        backoff = Backoff(self.poll_seconds, 30.0, jitter=no_jitter)
        down = Outage()
        while not self._stop.is_set():
            try:
                self.sink.deliver(records)
                return True
            except TransientError as error:
                down.failed(error)
                if down.gives_up(self._max_idle_seconds):
                    raise type(error)(
                        f"{error}; down for {down.lasted():.0f} s ({down.count} attempts), position kept"
                    ) from None
                rest = backoff.failed()
                log.warning("deliver failed, retrying in %.1fs: %s", rest, error)
                self._stop.wait(rest)
        return False  # stopped while the sink was down: position not advanced, nothing lost

    def _commit(self, lines: list[Line], delivered: bool) -> bool:
        """After the batch's delivery, save the position after it; False (stopped first) ends the loop."""
        if not delivered:
            return False
        self.tail.commit(lines[-1])
        self.shipped += len(lines)
        log.info("shipped=%d total=%d", len(lines), self.shipped)
        return True
