"""The embedded record sink: receivers write straight into DuckDB, without Kafka, under the same contract.

``deliver`` returns only after the DuckDB transaction holding the records committed. Concurrent deliveries are
group-committed: a single writer thread takes everything queued, normalizes and writes it in one transaction,
then wakes every waiting caller, so forty concurrent webhook POSTs cost one file open instead of forty.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path

from regaudit.errors import StoreLocked, TransientError
from regaudit.ingest.hooks import BatchHook
from regaudit.ingest.normalize import Normalizer
from regaudit.ingest.records import RawRecord
from regaudit.ingest.sinks.duckdb import DuckDBSink

log = logging.getLogger(__name__)

#: how long no delivery comes before the writer derives time ranges earlier batches queued (``DuckDBSink.drain``)
IDLE_DRAIN_SECONDS = 1.0

_Pending = tuple[Sequence[tuple[str | None, RawRecord]], "Future[None]"]


class StoreRecordSink:
    """Normalizes and stores records in the DuckDB file, one transaction per group of deliveries."""

    def __init__(
        self, path: Path, lock_timeout: float, default_registry: str, source: str, hooks: Sequence[BatchHook] = ()
    ) -> None:
        self._sink = DuckDBSink(path, lock_timeout, default_registry, hooks=hooks)
        self._normalizer = Normalizer(default_registry)
        self._source = source
        self._queue: queue.Queue[_Pending | None] = queue.Queue()
        self._healthy = True
        self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)
        self._thread.start()

    def deliver(self, records: Sequence[tuple[str | None, RawRecord]]) -> None:
        if not records:
            return
        done: Future[None] = Future()
        self._queue.put((records, done))
        done.result()

    def healthy(self) -> bool:
        return self._healthy and self._thread.is_alive()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        self._normalizer.close()

    def _run(self) -> None:
        while True:
            try:  # while time ranges wait to be derived (derive_pending), a quiet second derives some
                first = self._queue.get(timeout=IDLE_DRAIN_SECONDS if self._sink.drain_due else None)
            except queue.Empty:
                self._drain()
                continue
            if first is None:
                return
            group = [first]
            while True:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)
                    break
                group.append(more)
            self._write(group)

    def _drain(self) -> None:
        try:
            self._sink.drain()
        except Exception:  # noqa: BLE001 - the next delivery's batch derives them, or the next quiet second
            log.warning("deriving queued time ranges failed; will try again", exc_info=True)

    def _write(self, group: list[_Pending]) -> None:
        records = [record for records, _ in group for _, record in records]
        try:
            self._sink.write(self._normalizer.normalize(records), self._source)
        except StoreLocked as error:
            self._healthy = False
            for _, done in group:
                done.set_exception(error)
            return
        except Exception as error:  # noqa: BLE001 - handed to each caller, which answers 503
            log.exception("store write failed")
            self._healthy = False
            failure = TransientError(f"store write failed: {error}")
            for _, done in group:
                done.set_exception(failure)
            return
        self._healthy = True
        for _, done in group:
            done.set_result(None)
