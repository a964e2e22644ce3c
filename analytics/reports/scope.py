"""What a report covers: a period (UTC, start inclusive, end exclusive) and a scope (repositories, identities,
actions). Empty lists mean everything. Repository and identity patterns are globs (``*`` matches any characters,
``/`` included: ``team/*`` covers ``team/app`` and ``team/a/b``); the anonymous identity is ``(anonymous)``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

ACTIONS = ("push", "pull", "delete", "mount", "login")
ANONYMOUS = "(anonymous)"
_QUARTER = re.compile(r"^(?P<year>\d{4})-?Q(?P<quarter>[1-4])$", re.I)
_MONTH = re.compile(r"^(?P<year>\d{4})-(?P<month>\d{2})$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def iso(moment: datetime) -> str:
    """``2025-03-01T00:00:00Z``: the one way reports write a time."""
    return _utc(moment).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Period:
    """``[start, end)`` in UTC."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", _utc(self.start))
        object.__setattr__(self, "end", _utc(self.end))
        if self.end <= self.start:
            raise ValueError(f"the period ends ({iso(self.end)}) before it starts ({iso(self.start)})")

    @classmethod
    def parse(cls, text: str) -> Period:
        """``2025-Q1``, ``2025-03``, ``2025-03-01..2025-04-01`` (dates or ISO times; end exclusive)."""
        text = text.strip()
        if match := _QUARTER.match(text):
            year, quarter = int(match["year"]), int(match["quarter"])
            start = date(year, 3 * quarter - 2, 1)
            end = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
            return cls(_day(start), _day(end))
        if match := _MONTH.match(text):
            year, month = int(match["year"]), int(match["month"])
            start = date(year, month, 1)
            return cls(_day(start), _day(date(year + month // 12, month % 12 + 1, 1)))
        if ".." in text:
            first, _, last = text.partition("..")
            return cls(_moment(first), _moment(last))
        raise ValueError(f"not a period like 2025-Q1, 2025-03 or 2025-03-01..2025-04-01: {text!r}")

    @property
    def label(self) -> str:
        return f"{iso(self.start)} to {iso(self.end)} (end excluded)"

    def as_json(self) -> dict[str, str]:
        return {"start": iso(self.start), "end": iso(self.end), "end_is": "exclusive", "zone": "UTC"}


def _day(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _moment(text: str) -> datetime:
    value = datetime.fromisoformat(text.strip())
    return _utc(value)


@dataclass(frozen=True)
class Scope:
    """Repository globs, identity globs and actions; empty means all."""

    repositories: tuple[str, ...] = ()
    identities: tuple[str, ...] = ()
    actions: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        unknown = sorted(set(self.actions) - set(ACTIONS))
        if unknown:
            raise ValueError(f"unknown actions {', '.join(unknown)} (known: {', '.join(ACTIONS)})")
        for name in ("repositories", "identities", "actions"):
            object.__setattr__(self, name, tuple(sorted(set(getattr(self, name)))))

    @property
    def label(self) -> str:
        parts = [
            f"repositories {', '.join(self.repositories) or 'all'}",
            f"identities {', '.join(self.identities) or 'all'}",
            f"actions {', '.join(self.actions) or 'all'}",
        ]
        return "; ".join(parts)

    def as_json(self) -> dict[str, Any]:
        return {
            "repositories": list(self.repositories),
            "identities": list(self.identities),
            "actions": list(self.actions),
            "patterns": "glob, * matches any characters including /; empty list: all",
        }


def last_days(days: int, now: datetime) -> Period:
    """The ``days`` whole UTC days before today."""
    today = _day(_utc(now).date())
    return Period(today - timedelta(days=days), today)


def directory_name(period: Period, scope: Scope, now: datetime) -> str:
    """A new report's directory name: the period, the scope's patterns (made safe for a file name), the time."""
    parts = [*scope.repositories, *scope.identities, *scope.actions]
    slug = _UNSAFE.sub("_", "-".join(parts))[:60] if parts else "all"
    return f"report-{period.start:%Y%m%d}-{period.end:%Y%m%d}-{slug}-{now:%Y%m%dT%H%M%SZ}"
