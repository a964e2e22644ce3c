"""Exponential backoff with jitter: how long to rest after each consecutive failure, one rule for every retry in
regaudit (a store file another process holds, ship-logs' sink while it is down, an alert sink that failed).

After the n-th consecutive failure the rest is ``initial_seconds * 2 ** (n - 1)``, at most ``max_seconds``, times a
jitter in [0.5, 1]: processes that failed together do not retry together, and the rest never exceeds
``max_seconds``, so what came back is tried again within that. A success starts again from ``initial_seconds``.
``jitter=no_jitter`` rests the full delay.

``Outage`` is the other half of the rule: when a one-shot run (``--until-idle SECONDS``: the pollers, ship-logs,
consume) stops retrying a peer that stays away and exits 75 instead, rather than forever or as if it had caught up.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass


def no_jitter() -> float:
    """A jitter draw that keeps the full delay."""
    return 1.0


@dataclass
class Backoff:
    """The rests of one retrying client; ``jitter`` draws in [0, 1] (``random.random`` by default)."""

    initial_seconds: float
    max_seconds: float
    jitter: Callable[[], float] = random.random
    failures: int = 0

    def failed(self) -> float:
        """Count a failure; the seconds to rest before the next try."""
        self.failures += 1
        ceiling = min(self.max_seconds, self.initial_seconds * 2.0 ** min(self.failures - 1, 32))
        return ceiling * (0.5 + 0.5 * self.jitter())

    def succeeded(self) -> None:
        self.failures = 0


#: failures in a row a one-shot run takes, beside its idle time passing, before it gives up on a peer
GIVE_UP_FAILURES = 3


@dataclass
class Outage:
    """Failures in a row of one peer (an API, a sink, the broker): since when, how many, the last error.

    A one-shot run gives up on the peer (``gives_up``) once the outage has lasted longer than its idle time and
    GIVE_UP_FAILURES failures: one slow failure is not an outage, and many quick ones are not a long one. A run
    without an idle time never gives up. ``ended`` after a success starts the count again."""

    since: float = 0.0
    count: int = 0
    last: BaseException | None = None

    def failed(self, error: BaseException | None = None) -> None:
        if not self.count:
            self.since = time.monotonic()
        self.count += 1
        self.last = error

    def ended(self) -> None:
        self.count, self.last = 0, None

    @property
    def ongoing(self) -> bool:
        return self.count > 0

    def lasted(self) -> float:
        """Seconds since the first failure of the outage (0 when there is none)."""
        return time.monotonic() - self.since if self.count else 0.0

    def gives_up(self, max_idle_seconds: float | None) -> bool:
        return max_idle_seconds is not None and self.count >= GIVE_UP_FAILURES and self.lasted() > max_idle_seconds
