"""Exponential backoff with jitter: how long to rest after each consecutive failure, one rule for every retry in
regaudit (a store file another process holds, ship-logs' sink while it is down, an alert sink that failed).

After the n-th consecutive failure the rest is ``initial_seconds * 2 ** (n - 1)``, at most ``max_seconds``, times a
jitter in [0.5, 1]: processes that failed together do not retry together, and the rest never exceeds
``max_seconds``, so what came back is tried again within that. A success starts again from ``initial_seconds``.
``jitter=no_jitter`` rests the full delay.
"""

from __future__ import annotations

import random
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
