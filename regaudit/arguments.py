"""Argument types the commands share: a duration (``--every 5m``, ``--older-than 90d``) and a moment (``--now``).

One parser for every command, so an interval written for ``analyze`` is also one for ``checkpoint`` or ``purge``.
"""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime, timedelta

_DURATION = re.compile(r"^(?P<amount>\d+(?:\.\d+)?)(?P<unit>[smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def duration(text: str) -> timedelta:
    """``30s``, ``5m``, ``1.5h``, ``90d``, ``12w``."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"not a duration like 30s, 5m, 1h, 90d or 12w: {text!r}")
    return timedelta(seconds=float(match["amount"]) * _UNIT_SECONDS[match["unit"]])


def moment(text: str) -> datetime:
    """An ISO time; without a zone it is UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO time like 2025-03-01T12:00:00Z: {text!r}") from None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
