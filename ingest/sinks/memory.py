"""An in-memory record sink for unit tests at the receivers' seam (no mock.patch)."""

from __future__ import annotations

from collections.abc import Sequence

from regaudit.errors import BrokerUnavailable
from regaudit.ingest.records import RawRecord


class MemorySink:
    """Keeps delivered records; can be told to be down, as a broker would be."""

    def __init__(self) -> None:
        self.delivered: list[tuple[str | None, RawRecord]] = []
        self.down = False

    def deliver(self, records: Sequence[tuple[str | None, RawRecord]]) -> None:
        if self.down:
            raise BrokerUnavailable("memory sink is down")
        self.delivered.extend(records)

    def healthy(self) -> bool:
        return not self.down

    def close(self) -> None:
        pass
