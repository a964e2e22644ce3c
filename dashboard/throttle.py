"""Login throttling: failed log-ins counted per user name and per client address, in a table of bounded size.

A password guesser is slowed two ways. After ``per_user`` failures within ``window`` seconds a user name is
refused for the rest of the window, from any address (guessing one account's password). After ``per_address``
failures from one client address, that address is refused for any name (one password sprayed over many names).
The user name is the key ``auth.user_key`` makes, the same key the users file is looked up by, so ``" alice"``,
``"alice "``, ``"\\talice"`` and ``"ALICE"`` are one counter; the caller normalizes once and passes the key to
both.

The table holds at most ``max_keys`` names and addresses, each with at most its limit of timestamps, so spraying
names cannot grow memory. It is kept in order of the last failure: expired entries leave from the front, and when
it is full the least recently failing one leaves too. Eviction restarts that counter, but filling the table takes
``max_keys`` failures, which the per-address limit spreads over ``max_keys / per_address`` addresses per window.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque

MAX_KEYS = 10_000


class LoginThrottle:
    """Failures per user name and per client address within a sliding window."""

    def __init__(
        self, per_user: int = 5, per_address: int = 30, window: float = 300.0, max_keys: int = MAX_KEYS
    ) -> None:
        self.per_user, self.per_address, self.window, self.max_keys = per_user, per_address, window, max_keys
        self._failures: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def blocked(self, user: str, address: str, now: float | None = None) -> str | None:
        """Why a log-in as ``user`` from ``address`` is refused now (``"user"`` or ``"address"``), else None."""
        now = time.monotonic() if now is None else now
        with self._lock:
            self._expire(now)
            if self._recent(("user", user), now) >= self.per_user:
                return "user"
            if self._recent(("address", address), now) >= self.per_address:
                return "address"
            return None

    def failed(self, user: str, address: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            for key, limit in ((("user", user), self.per_user), (("address", address), self.per_address)):
                times = self._failures.pop(key, None) or deque(maxlen=limit)
                times.append(now)
                self._failures[key] = times  # to the end: the most recent failure
            self._expire(now)
            while len(self._failures) > self.max_keys:
                self._failures.popitem(last=False)

    def succeeded(self, user: str) -> None:
        """Forget the user name's failures; the address keeps its own, so one valid account cannot reset a
        sprayer's count."""
        with self._lock:
            self._failures.pop(("user", user), None)

    def __len__(self) -> int:
        """Names and addresses tracked now."""
        return len(self._failures)

    def _recent(self, key: tuple[str, str], now: float) -> int:
        times = self._failures.get(key)
        return sum(1 for moment in times if now - moment < self.window) if times else 0

    def _expire(self, now: float) -> None:
        """Drop entries whose last failure left the window, oldest first (the table is in last-failure order)."""
        while self._failures:
            key, times = next(iter(self._failures.items()))
            if now - times[-1] < self.window:
                return
            del self._failures[key]
