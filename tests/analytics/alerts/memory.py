"""An in-memory sink for the dispatcher tests: keeps what it was sent; can be down or refuse."""

from __future__ import annotations

import threading

from regaudit.analytics.alerts.alert import Alert
from regaudit.analytics.alerts.errors import SinkRejected, SinkUnavailable


class MemorySink:
    def __init__(self, name: str) -> None:
        self.name = name
        self.sent: list[Alert] = []
        self.attempts = 0
        self.down = False
        self.refuse = False
        self.closed = False
        self._lock = threading.Lock()

    def send(self, alert: Alert) -> None:
        with self._lock:
            self.attempts += 1
            if self.down:
                raise SinkUnavailable(f"sink {self.name}: down")
            if self.refuse:
                raise SinkRejected(f"sink {self.name}: HTTP 400")
            self.sent.append(alert)

    def close(self) -> None:
        self.closed = True
