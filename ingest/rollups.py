"""The daily rollups (``rollups.sql``, schema version 11; ``client_rollups.sql``, 13; ``page_rollups.sql``, 14;
``action_rollups.sql``, 15; ``repository_rollups.sql``, 16; ``digest_rollups.sql``, 17) built from scratch.

Each ingest batch keeps them current for the days it touches (the derive steps ``daily_rollups``,
``daily_clients``, ``daily_pages``); this module sums them again from every stored row, for whatever wrote
``image_activity`` without a batch: the upgrade of a store written before version 11 (``store.migrate``), a
synthetic store written in SQL (``bench/make_store.py``), and a purge (``regaudit.evidence.retention``): of
``image_activity``, which calls ``refresh_after_cut``, or of the sealed tables' batches, which calls
``refresh_feeds_after_purge``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb

from regaudit.ingest.derive import derive_step

#: the rollup tables of image_activity (``rollups.sql``, ``client_rollups.sql``, ``page_rollups.sql``,
#: ``action_rollups.sql``, ``repository_rollups.sql``, ``digest_rollups.sql``)
ROLLUPS = (
    "daily_repository_activity",
    "daily_identity_activity",
    "daily_identity_clients",
    "daily_identity_repositories",
    "daily_digest_pulls",
    "daily_identity_actions",
    "daily_repository_actions",
    "daily_repository_identities",
    "daily_digest_activity",
)
#: the derive steps that sum them (``derive.sql``)
ROLLUP_STEPS = ("daily_rollups", "daily_clients", "daily_pages")

#: The first schema version with the rollups: a store upgraded from an older one has them built from its rows.
ROLLUP_VERSION = 11
#: The version that added the feeds' rollups (``feed_rollups.sql``).
FEEDS_VERSION = 12
#: The version that added the identities' clients and the proxy's logins (``client_rollups.sql``).
CLIENTS_VERSION = 13
#: The version that added the pages' rollups per identity and repository and per digest (``page_rollups.sql``).
PAGES_VERSION = 14
#: The version that added the actions per identity and per repository (``action_rollups.sql``).
ACTIONS_VERSION = 15
#: The version that added the rollup per repository and identity, in that order (``repository_rollups.sql``).
TWIN_VERSION = 16
#: The version that added the rollup per digest (``digest_rollups.sql``).
DIGESTS_VERSION = 17

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
#: daily_proxy_logins summed from the access_log lines matching ``{before}``
LOGINS = """
    INSERT INTO daily_proxy_logins
    SELECT to_timestamp(epoch_us(request_at) // 86400000000 * 86400) AS day_at, remote_user, client_addr, user_agent,
           count(*), min(request_at), max(request_at)
    FROM access_log
    WHERE coalesce(remote_user, '') <> '' AND endpoint IN ('ping', 'token') AND status < 400 AND {before}
    GROUP BY ALL
"""
CLIENTS_REBUILD = (
    "DELETE FROM daily_identity_clients",
    f"""
    INSERT INTO daily_identity_clients
    SELECT {DAY_AT} AS day_at, registry, actor, client_addr, coalesce(user_agent, proxy_user_agent), counted_as,
           count(*), sum(blob_bytes), min(occurred_at), max(occurred_at)
    FROM counted_activity GROUP BY ALL
    """,  # noqa: S608 - a constant
    "DELETE FROM daily_proxy_logins",
    LOGINS.format(before="TRUE"),
)
#: the pages' rollups summed from the rows of whole UTC days ``[$lo, $hi)``
PAGES = (
    f"""
    INSERT INTO daily_identity_repositories
    SELECT {DAY_AT} AS day_at, registry, actor, repository, action, is_check, counted_as, count(*), sum(blob_bytes),
           min(occurred_at), max(occurred_at)
    FROM counted_activity WHERE occurred_at >= $lo AND occurred_at < $hi GROUP BY ALL
    ORDER BY day_at, actor, repository
    """,  # noqa: S608 - a constant
    f"""
    INSERT INTO daily_digest_pulls
    SELECT {DAY_AT} AS day_at, registry, repository, digest, actor, tag, count(*), sum(blob_bytes), min(occurred_at),
           max(occurred_at)
    FROM counted_activity WHERE counted_as = 'pull' AND occurred_at >= $lo AND occurred_at < $hi GROUP BY ALL
    ORDER BY day_at, repository, digest
    """,  # noqa: S608 - a constant
)
#: Days summed per statement when the pages' rollups are rebuilt: nearly every row of a synthetic store is a key of
#: its own, so summing 100 million rows at once would hold as many groups in memory; a day at a time holds a day's,
#: and writes the days in order as the batches do.
PAGES_CHUNK = timedelta(days=1)
#: the actions per identity and per repository summed from ``daily_identity_repositories`` (whose key holds every
#: column of theirs: far fewer rows to read than image_activity), in order by day as the batches append them
ACTIONS_REBUILD = (
    "DELETE FROM daily_identity_actions",
    """
    INSERT INTO daily_identity_actions
    SELECT day_at, registry, actor, action, is_check, sum(actions_count), sum(blob_bytes), min(first_at), max(last_at)
    FROM daily_identity_repositories GROUP BY ALL ORDER BY day_at, registry, actor
    """,
    "DELETE FROM daily_repository_actions",
    """
    INSERT INTO daily_repository_actions
    SELECT day_at, registry, repository, action, is_check, sum(actions_count), sum(blob_bytes), min(first_at),
           max(last_at)
    FROM daily_identity_repositories GROUP BY ALL ORDER BY day_at, registry, repository
    """,
)
#: the rollup per repository and identity summed from ``daily_identity_repositories`` (the same keys and counted_as
#: besides: far fewer rows to read than image_activity), one day ``$day`` at a time, each in order as a settled day
TWIN_DAY = """
    INSERT INTO daily_repository_identities
    SELECT day_at, registry, repository, actor, action, is_check, sum(actions_count), sum(blob_bytes), min(first_at),
           max(last_at)
    FROM daily_identity_repositories WHERE day_at = $day GROUP BY ALL ORDER BY repository, actor
"""
#: the rollup per digest summed from the rows with a digest of one UTC day ``[$lo, $hi)`` (no rollup holds the digest
#: of every row), in order as a settled day
DIGESTS_DAY = f"""
    INSERT INTO daily_digest_activity
    SELECT {DAY_AT} AS day_at, registry, digest, repository, actor, action, is_check, count(*), sum(blob_bytes),
           min(occurred_at), max(occurred_at)
    FROM image_activity WHERE digest IS NOT NULL AND occurred_at >= $lo AND occurred_at < $hi GROUP BY ALL
    ORDER BY digest, repository, actor
"""  # noqa: S608 - a constant
FEEDS_REBUILD = (
    "DELETE FROM daily_registry_events",
    "DELETE FROM daily_access_lines",
    *(sql.format(before="TRUE") for sql in FEEDS),
)


def rebuild(con: duckdb.DuckDBPyConnection, since_version: int = ROLLUP_VERSION) -> None:
    """Sum every rollup again from every stored row (inside the caller's transaction); with ``since_version``, only
    those that version and the later ones added (a store upgraded from the version before it)."""
    statements = (
        (REBUILD if since_version <= ROLLUP_VERSION else ())
        + (FEEDS_REBUILD if since_version <= FEEDS_VERSION else ())
        + (CLIENTS_REBUILD if since_version <= CLIENTS_VERSION else ())
    )
    for statement in statements:
        con.execute(statement)
    if since_version <= PAGES_VERSION:
        _rebuild_pages(con)
    if since_version <= ACTIONS_VERSION:  # after the pages' rollups, which they sum
        for statement in ACTIONS_REBUILD:
            con.execute(statement)
    if since_version <= TWIN_VERSION:  # after the pages' rollups, which it sums
        _rebuild_twin(con)
    if since_version <= DIGESTS_VERSION:
        _rebuild_digests(con)


def _rebuild_pages(con: duckdb.DuckDBPyConnection) -> None:
    """The pages' rollups from every row, a day at a time (``PAGES_CHUNK``), oldest first, each in order."""
    for table in ("daily_identity_repositories", "daily_digest_pulls", "page_rollup_days"):
        con.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed names
    first, last = con.execute(f"SELECT min({DAY_AT}), max(occurred_at) FROM image_activity").fetchall()[0]  # noqa: S608
    first = first and first.astimezone(UTC)  # days of absolute time, whatever zone the session shows
    while first is not None and first <= last:
        for statement in PAGES:
            con.execute(statement, {"lo": first, "hi": first + PAGES_CHUNK})
        first += PAGES_CHUNK
    # every day in order (page_rollups.sql) but the newest, which batches may still add to: that one is put in order
    # once they have moved past it, as any day they write
    con.execute(
        "INSERT INTO page_rollup_days SELECT day_at, day_at < max(day_at) OVER () FROM"
        " (SELECT DISTINCT day_at FROM daily_identity_repositories)"
    )


def _rebuild_twin(con: duckdb.DuckDBPyConnection) -> None:
    """The rollup per repository and identity from its twin, a day at a time, oldest first: a day's groups in memory,
    not a store's, and the days appended in order as the batches do."""
    con.execute("DELETE FROM daily_repository_identities")
    days = con.execute("SELECT DISTINCT day_at FROM daily_identity_repositories ORDER BY day_at").fetchall()
    for (day,) in days:
        con.execute(TWIN_DAY, {"day": day})


def _rebuild_digests(con: duckdb.DuckDBPyConnection) -> None:
    """The rollup per digest from the rows, a day at a time (``PAGES_CHUNK``), oldest first: a day's groups in
    memory (nearly every row with a digest is a key of its own), and the days appended in order as the batches do."""
    con.execute("DELETE FROM daily_digest_activity")
    first, last = con.execute(f"SELECT min({DAY_AT}), max(occurred_at) FROM image_activity").fetchall()[0]  # noqa: S608
    first = first and first.astimezone(UTC)  # days of absolute time, whatever zone the session shows
    while first is not None and first <= last:
        con.execute(DIGESTS_DAY, {"lo": first, "hi": first + PAGES_CHUNK})
        first += PAGES_CHUNK


#: how far around its range a derive step sums keys again (``derive.sql``'s ``INTERVAL 2 HOUR``)
ROLLUP_REACH = timedelta(hours=2)


def refresh_after_cut(con: duckdb.DuckDBPyConnection, cut_at: datetime) -> None:
    """Follow a purge that deleted the ``image_activity`` rows before ``cut_at``: the days before the cut's day go,
    and every key of the cut's day is summed again by the batches' own steps, over a range that reaches the whole
    day (its rows, and its rollup rows' spans). A range at the cut alone reached only the keys with rows within
    ``ROLLUP_REACH`` of it: a key whose rows of that day were all deleted hours before the cut kept counting them."""

    for table in ROLLUPS:
        con.execute(
            f"DELETE FROM {table} WHERE day_at < to_timestamp(epoch_us($cut) // 86400000000 * 86400)",  # noqa: S608
            {"cut": cut_at},
        )
    day = datetime.fromtimestamp(cut_at.timestamp() // 86400 * 86400, UTC)
    for step in ROLLUP_STEPS:
        derive_step(con, step, day + ROLLUP_REACH, day + timedelta(days=1) - ROLLUP_REACH)


def refresh_feeds_after_purge(con: duckdb.DuckDBPyConnection, table: str, cut_at: datetime) -> None:
    """Follow a purge of whole batches of a sealed table whose rows were older than ``cut_at``: its feed rollup's
    days up to the cut's are summed again from the rows left."""
    rollup, column = FEED_ROLLUPS[table]
    end = "to_timestamp(epoch_us($cut) // 86400000000 * 86400 + 86400)"  # the end of the cut's day
    con.execute(f"DELETE FROM {rollup} WHERE day_at < {end}", {"cut": cut_at})  # noqa: S608 - fixed names
    sql = FEEDS[list(FEED_ROLLUPS).index(table)].format(before=f"{column} < {end}")
    con.execute(sql, {"cut": cut_at})
    if table == "access_log":  # the proxy's logins are summed from its lines too
        con.execute(f"DELETE FROM daily_proxy_logins WHERE day_at < {end}", {"cut": cut_at})  # noqa: S608
        con.execute(LOGINS.format(before=f"request_at < {end}"), {"cut": cut_at})
