"""The stdout sink: each alert's JSON document as one line, for a log collector reading the process output."""

from __future__ import annotations

import json
import sys
import threading
from typing import TextIO

from regaudit.analytics.alerts.alert import Alert
from regaudit.analytics.alerts.settings import SinkSettings

_LOCK = threading.Lock()  # one line at a time, whole, whatever thread prints


class StdoutSink:
    def __init__(self, settings: SinkSettings, dashboard_url: str | None, stream: TextIO | None = None) -> None:
        self.name = settings.name
        self.dashboard_url = dashboard_url
        self.stream = stream

    def send(self, alert: Alert) -> None:
        line = json.dumps(alert.document(self.dashboard_url), sort_keys=True, ensure_ascii=False)
        stream = self.stream or sys.stdout
        with _LOCK:
            stream.write(line + "\n")
            stream.flush()

    def close(self) -> None:
        return None
