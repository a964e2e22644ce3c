"""What the dashboard's queries share: the time range, bucket widths, filters and the anonymous identity.

Counting rules, the same on every page and in reports, live in the store's view ``counted_activity``
(``ingest/counting.sql``), which says what each activity row counts as (``counted_as``: a pull, a push, a delete, a
refusal, failed logins included...); pages count its values and never restate a rule. *Bytes* are the blob bytes
folded into each pull or push.

Rows without an identity are shown and filtered as ``(anonymous)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pandas as pd

from regaudit.analytics.detection import severity_order_sql

ANONYMOUS = "(anonymous)"

IDENTITY = f"coalesce(actor, '{ANONYMOUS}')"

#: time buckets as integers (epoch arithmetic; DuckDB's time_bucket on TIMESTAMPTZ goes through the ICU
#: calendar row by row, 70 times slower on 10 million rows); weeks start on Monday
BUCKET = "(epoch_us(occurred_at) - $origin_us) // $bucket_us"
BUCKET_START = "to_timestamp((bucket * $bucket_us + $origin_us) / 1000000)"
_MONDAY_US = 1_704_067_200_000_000  # 2024-01-01T00:00:00Z

#: most severe first, generated from ``Severity`` (the one place the order is written)
SEVERITY_RANK = severity_order_sql()

_HOUR = timedelta(hours=1)
_DAY = timedelta(days=1)


@dataclass(frozen=True)
class TimeRange:
    """``[start, end)`` in UTC."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("time range bounds must carry a zone")
        if self.end <= self.start:
            raise ValueError(f"time range ends ({self.end}) before it starts ({self.start})")

    @classmethod
    def ending(cls, end: datetime, length: timedelta) -> TimeRange:
        return cls(end - length, end)

    def bucket(self) -> timedelta:
        """Chart bucket width: hours up to three days, days up to 120 days, weeks beyond."""
        length = self.end - self.start
        if length <= 3 * _DAY:
            return _HOUR
        if length <= 120 * _DAY:
            return _DAY
        return 7 * _DAY

    def bindings(self) -> dict[str, Any]:
        return {"start": self.start.astimezone(UTC), "end": self.end.astimezone(UTC)}


def bucket_bindings(bucket: timedelta) -> dict[str, Any]:
    """The parameters of ``BUCKET`` and ``BUCKET_START`` for buckets of this width."""
    return {"bucket_us": int(bucket.total_seconds() * 1_000_000), "origin_us": _MONDAY_US}


def identity_condition(identity: str, name: str = "identity") -> tuple[str, dict[str, Any]]:
    """``actor = $identity`` (pushed into the scan), or ``actor IS NULL`` for ``(anonymous)``."""
    if identity == ANONYMOUS:
        return "actor IS NULL", {}
    return f"actor = ${name}", {name: identity}


def frame(con: duckdb.DuckDBPyConnection, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Run one query with bound parameters and return its rows (``.df()`` closes the result)."""
    return con.execute(sql, dict(params or {})).df()


def data_span(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """First and last activity, and how many rows there are: the anchor of every time-range picker."""
    return frame(
        con,
        "SELECT min(occurred_at) AS first_at, max(occurred_at) AS last_at, count(*) AS rows_count FROM image_activity",
    )


def clean(value: str | None) -> str | None:
    """A filter value as typed, stripped; empty means no filter."""
    if value is None:
        return None
    value = value.strip()
    return value or None


#: the greatest Unicode code point
MAX_CODE_POINT = 0x10FFFF


def past_prefix(prefix: str) -> str:
    """The least text after every text that starts with ``prefix`` (its last character that can grow, grown by one;
    texts compare by code point): ``digest >= prefix AND digest < past_prefix(prefix)`` holds exactly the digests it
    starts, as a range of the column DuckDB compares with each row group's min and max, which ``starts_with`` is
    not."""
    while prefix:
        code = ord(prefix[-1]) + 1
        if code <= MAX_CODE_POINT:
            return prefix[:-1] + chr(0xE000 if 0xD800 <= code <= 0xDFFF else code)  # no surrogates in UTF-8
        prefix = prefix[:-1]
    raise ValueError("no text follows every text")  # never for a prefix with a character below the greatest
