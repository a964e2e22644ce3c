"""Delivery discipline, one small class each: routing, deduplication, rate limit (and the backoff after a failure,
``regaudit.backoff``).

- ``Route``: a sink takes an alert at or above its ``min_severity`` whose detection its include/exclude lists
  allow (ids, families or globs, resolved against the registry once, so a typo fails at start).
- ``Deduplicator``: a finding delivered to a sink is not delivered there again within the dedup window.
  Findings are keyed by detection, subject and window, so the same off-hours pusher on the same day is one
  finding, the next day another.
- ``TokenBucket``: at most ``rate_limit_per_minute`` per sink after a burst of ``rate_limit_burst``; an alert over
  the limit waits for its turn, it is not dropped.
- backoff (``regaudit.backoff.Backoff``, the one every retry in regaudit uses): after a failure the sink rests
  ``retry_initial_seconds``, doubled per consecutive failure up to ``retry_max_seconds`` (times a jitter in
  [0.5, 1]), so a sink that came back is tried again within ``retry_max_seconds``. A success resets it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from regaudit.analytics.alerts.alert import Alert, passes
from regaudit.analytics.alerts.settings import SinkSettings
from regaudit.analytics.detection import Severity
from regaudit.analytics.registry import DetectionRegistry


@dataclass(frozen=True)
class Route:
    """Which alerts one sink takes."""

    min_severity: Severity
    allowed: frozenset[str] | None  # None: every detection, including ones added later

    @classmethod
    def of(cls, sink: SinkSettings, registry: DetectionRegistry) -> Route:
        """Raises UnknownDetectionError when a pattern matches no detection."""
        if not sink.include and not sink.exclude:
            return cls(sink.min_severity, None)
        return cls(sink.min_severity, frozenset(d.id for d in registry.select(sink.include, sink.exclude)))

    def takes(self, alert: Alert) -> bool:
        return alert.origin == "test" or passes(alert, self.min_severity, self.allowed)


@dataclass
class Deduplicator:
    """Remembers when each finding was last delivered; the store's memory seeds it after a restart."""

    window: timedelta
    _last: dict[str, datetime] = field(default_factory=dict)

    def duplicate(self, finding_id: str, now: datetime, stored: datetime | None = None) -> bool:
        known = [moment for moment in (self._last.get(finding_id), stored) if moment is not None]
        return bool(known) and now - max(known) < self.window

    def delivered(self, finding_id: str, at: datetime) -> None:
        self._last[finding_id] = at
        if len(self._last) > 10_000:
            self._last = {k: v for k, v in self._last.items() if at - v < self.window}


class TokenBucket:
    """``rate_per_minute`` tokens a minute, at most ``burst`` saved up."""

    def __init__(self, rate_per_minute: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate_per_minute / 60.0
        self.burst = float(burst)
        self.tokens = float(burst)
        self.clock = clock
        self.updated = clock()

    def take(self) -> float:
        """Take a token and return 0, or return the seconds until one is there (taking nothing)."""
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate
