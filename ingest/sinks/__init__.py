"""Sinks: where a receiver's records go, and where the consumer's batches go.

``RecordSink`` is the receivers' contract (webhook, ship-logs): ``deliver`` returns only once the records are
durable downstream (Kafka acks=all, or a DuckDB commit) and raises ``TransientError`` when they are not, so the
receiver can answer 503 or keep its file position. ``DuckDBSink`` stores normalized batches.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from regaudit.ingest.records import RawRecord


class RecordSink(Protocol):
    def deliver(self, records: Sequence[tuple[str | None, RawRecord]]) -> None:
        """Make the (partition key, record) pairs durable, or raise TransientError."""

    def healthy(self) -> bool:
        """Whether a delivery now would probably succeed."""

    def close(self) -> None:
        """Flush and release resources."""
