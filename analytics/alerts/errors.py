"""Errors of the alerts package, split by what the caller should do next.

    RegauditError                   (regaudit.errors)
    ├── TerminalError
    │   └── AlertsConfigError       a sink or the [alerts] section is wrong: fix the settings
    └── TransientError
        └── SinkUnavailable         the sink did not take the alert (down, timeout, 5xx, 429): retry later

A sink that answers that it will never take this alert (an HTTP 4xx other than 408 and 429) raises
``SinkRejected``: retrying the same bytes cannot help, so the alert is logged as rejected for that sink.
Messages name the sink.
"""

from __future__ import annotations

from regaudit.errors import RegauditError, TerminalError, TransientError


class AlertsConfigError(TerminalError):
    """The [alerts] settings name something that does not exist or cannot work."""


class SinkUnavailable(TransientError):
    """The sink is away or refused for now; ``retry_after`` is its own hint in seconds, when it gave one."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SinkRejected(RegauditError):
    """The sink refused this alert for good."""
