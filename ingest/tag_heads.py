"""Each tag's latest interval (``tag_heads.sql``, schema version 18) written from ``tag_history``.

The derive step ``rebuild_tag_history`` keeps ``tag_heads`` batch by batch; this module writes it from every
``tag_history`` row for whatever wrote ``tag_history`` without a batch: the upgrade of a store written before
version 18 (``store.migrate``), a synthetic store written in SQL (``bench/make_store.py``) and fixture rows
(``regaudit.analytics.cases.load_rows``). ``differences`` is how ``regaudit verify`` holds it to ``tag_history``.
"""

from __future__ import annotations

import duckdb

#: The schema version that added tag_heads.
VERSION = 18

#: each tag's latest tag_history row, as tag_heads holds it (the order of rebuild_tag_history's intervals)
LATEST = """
SELECT registry, repository, tag, digest, valid_from_at, valid_to_at, moved_by, client_addr, user_agent, event_id
FROM {table}
QUALIFY row_number() OVER (PARTITION BY registry, repository, tag ORDER BY valid_from_at DESC, event_id DESC) = 1
"""


def rebuild(con: duckdb.DuckDBPyConnection) -> None:
    """Write tag_heads again from every tag_history row (inside the caller's transaction)."""
    con.execute("DELETE FROM tag_heads")
    con.execute("INSERT INTO tag_heads " + LATEST.format(table="tag_history"))


def differences(con: duckdb.DuckDBPyConnection, heads: str = "tag_heads", history: str = "tag_history") -> int:
    """How many tags' rows in ``heads`` are not their latest interval in ``history``: changed, missing or extra."""
    sql = f"""
        WITH latest AS ({LATEST.format(table=history)})
        SELECT count(DISTINCT (registry, repository, tag))
        FROM ((SELECT * FROM {heads} EXCEPT ALL SELECT * FROM latest)
              UNION ALL (SELECT * FROM latest EXCEPT ALL SELECT * FROM {heads}))
    """  # noqa: S608 - fixed names
    return int(con.execute(sql).fetchall()[0][0])
