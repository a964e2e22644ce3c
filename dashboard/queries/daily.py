"""The daily rollups as the pages read them: whole UTC days of a time range from the store's rollups, the rest from
the rows, so a page that counts over days reads a few rows per day and gets the very figures the rows give.

The store keeps ``daily_repository_activity`` (per day, registry, repository and ``counted_as``) and
``daily_identity_activity`` (per day, registry, raw identity and ``counted_as``) current with every ingest batch
(``ingest/rollups.sql``, the derive step ``daily_rollups``). A range rarely starts at midnight: ``repository_days``
and ``identity_days`` give the range's whole days from the rollups and its ragged ends, ``[start, days_start)`` and
``[days_end, end)``, as one row per activity row with ``actions_count`` 1. Either way a row says ``registry``,
``repository`` or ``actor``, ``counted_as``, ``occurred_at`` (the day's midnight for a rollup row, so day and week
buckets, which start at midnight UTC, put it where its rows would go), ``actions_count``, ``blob_bytes``,
``first_at`` and ``last_at``. Pages sum ``actions_count`` where they counted rows; a distinct count of the key
column is the same over either. Buckets shorter than a day (a range of three days or less is charted by the hour)
read every row.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from regaudit.dashboard.queries.common import TimeRange

_DAY = timedelta(days=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_PARTS = """
    SELECT {key}, counted_as, day_at AS occurred_at, actions_count, blob_bytes, first_at, last_at
    FROM {table} WHERE day_at >= $days_start AND day_at < $days_end AND {condition}
    UNION ALL
    SELECT {key}, counted_as, occurred_at, 1, blob_bytes, occurred_at, occurred_at
    FROM counted_activity WHERE occurred_at >= $start AND occurred_at < $days_start AND {condition}
    UNION ALL
    SELECT {key}, counted_as, occurred_at, 1, blob_bytes, occurred_at, occurred_at
    FROM counted_activity WHERE occurred_at >= $days_end AND occurred_at < $end AND {condition}
"""


def repository_days(condition: str = "TRUE") -> str:
    """Rows per registry and repository over the range of ``day_bindings`` (``condition``: a constant fragment on
    ``registry``, ``repository`` or ``counted_as``, its values bound)."""
    return _PARTS.format(key="registry, repository", table="daily_repository_activity", condition=condition)


def identity_days(condition: str = "TRUE") -> str:
    """Rows per registry and raw identity (``actor``) over the range of ``day_bindings``."""
    return _PARTS.format(key="registry, actor", table="daily_identity_activity", condition=condition)


def day_bindings(time: TimeRange, bucket: timedelta = _DAY) -> dict[str, Any]:
    """The range's bindings and its whole UTC days (``days_start``..``days_end``); none when ``bucket`` is not a
    whole number of days, or the range holds no whole day."""
    bound = time.bindings()
    days_start, days_end = _ceil_day(bound["start"]), _floor_day(bound["end"])
    if bucket % _DAY or days_end <= days_start:
        days_start = days_end = bound["start"]  # the rows alone: [start, start) and [start, end)
    return {**bound, "days_start": days_start, "days_end": days_end}


def _floor_day(moment: datetime) -> datetime:
    return _EPOCH + (moment - _EPOCH) // _DAY * _DAY


def _ceil_day(moment: datetime) -> datetime:
    floor = _floor_day(moment)
    return floor if floor == moment else floor + _DAY
