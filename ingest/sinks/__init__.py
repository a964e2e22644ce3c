"""Sinks: where a receiver's records go, and where the consumer's batches go.

``RecordSink`` is the receivers' contract (webhook, ship-logs): ``deliver`` returns only once the records are
durable downstream (Kafka acks=all, or a DuckDB commit) and raises ``TransientError`` when they are not, so the
receiver can answer 503 or keep its file position; it raises ``RecordsTooLarge`` when it refuses records for
their size, which no retry can change. ``DuckDBSink`` stores normalized batches.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from regaudit.errors import RegauditError
from regaudit.ingest.records import RawRecord


class RecordsTooLarge(RegauditError):
    """The sink refused these records (indexes into the delivered sequence) for their size; the rest are durable."""

    def __init__(self, indexes: list[int], limit_bytes: int) -> None:
        super().__init__(f"{len(indexes)} record(s) over the sink's size limit of {limit_bytes} bytes")
        self.indexes = indexes
        self.limit_bytes = limit_bytes


class RecordSink(Protocol):
    def deliver(self, records: Sequence[tuple[str | None, RawRecord]]) -> None:
        """Make the (partition key, record) pairs durable, or raise TransientError (or RecordsTooLarge)."""

    def healthy(self) -> bool:
        """Whether a delivery now would probably succeed."""

    def close(self) -> None:
        """Flush and release resources."""
