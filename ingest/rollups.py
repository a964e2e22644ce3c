"""The daily rollups (``rollups.sql``, schema version 11) built from scratch.

Each ingest batch keeps them current for the days it touches (the derive step ``daily_rollups``); this module
sums them again from every stored row, for whatever wrote ``image_activity`` without a batch: the upgrade of a
store written before version 11 (``store.migrate``), a synthetic store written in SQL (``bench/make_store.py``),
and a purge (``regaudit.evidence.retention``): of ``image_activity``, which calls ``refresh_after_cut``, or of the
sealed tables' batches, which calls ``refresh_feeds_after_purge``.
"""

from __future__ import annotations

from datetime import datetime

import duckdb

#: the rollup tables (``rollups.sql``)
ROLLUPS = ("daily_repository_activity", "daily_identity_activity")

#: The first schema version with the rollups: a store upgraded from an older one has them built from its rows.
ROLLUP_VERSION = 11
#: The version that added the feeds' rollups (``feed_rollups.sql``).
FEEDS_VERSION = 12

#: day_at of a row: its UTC midnight, on epoch microseconds (no calendar per row)
DAY_AT = "to_timestamp(epoch_us(occurred_at) // 86400000000 * 86400)"

#: the feeds' rollups summed from their sealed rows, those matching ``{before}`` (a condition on the row's time)
FEEDS = (
    """
    INSERT INTO daily_registry_events
    SELECT to_timestamp(epoch_us(event_at) // 86400000000 * 86400) AS day_at, registry, registry_kind, count(*),
           max(event_at), max(received_at)
    FROM registry_events WHERE {before} GROUP BY ALL
    """,
    """
    INSERT INTO daily_access_lines
    SELECT to_timestamp(epoch_us(request_at) // 86400000000 * 86400) AS day_at, log_host, count(*), max(request_at),
           max(received_at)
    FROM access_log WHERE {before} GROUP BY ALL
    """,
)
#: sealed table -> its feed rollup and the time the day is of
FEED_ROLLUPS = {
    "registry_events": ("daily_registry_events", "event_at"),
    "access_log": ("daily_access_lines", "request_at"),
}

REBUILD = (
    "DELETE FROM daily_repository_activity",
    f"""
    INSERT INTO daily_repository_activity
    SELECT {DAY_AT} AS day_at, registry, repository, counted_as, count(*), sum(blob_bytes), min(occurred_at),
           max(occurred_at)
    FROM counted_activity GROUP BY ALL
    """,  # noqa: S608 - a constant
    "DELETE FROM daily_identity_activity",
    f"""
    INSERT INTO daily_identity_activity
    SELECT {DAY_AT} AS day_at, registry, actor, counted_as, count(*), sum(blob_bytes), min(occurred_at),
           max(occurred_at)
    FROM counted_activity GROUP BY ALL
    """,  # noqa: S608 - a constant
)
FEEDS_REBUILD = (
    "DELETE FROM daily_registry_events",
    "DELETE FROM daily_access_lines",
    *(sql.format(before="TRUE") for sql in FEEDS),
)


def rebuild(con: duckdb.DuckDBPyConnection, since_version: int = ROLLUP_VERSION) -> None:
    """Sum every rollup again from every stored row (inside the caller's transaction); with ``since_version``
    ``FEEDS_VERSION``, only the feeds' (a store upgraded from version 11)."""
    for statement in (REBUILD if since_version <= ROLLUP_VERSION else ()) + FEEDS_REBUILD:
        con.execute(statement)


def refresh_after_cut(con: duckdb.DuckDBPyConnection, cut_at: datetime) -> None:
    """Follow a purge that deleted the ``image_activity`` rows before ``cut_at``: the days before the cut's day go,
    and the cut's day (and the keys it touched) is summed again by the batches' own step."""
    from regaudit.ingest.sinks.duckdb import derive_step  # noqa: PLC0415 - that module imports store, which imports this

    for table in ROLLUPS:
        con.execute(
            f"DELETE FROM {table} WHERE day_at < to_timestamp(epoch_us($cut) // 86400000000 * 86400)",  # noqa: S608
            {"cut": cut_at},
        )
    derive_step(con, "daily_rollups", cut_at, cut_at)


def refresh_feeds_after_purge(con: duckdb.DuckDBPyConnection, table: str, cut_at: datetime) -> None:
    """Follow a purge of whole batches of a sealed table whose rows were older than ``cut_at``: its feed rollup's
    days up to the cut's are summed again from the rows left."""
    rollup, column = FEED_ROLLUPS[table]
    end = "to_timestamp(epoch_us($cut) // 86400000000 * 86400 + 86400)"  # the end of the cut's day
    con.execute(f"DELETE FROM {rollup} WHERE day_at < {end}", {"cut": cut_at})  # noqa: S608 - fixed names
    sql = FEEDS[list(FEED_ROLLUPS).index(table)].format(before=f"{column} < {end}")
    con.execute(sql, {"cut": cut_at})
