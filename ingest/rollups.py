"""The daily rollups of ``image_activity`` (``rollups.sql``, schema version 11) built from scratch.

Each ingest batch keeps them current for the days it touches (the derive step ``daily_rollups``); this module
sums them again from every stored row, for whatever wrote ``image_activity`` without a batch: the upgrade of a
store written before version 11 (``store.migrate``), a synthetic store written in SQL (``bench/make_store.py``),
and a purge that cut ``image_activity`` (``regaudit.evidence.retention``), which calls ``refresh_after_cut``.
"""

from __future__ import annotations

from datetime import datetime

import duckdb

#: the rollup tables (``rollups.sql``)
ROLLUPS = ("daily_repository_activity", "daily_identity_activity")

#: The first schema version with the rollups: a store upgraded from an older one has them built from its rows.
ROLLUP_VERSION = 11

#: day_at of a row: its UTC midnight, on epoch microseconds (no calendar per row)
DAY_AT = "to_timestamp(epoch_us(occurred_at) // 86400000000 * 86400)"

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


def rebuild(con: duckdb.DuckDBPyConnection) -> None:
    """Sum both rollups again from every ``image_activity`` row (inside the caller's transaction)."""
    for statement in REBUILD:
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
