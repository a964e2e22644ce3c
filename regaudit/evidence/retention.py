"""Retention: remove old rows per table while keeping the hash chain verifiable (``regaudit purge``).

Each table is cut at ``now - max(older_than, its retention days)``: the retention policy is the least a table
keeps, so a purge can never go below it, and a table whose retention is 0 is never purged. The sealed audit
tables (``registry_events``, ``access_log``, ``dead_letters``) are purged **whole batches at a time**: a table's
rows of a sealed batch go when its newest row in that table is older than the cut, so every batch the chain
sealed is either whole or gone from a table, and ``verify`` can tell which. ``image_activity`` (derived) is cut
row by row, and its daily rollups follow (``regaudit.ingest.rollups``); ``tag_history`` (small, and the record of
every tag's past) is kept.

The purge itself is a chain entry (kind ``purge``) whose ``detail`` is the checkpoint, in canonical JSON (sorted
keys, no spaces): per table the cut, the batch ranges and rows removed and the last chain entry they reach; the
chain head before the purge; the signer's key fingerprint. It is signed with the Ed25519 signing key. Deletes
and checkpoint commit in one transaction.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from regaudit.evidence import chain, signing
from regaudit.ingest import rollups

#: sealed table -> the time its retention counts from
SEALED_TIMES = {"registry_events": "event_at", "access_log": "request_at", "dead_letters": "received_at"}
DERIVED_TIMES = {"image_activity": "occurred_at"}


@dataclass(frozen=True)
class TablePurge:
    """What a purge removes from one table."""

    table: str
    cut_at: datetime
    retention_days: int
    rows_count: int
    batches: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class PurgePlan:
    purged_at: datetime
    older_than: timedelta
    tables: tuple[TablePurge, ...]

    @property
    def rows_count(self) -> int:
        return sum(t.rows_count for t in self.tables)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _ranges(ids: list[int]) -> tuple[tuple[int, int], ...]:
    """[1, 2, 3, 7] -> ((1, 3), (7, 7))."""
    ranges: list[tuple[int, int]] = []
    for value in sorted(ids):
        if ranges and value == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], value)
        else:
            ranges.append((value, value))
    return tuple(ranges)


def plan(
    con: duckdb.DuckDBPyConnection, retention_days: Mapping[str, int], older_than: timedelta, now: datetime
) -> PurgePlan:
    """What ``purge`` would remove; reads only."""
    tables: list[TablePurge] = []
    for table, column in (SEALED_TIMES | DERIVED_TIMES).items():
        days = retention_days.get(table, 0)
        if days <= 0:
            continue
        cut = now - max(older_than, timedelta(days=days))
        if table in SEALED_TIMES:
            rows = con.execute(
                f"""SELECT batch_id, count(*) FROM {table}
                    WHERE batch_id IN (SELECT batch_id FROM chain WHERE kind = 'batch')
                    GROUP BY batch_id HAVING max({column}) < $cut ORDER BY batch_id""",  # noqa: S608 - fixed names
                {"cut": cut},
            ).fetchall()
            ids = [int(r[0]) for r in rows]
            tables.append(TablePurge(table, cut, days, sum(int(r[1]) for r in rows), _ranges(ids)))
        else:
            count = con.execute(f"SELECT count(*) FROM {table} WHERE {column} < $cut", {"cut": cut}).fetchall()  # noqa: S608
            tables.append(TablePurge(table, cut, days, int(count[0][0])))
    return PurgePlan(now, older_than, tuple(tables))


def checkpoint(con: duckdb.DuckDBPyConnection, purge: PurgePlan, key: Ed25519PrivateKey) -> str:
    """The canonical JSON of the purge checkpoint."""
    head = chain.head(con)
    tables: dict[str, Any] = {}
    for item in purge.tables:
        entry: dict[str, Any] = {
            "cut_at": _iso(item.cut_at),
            "retention_days": item.retention_days,
            "rows_count": item.rows_count,
        }
        if item.table in SEALED_TIMES:
            entry["batches"] = [list(r) for r in item.batches]
            entry["through"] = _through(con, item.batches)
        tables[item.table] = entry
    document = {
        "type": "purge",
        "purged_at": _iso(purge.purged_at),
        "older_than_seconds": int(purge.older_than.total_seconds()),
        "head_before": {"seq": head.seq, "hash": head.batch_hash} if head else None,
        "tables": tables,
        "signer": signing.fingerprint(key.public_key()),
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def _through(con: duckdb.DuckDBPyConnection, ranges: tuple[tuple[int, int], ...]) -> dict[str, Any] | None:
    """The chain entry of the newest batch removed: the chain hash at the cut."""
    if not ranges:
        return None
    row = con.execute(
        "SELECT seq, batch_hash FROM chain WHERE kind = 'batch' AND batch_id = $b", {"b": ranges[-1][1]}
    ).fetchall()[0]
    return {"batch_id": ranges[-1][1], "seq": int(row[0]), "hash": row[1]}


def purge(con: duckdb.DuckDBPyConnection, purge_plan: PurgePlan, key: Ed25519PrivateKey) -> chain.ChainEntry | None:
    """Remove what the plan says and append the signed checkpoint, in one transaction; none if nothing to do."""
    if purge_plan.rows_count == 0:
        return None
    con.execute("BEGIN TRANSACTION")
    try:
        detail = checkpoint(con, purge_plan, key)
        removed = {t.table: t.rows_count for t in purge_plan.tables}
        for item in purge_plan.tables:
            _delete(con, item)
        values = {
            "events_count": removed.get("registry_events", 0),
            "events_digest": None,
            "access_count": removed.get("access_log", 0),
            "access_digest": None,
            "dead_letters_count": removed.get("dead_letters", 0),
            "dead_letters_digest": None,
        }
        entry = chain.append(
            con, "purge", None, values, detail=detail, committed_at=purge_plan.purged_at,
            signer=lambda digest: key.sign(digest.encode()).hex(),
        )  # fmt: skip
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("CHECKPOINT")
    return entry


def _delete(con: duckdb.DuckDBPyConnection, item: TablePurge) -> None:
    if item.table in DERIVED_TIMES:
        column = DERIVED_TIMES[item.table]
        con.execute(f"DELETE FROM {item.table} WHERE {column} < $cut", {"cut": item.cut_at})  # noqa: S608
        rollups.refresh_after_cut(con, item.cut_at)  # the daily rollups sum image_activity: they follow its cut
        return
    for lo, hi in item.batches:
        con.execute(f"DELETE FROM {item.table} WHERE batch_id BETWEEN $lo AND $hi", {"lo": lo, "hi": hi})  # noqa: S608
    if item.batches and item.table in rollups.FEED_ROLLUPS:
        rollups.refresh_feeds_after_purge(con, item.table, item.cut_at)
