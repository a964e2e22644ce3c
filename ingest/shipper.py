"""``regaudit ship-logs``: follow an nginx access log and deliver each line, then save the position.

The position is saved only after the sink acknowledged the batch (Kafka acks=all, or the DuckDB commit), so a
crash re-delivers at most the last batch, under the same line keys, and the store keeps each line once. While
the sink is down the shipper retries with backoff and does not advance.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime

from regaudit.errors import TransientError
from regaudit.ingest.records import RawRecord
from regaudit.ingest.sinks import RecordSink
from regaudit.ingest.sources.tail import FileTail

log = logging.getLogger(__name__)


class Shipper:
    def __init__(self, tail: FileTail, sink: RecordSink, poll_seconds: float, batch_lines: int) -> None:
        self.tail = tail
        self.sink = sink
        self.poll_seconds = poll_seconds
        self.batch_lines = batch_lines
        self.shipped = 0
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def run(self, max_idle_seconds: float | None = None) -> int:
        """Ship until stopped, or until idle for ``max_idle_seconds``; returns the lines shipped."""
        idle_since = time.monotonic()
        backoff = self.poll_seconds
        while not self._stop.is_set():
            lines = self.tail.read(self.batch_lines)
            if not lines:
                if max_idle_seconds is not None and time.monotonic() - idle_since > max_idle_seconds:
                    break
                self._stop.wait(self.poll_seconds)
                continue
            received_at = datetime.now(UTC)
            records = [
                (
                    self.tail.host,
                    RawRecord("access", line.value, f"file:{line.key}", received_at, key=line.key),
                )
                for line in lines
            ]
            while not self._stop.is_set():
                try:
                    self.sink.deliver(records)
                    break
                except TransientError as error:
                    log.warning("deliver failed, retrying in %.1fs: %s", backoff, error)
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, 30.0)
            else:
                break  # stopped while the sink was down: position not advanced, nothing lost
            backoff = self.poll_seconds
            self.tail.commit(lines[-1].end)
            self.shipped += len(lines)
            idle_since = time.monotonic()
            log.info("shipped=%d total=%d", len(lines), self.shipped)
        self.tail.close()
        return self.shipped
