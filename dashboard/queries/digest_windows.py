"""Where a page of a digest's rows lies, to the minute: the explorer's rows of a digest (or prefix) are a few per day
scattered over the range, so the days that hold a page (``activity.page_span``) still hold millions of other rows
that the page's query reads, the rows being in time order and digests random. The rollup per digest
(``daily_digest_activity``, ``ingest/digest_rollups.sql``) knows the first and last time of each of its keys: the
page is read only within those of the keys it can come from, a condition of time ranges DuckDB skips row groups by.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import duckdb

from regaudit.dashboard.queries.daily import day_bindings

if TYPE_CHECKING:
    from regaudit.dashboard.queries.activity import ActivityFilter

#: more time ranges than this and the page reads its days whole (a condition of thousands of ranges costs more)
MAX_WINDOWS = 400

#: the matching rollup keys of the range's whole days, with their first and last times
_KEYS = """
    SELECT first_at AS since, last_at AS until, actions_count AS rows_count FROM daily_digest_activity
    WHERE day_at >= $days_start AND day_at < $days_end AND {condition}
"""
#: the newest time since which the keys (each counted from its first time) and the range's newest ragged end (from
#: its start) hold ``$rows`` matching rows: every row of the page is at least this recent
_LOWEST = f"""
    WITH parts AS (
        SELECT since, rows_count FROM ({_KEYS})
        UNION ALL
        SELECT $days_end, count(*) FROM image_activity
        WHERE occurred_at >= $days_end AND occurred_at < $end AND {{condition}}
    )
    SELECT max(since) FROM (SELECT since, sum(rows_count) OVER (ORDER BY since DESC) AS through FROM parts)
    WHERE through >= $rows
"""  # noqa: S608 - constant fragments
#: the time ranges of the keys with rows since ``$lowest``, newest first
_WINDOWS = f"""
    SELECT greatest(since, $lowest), until FROM ({_KEYS}) WHERE until >= $lowest ORDER BY until DESC LIMIT $most
"""  # noqa: S608 - constant fragments


def row_windows(con: duckdb.DuckDBPyConnection, filters: ActivityFilter, rows: int) -> tuple[str, dict[str, Any]]:
    """A condition on ``occurred_at`` that every one of the range's newest ``rows`` matching rows meets (TRUE when
    the ranges would be more than ``MAX_WINDOWS``), and its bindings. Those rows are all at least as recent as
    ``_LOWEST``'s time (else the range's start); each lies in the newest ragged end, in the time between a key's
    first and last rows (a key with rows since then), or in the oldest ragged end when that time is before it. Rows
    older than that time may meet it too; they sort after the newest ``rows``, so the page is the same."""
    condition, params = filters.row_filter()
    bound = {**{k: v for k, v in day_bindings(filters.time).items() if k != "start"}, **params}
    sql = _LOWEST.format(condition=condition)  # noqa: S608 - constant fragments; every value is a bound parameter
    lowest: datetime = con.execute(sql, {**bound, "rows": rows}).fetchall()[0][0] or filters.time.start
    sql = _WINDOWS.format(condition=condition)  # noqa: S608 - constant fragments; every value is a bound parameter
    keys = {name: value for name, value in bound.items() if name != "end"}
    windows = con.execute(sql, {**keys, "lowest": lowest, "most": MAX_WINDOWS + 1}).fetchall()
    if len(windows) > MAX_WINDOWS:
        return "TRUE", {}
    days = day_bindings(filters.time)
    windows.append((days["days_end"], filters.time.end))  # the newest ragged end (the page's query bounds it by $end)
    if lowest < days["days_start"]:
        windows.append((filters.time.start, days["days_start"]))
    parts = [f"occurred_at BETWEEN $window_{n}_since AND $window_{n}_until" for n in range(len(windows))]
    names = {f"window_{n}_since": since for n, (since, _) in enumerate(windows)}
    names.update({f"window_{n}_until": until for n, (_, until) in enumerate(windows)})
    return f"({' OR '.join(parts)})", names
