"""The daily rollups of ``image_activity`` kept by the difference a batch makes, not by summing whole days again.

The derive steps ``daily_rollups``, ``daily_clients`` and ``daily_pages`` (``derive.sql``) gather every key with a
row within 2 hours of a range (``REACH``) and sum all of that key's rows of the day again. That is exact, and what a
purge's refresh and a queued range (``derive_pending``) still do, but a batch then pays for the day's rows so far,
not for its own: a batch late in a busy day reads most of the day again, and a registry of 700 events/s fills a day
with 60M rows (``bench/rollup_day.py``: 25,000-event batches filling one day with 1M events).

A batch of one time range, where the day before its window is longer than the window (``pays``: live batches after
the day's first hours), takes the difference instead. Before any derive step writes, the rows within the reach of
the range are copied (the steps insert, update and delete only rows there, which is what summing again relies on
too); once the steps are done, the same window is read again, and the rows that differ are kept with a sign
(``rollup_moved``). Per key of a rollup table, the stored row minus the moved rows before plus the moved rows after
is the new row: the count and the bytes add up, and the first and last times are exact too, except where the row
that held one left the key and no moved row reaches past it (a pull no longer counted, a gap closed): such a key is
"unsure", and every key that shares its rows of the day is summed again whole, by the step's own statements after
its marker line. ``tests/ingest/test_rollups.py`` holds each way to the sums of every stored row after each batch.
"""

# ruff: noqa: S608 - every statement here is built of the fixed table and column names of STEPS; values are bound

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NamedTuple

#: the columns of a window's rows: every rollup's key and values, the user agent as the clients' rollup takes it
_WINDOW_COLUMNS = """to_timestamp(epoch_us(occurred_at) // 86400000000 * 86400) AS day_at, registry, actor, repository,
       action, is_check, counted_as, digest, tag, client_addr, coalesce(user_agent, proxy_user_agent) AS user_agent,
       blob_bytes, occurred_at"""
_WINDOW = "occurred_at BETWEEN $lo - INTERVAL 2 HOUR AND $hi + INTERVAL 2 HOUR"
#: the days the window reaches, for the scans of the stored rollups (their zonemaps skip the other days)
_DAYS = "{alias}day_at > $lo - INTERVAL 26 HOUR AND {alias}day_at <= $hi + INTERVAL 2 HOUR"

#: the copy of the window's rows before the derive steps, made before the first of them
BEFORE = [
    f"CREATE OR REPLACE TEMP TABLE rollup_before AS SELECT {_WINDOW_COLUMNS} FROM counted_activity LIMIT 0",
    f"INSERT INTO rollup_before SELECT {_WINDOW_COLUMNS} FROM counted_activity WHERE {_WINDOW}",
]
#: the window's rows after them, read by the first rollup step, and the rows that differ, each with how many more
#: there are after the steps than before (``sign``: -1 for a row updated away or deleted, 1 for one inserted or
#: updated to). A row the steps left alone cancels out, and counts with the key's rows outside the window. (A
#: GROUP BY: EXCEPT ALL both ways took seven times its CPU on 250,000 rows.)
AFTER = [
    f"CREATE OR REPLACE TEMP TABLE rollup_after AS SELECT {_WINDOW_COLUMNS} FROM counted_activity LIMIT 0",
    f"INSERT INTO rollup_after SELECT {_WINDOW_COLUMNS} FROM counted_activity WHERE {_WINDOW}",
    """CREATE OR REPLACE TEMP TABLE rollup_moved AS
    SELECT * EXCLUDE (sign), sum(sign) AS sign
    FROM (SELECT *, -1 AS sign FROM rollup_before UNION ALL SELECT *, 1 AS sign FROM rollup_after)
    GROUP BY ALL HAVING sum(sign) <> 0""",
    "DROP TABLE rollup_before",
    "DROP TABLE rollup_after",
]
DONE = ["DROP TABLE rollup_moved"]


class Rollup(NamedTuple):
    """A rollup table of ``image_activity``: its key after ``day_at`` (in the table's order), the rows it counts,
    and the temporary table of the coarser keys its step sums again whole (with those of the key's columns)."""

    table: str
    key: tuple[str, ...]
    where: str
    resum: str
    resum_key: tuple[str, ...]


#: the tables each step keeps, as ``derive.sql`` sums them
STEPS: dict[str, tuple[Rollup, ...]] = {
    "daily_rollups": (
        Rollup("daily_repository_activity", ("registry", "repository", "counted_as"), "true",
               "rollup_repositories", ("registry", "repository")),
        Rollup("daily_identity_activity", ("registry", "actor", "counted_as"), "true",
               "rollup_identities", ("registry", "actor")),
    ),
    "daily_clients": (
        Rollup("daily_identity_clients", ("registry", "actor", "client_addr", "user_agent", "counted_as"), "true",
               "rollup_clients", ("registry", "actor")),
    ),
    "daily_pages": (
        Rollup("daily_identity_repositories", ("registry", "actor", "repository", "action", "is_check", "counted_as"),
               "true", "rollup_pairs", ("registry", "actor", "repository")),
        Rollup("daily_digest_pulls", ("registry", "repository", "digest", "actor", "tag"), "counted_as = 'pull'",
               "rollup_pairs", ("registry", "actor", "repository")),
        Rollup("daily_repository_identities", ("registry", "repository", "actor", "action", "is_check"), "true",
               "rollup_pairs", ("registry", "actor", "repository")),
        Rollup("daily_digest_activity", ("registry", "digest", "repository", "actor", "action", "is_check"),
               "digest IS NOT NULL", "rollup_pairs", ("registry", "actor", "repository")),
    ),
}  # fmt: skip


#: how far around a range the derive steps change rows, as ``derive.sql`` reads it (``INTERVAL 2 HOUR``)
REACH = timedelta(hours=2)


def pays(lo: datetime, hi: datetime) -> bool:
    """Whether a range's rollups cost less by its window's difference than by summing its keys' days again: the
    difference reads the window's rows (twice) and the stored rollups of its days; summing again reads the touched
    keys' rows of the day up to the window too, so it is cheaper while the day before the window is shorter than the
    window (the day's first hours, a batch spanning days). ``bench/rollup_day.py``, 40 batches of 25,000 events
    filling one day: the rollup steps took 0.23 s CPU a batch summed again and 0.30 s by the difference over the
    day's first quarter, 0.82 s and 0.37 s over its last."""
    start = lo.timestamp() - REACH.total_seconds()
    return start % 86_400 > (hi - lo + 2 * REACH).total_seconds()


def _same(key: tuple[str, ...], left: str, right: str) -> str:
    return " AND ".join(f"{left}.{c} IS NOT DISTINCT FROM {right}.{c}" for c in ("day_at", *key))


def _delta(rollup: Rollup) -> list[str]:
    """The statements that apply the window's difference to one rollup table and queue its unsure keys."""
    key = ", ".join(rollup.key)
    moved = f"""
        SELECT day_at, {key},
               coalesce(sum(-sign) FILTER (WHERE sign < 0), 0) AS before_n,
               coalesce(sum(sign) FILTER (WHERE sign > 0), 0) AS after_n,
               coalesce(sum(-sign * blob_bytes) FILTER (WHERE sign < 0), 0) AS before_bytes,
               coalesce(sum(sign * blob_bytes) FILTER (WHERE sign > 0), 0) AS after_bytes,
               min(occurred_at) FILTER (WHERE sign < 0) AS before_first,
               max(occurred_at) FILTER (WHERE sign < 0) AS before_last,
               min(occurred_at) FILTER (WHERE sign > 0) AS after_first,
               max(occurred_at) FILTER (WHERE sign > 0) AS after_last
        FROM rollup_moved
        WHERE {rollup.where}
        GROUP BY ALL"""
    # outside_n: the key's stored rows of the day that did not move. Their first time is the stored one when the
    # moved rows before began later; the moved rows after begin no later than it, their first is the key's; else
    # the key is unsure (the same for the last time).
    joined = f"""
        SELECT m.*, o.actions_count AS old_n, o.blob_bytes AS old_bytes, o.first_at AS old_first,
               o.last_at AS old_last, coalesce(o.actions_count, 0) - m.before_n AS outside_n
        FROM ({moved}) AS m
        LEFT JOIN (SELECT * FROM {rollup.table} WHERE {_DAYS.format(alias="")}) AS o ON {_same(rollup.key, "o", "m")}"""
    new = f"""
        SELECT *, outside_n + after_n AS actions_count,
               CASE WHEN outside_n = 0 THEN after_bytes ELSE old_bytes - before_bytes + after_bytes END AS blob_bytes,
               CASE WHEN outside_n = 0 THEN after_first
                    WHEN before_n = 0 OR before_first > old_first THEN least(old_first, after_first)
                    WHEN after_first <= old_first THEN after_first END AS first_at,
               CASE WHEN outside_n = 0 THEN after_last
                    WHEN before_n = 0 OR before_last < old_last THEN greatest(old_last, after_last)
                    WHEN after_last >= old_last THEN after_last END AS last_at
        FROM ({joined})"""
    return [
        f"""CREATE OR REPLACE TEMP TABLE rollup_delta AS
        SELECT *, unsure OR old_n IS DISTINCT FROM nullif(actions_count, 0) OR old_bytes IS DISTINCT FROM blob_bytes
                  OR old_first IS DISTINCT FROM first_at OR old_last IS DISTINCT FROM last_at AS changed
        FROM (SELECT *, outside_n < 0 OR (actions_count > 0 AND (first_at IS NULL OR last_at IS NULL)) AS unsure
              FROM ({new}))""",
        f"""DELETE FROM {rollup.table} AS r USING rollup_delta AS d
        WHERE d.changed AND {_same(rollup.key, "r", "d")} AND {_DAYS.format(alias="r.")}""",
        f"""INSERT INTO {rollup.table}
        SELECT day_at, {key}, actions_count, blob_bytes, first_at, last_at FROM rollup_delta
        WHERE changed AND NOT unsure AND actions_count > 0""",
        f"""INSERT INTO {rollup.resum}
        SELECT DISTINCT day_at, {", ".join(rollup.resum_key)} FROM rollup_delta WHERE unsure""",
    ]


def step(name: str) -> list[str]:
    """The statements of a rollup step that gather its keys for a batch of one range: the window after the steps
    (read by the first rollup step), each table's difference applied, and the unsure keys left for the step's
    statements that sum keys again (``derive.sql``, after its marker)."""
    rollups = STEPS[name]
    statements = list(AFTER) if name == "daily_rollups" else []
    for resum in dict.fromkeys(r.resum for r in rollups):  # each coarse table once, typed as the window's columns
        columns = ", ".join(next(r.resum_key for r in rollups if r.resum == resum))
        statements.append(f"CREATE OR REPLACE TEMP TABLE {resum} AS SELECT day_at, {columns} FROM rollup_moved LIMIT 0")
        if resum == "rollup_pairs":  # the pairs whose actions and day's order follow: every changed one
            statements.append(f"CREATE OR REPLACE TEMP TABLE rollup_touched AS SELECT * FROM {resum}")
    for rollup in rollups:
        statements += _delta(rollup)
        if rollup.resum == "rollup_pairs":
            statements.append(
                "INSERT INTO rollup_touched SELECT DISTINCT day_at, registry, actor, repository FROM rollup_delta"
                " WHERE changed"
            )
    return [*statements, "DROP TABLE rollup_delta"]
