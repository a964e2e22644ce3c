"""Rebuild the derived tables from the sealed ones and compare: ``image_activity`` and ``tag_history`` are what the
dashboard and the signed reports show, but the chain seals only ``registry_events`` and ``access_log`` (and
``dead_letters``). An edited derived row (an actor changed on a pull) is found here, by ``regaudit verify``.

How: one read-only look at the store copies the sealed rows (without their raw payloads), the stored derived rows
and the chain into a scratch DuckDB file; there the batches are replayed in the order they were stored, each
derived by ``regaudit.ingest.derive.derive``, the very code the ingest batch runs (the derivation depends a
little on arrival order, e.g. which proxy lines were still unmatched, so a one-shot rebuild would not be exact).
Purges are replayed where the chain has them (``image_activity`` is cut where the purge cut it). Then stored and
rebuilt rows are compared both ways (``EXCEPT ALL``), and the first differing rows are named.

Purged source rows cannot be replayed. Every such row is older than its purge's cut; the newest of these cuts is
the *horizon*. ``image_activity`` rows before the horizon plus ``DERIVE_REACH`` (further than any derive step
looks around a row) are left unchecked, and so are, per tag that has history before the horizon, the intervals up
to its first move after it (whose predecessor may be gone). Both counts are reported, never hidden.

The rebuild uses the derive parameters of this configuration (``webhook.registry`` for rows with no registry of
their own, the audit-gap grace): a consumer run with another ``--registry`` derives other rows, which shows here.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from regaudit.errors import TransientError
from regaudit.evidence import decisions
from regaudit.ingest import store, tag_heads
from regaudit.ingest.derive import GAP_GRACE_SECONDS, derive, drain_pending
from regaudit.ingest.rollups import ROLLUPS, refresh_after_cut
from regaudit.ingest.sinks.duckdb import DRAIN_SOURCE


class StoreChanged(TransientError):
    """The store changed under the check in a way it cannot follow (a purge): run it again."""


#: rows of the sealed tables copied per look at the store (the store is reopened between looks)
GROUP_ROWS = 500_000
#: beyond any margin a derive step looks around a row (1 hour for audit gaps) and the 12-hour range split
DERIVE_REACH = timedelta(days=1)
SHOWN = 10
SOURCES = {"registry_events": "event_at", "access_log": "request_at"}
#: the derived tables compared: the daily rollups (summing image_activity) on the days after the horizon's reach;
#: tag_heads with the stored tag_history, whose latest interval per tag it must hold (purged sources or not); the
#: queue of time ranges left to derive (derive_pending.sql), which the replay queues and drains as the ingest did
DERIVED = ("image_activity", "tag_history", "tag_heads", "derive_pending", *ROLLUPS)

Opener = Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]]


@dataclass(frozen=True)
class DerivedCheck:
    """What the checks found: problems (decisions first, then the first rows that differ), what was compared and
    what could not be (rows whose sources a purge removed)."""

    problems: tuple[str, ...]
    decisions_count: int
    rebuilt: bool
    batches_replayed: int = 0
    activity_compared: int = 0
    tags_compared: int = 0
    horizon: datetime | None = None
    activity_unchecked: int = 0
    tags_unchecked: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def check(
    opener: Opener,
    default_registry: str,
    rebuild: bool = True,
    gap_grace_seconds: int = GAP_GRACE_SECONDS,
    scratch: Path | None = None,
) -> DerivedCheck:
    """Findings' statuses against their recorded decisions (always; cheap) and, with ``rebuild``, the derived
    tables against a replay of the sealed ones."""
    with opener() as con:
        decided = decisions.problems(con)
        count = int(con.execute("SELECT count(*) FROM finding_decisions").fetchall()[0][0])
    if not rebuild:
        return DerivedCheck(tuple(decided), count, rebuilt=False)
    derived = check_derived(opener, default_registry, gap_grace_seconds, scratch)
    return replace(derived, problems=(*decided, *derived.problems), decisions_count=count)


@dataclass(frozen=True)
class _Step:
    """One thing to replay: a batch's rows, a purge's cut of image_activity, or a batch of no rows that derived
    time ranges earlier batches queued (``drain``)."""

    batch_id: int | None
    activity_cut_at: datetime | None = None
    drain: bool = False


def check_derived(
    opener: Opener, default_registry: str, gap_grace_seconds: int = GAP_GRACE_SECONDS, scratch: Path | None = None
) -> DerivedCheck:
    """Replay every stored batch into a scratch store and compare its derived tables with the stored ones."""
    with tempfile.TemporaryDirectory(prefix="regaudit-verify-", dir=scratch) as directory:
        replica = duckdb.connect(str(Path(directory) / "rebuild.duckdb"))
        try:
            for version in sorted(store.MIGRATIONS):  # the schema, without migrate's log lines about a scratch file
                replica.execute(store.MIGRATIONS[version])
            steps, horizon = _copy(opener, replica)
            replayed = _replay(replica, steps, default_registry, gap_grace_seconds)
            return _compare(replica, replayed, horizon)
        finally:
            replica.close()


def _stream(
    con: duckdb.DuckDBPyConnection,
    replica: duckdb.DuckDBPyConnection,
    sql: str,
    table: str,
    params: dict[str, Any] | None = None,
) -> None:
    """INSERT INTO table in the replica the rows of a query on the store, streamed in Arrow batches."""
    batches = con.sql(sql, params=params).to_arrow_reader(100_000)
    replica.register("incoming", batches)
    try:
        replica.execute(f"INSERT INTO {table} SELECT * FROM incoming")  # noqa: S608 - fixed names
    finally:
        replica.unregister("incoming")


_SOURCE_ROWS = "SELECT * REPLACE ('null' AS raw) FROM {table}"
_BATCH_ROWS = """
SELECT batch_id, sum(n) FROM (SELECT batch_id, count(*) AS n FROM registry_events GROUP BY ALL
                              UNION ALL SELECT batch_id, count(*) FROM access_log GROUP BY ALL)
GROUP BY batch_id ORDER BY batch_id
"""


def _copy(opener: Opener, replica: duckdb.DuckDBPyConnection) -> tuple[list[_Step], datetime | None]:
    """The stored derived rows and the chain in one look, then the sealed rows of the batches that look saw (raw
    payloads left out: no derive step reads them), reopening the store per group of batches as ``verify`` does,
    so the consumer writes in between. Sealed rows never change, except by a purge, which is checked for."""
    for table in DERIVED:
        replica.execute(f"CREATE TABLE stored_{table} AS SELECT * FROM {table} LIMIT 0")  # noqa: S608 - fixed names
    for table in SOURCES:
        replica.execute(f"CREATE TABLE sealed_{table} AS {_SOURCE_ROWS.format(table=table)} LIMIT 0")  # noqa: S608
    with opener() as con:
        for table in DERIVED:
            _stream(con, replica, f"SELECT * FROM {table}", f"stored_{table}")  # noqa: S608 - fixed names
        chain = con.execute("SELECT seq, kind, batch_id, detail FROM chain ORDER BY seq").fetchall()
        held = [(int(b), int(n)) for b, n in con.execute(_BATCH_ROWS).fetchall()]
        drained = con.execute("SELECT batch_id FROM ingest_batches WHERE source = $s", {"s": DRAIN_SOURCE})
        drains = {int(row[0]) for row in drained.fetchall()}  # batches of no rows that derived queued ranges
    last = max((int(row[0]) for row in chain), default=0)
    for lo, hi in _groups(held):
        with opener() as con:
            for table in SOURCES:
                sql = f"{_SOURCE_ROWS.format(table=table)} WHERE batch_id BETWEEN $lo AND $hi ORDER BY batch_id"
                _stream(con, replica, sql, f"sealed_{table}", {"lo": lo, "hi": hi})
            purges = con.execute("SELECT count(*) FROM chain WHERE kind = 'purge' AND seq > $s", {"s": last})
            if purges.fetchall()[0][0]:
                raise StoreChanged("the store was purged while verify read it: run verify again")
    steps, horizon = _steps(chain, sorted({batch_id for batch_id, _ in held} | drains))
    return [replace(step, drain=step.batch_id in drains) for step in steps], horizon


def _groups(held: Sequence[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    """Batch id ranges of at most GROUP_ROWS rows (one batch may exceed it alone)."""
    start, previous, rows = None, 0, 0
    for batch_id, count in held:
        if start is not None and rows + count > GROUP_ROWS:
            yield start, previous
            start, rows = None, 0
        start = batch_id if start is None else start
        rows += count
        previous = batch_id
    if start is not None:
        yield start, previous


def _steps(chain: Sequence[tuple[Any, ...]], held: Sequence[int]) -> tuple[list[_Step], datetime | None]:
    """Batches in chain order with the purges between them (batches the chain never sealed go in by id), and the
    horizon: the newest cut of a purge that removed source rows."""
    sealed = {int(batch_id) for _, kind, batch_id, _ in chain if kind == "batch" and batch_id is not None}
    unsealed = [b for b in sorted(held) if b not in sealed]
    steps: list[_Step] = []
    cuts: list[datetime] = []
    for _, kind, batch_id, detail in chain:
        if kind == "batch" and batch_id is not None:
            while unsealed and unsealed[0] < batch_id:
                steps.append(_Step(unsealed.pop(0)))
            steps.append(_Step(int(batch_id)))
        elif kind == "purge" and detail:
            tables = json.loads(detail).get("tables", {})
            cut = tables.get("image_activity", {}).get("cut_at")
            steps.append(_Step(None, datetime.fromisoformat(cut) if cut else None))
            cuts += _source_cuts(tables)
    steps += [_Step(b) for b in unsealed]
    return steps, max(cuts, default=None)


def _source_cuts(tables: dict[str, Any]) -> Iterator[datetime]:
    for table in SOURCES:
        removed = tables.get(table, {})
        if removed.get("rows_count") and removed.get("cut_at"):
            yield datetime.fromisoformat(removed["cut_at"])


def _replay(replica: duckdb.DuckDBPyConnection, steps: Sequence[_Step], registry: str, grace: int) -> int:
    """Store each batch's sealed rows again and derive them; returns how many batches were derived."""
    replayed = 0
    for step in steps:
        if step.batch_id is None:
            if step.activity_cut_at is not None:
                replica.execute("DELETE FROM image_activity WHERE occurred_at < $cut", {"cut": step.activity_cut_at})
                refresh_after_cut(replica, step.activity_cut_at)  # as the purge did
            continue
        new = 0
        for table in SOURCES:
            inserted = replica.execute(
                f"INSERT INTO {table} SELECT * FROM sealed_{table} WHERE batch_id = $b",  # noqa: S608 - fixed names
                {"b": step.batch_id},
            ).fetchall()
            new += int(inserted[0][0])
        if new:
            derive(replica, step.batch_id, registry, grace)
            replayed += 1
        elif step.drain:
            drain_pending(replica, step.batch_id, registry, grace)
        else:  # purged: the time ranges it queued, if any, took their turns in later batches' drains as stored
            replica.execute(_REQUEUED, {"b": step.batch_id})
    return replayed


_REQUEUED = """
INSERT INTO derive_pending
SELECT batch_id, lo, hi, rows_count, NULL FROM stored_derive_pending WHERE batch_id = $b
ON CONFLICT DO NOTHING
"""


_TAG_MOVES = """
SELECT registry, repository, tag, min(event_at) AS first_at, arg_min(event_id, (event_at, event_id)) AS first_id
FROM registry_events
WHERE tag IS NOT NULL AND event_at >= $horizon
  AND ((action = 'push' AND target_kind = 'manifest') OR (action = 'delete' AND target_kind = 'tag'))
GROUP BY registry, repository, tag
"""
_TAGS_TOUCHED = """
SELECT DISTINCT registry, repository, tag
FROM (SELECT registry, repository, tag, valid_from_at FROM stored_tag_history
      UNION ALL SELECT registry, repository, tag, valid_from_at FROM tag_history)
WHERE valid_from_at < $horizon
"""
#: a tag row is checked unless its tag has history before the horizon and it is not after the tag's first move since
_TAG_CHECKED = """
CREATE TEMP TABLE checked_{side} AS
SELECT t.* FROM {table} t
LEFT JOIN tags_touched k USING (registry, repository, tag)
LEFT JOIN tag_moves m USING (registry, repository, tag)
WHERE k.tag IS NULL
   OR t.valid_from_at > m.first_at OR (t.valid_from_at = m.first_at AND t.event_id > m.first_id)
"""
_ACTIVITY_CHECKED = """
CREATE TEMP TABLE checked_{side} AS
SELECT * FROM {table} WHERE $start::TIMESTAMPTZ IS NULL OR occurred_at >= $start
"""

#: queued time ranges after the horizon's reach (a purge removed the sources of those before it)
_PENDING_CHECKED = """
CREATE TEMP TABLE checked_{side} AS
SELECT * FROM {table} WHERE $start::TIMESTAMPTZ IS NULL OR lo >= $start
"""


def _compare(replica: duckdb.DuckDBPyConnection, replayed: int, horizon: datetime | None) -> DerivedCheck:
    start = None if horizon is None else horizon + DERIVE_REACH
    for side, table in (("stored_activity", "stored_image_activity"), ("rebuilt_activity", "image_activity")):
        replica.execute(_ACTIVITY_CHECKED.format(side=side, table=table), {"start": start})
    replica.execute(f"CREATE TEMP TABLE tag_moves AS {_TAG_MOVES}", {"horizon": horizon})
    replica.execute(f"CREATE TEMP TABLE tags_touched AS {_TAGS_TOUCHED}", {"horizon": horizon})
    for side, table in (("stored_tags", "stored_tag_history"), ("rebuilt_tags", "tag_history")):
        replica.execute(_TAG_CHECKED.format(side=side, table=table))
    problems = _differences(replica, "image_activity", "activity", ("activity_id",), "occurred_at")
    problems += _differences(replica, "tag_history", "tags", ("registry", "repository", "tag", "event_id"),
                             "valid_from_at")  # fmt: skip
    problems += _rollup_differences(replica, start)
    for side, table in (("stored_pending", "stored_derive_pending"), ("rebuilt_pending", "derive_pending")):
        replica.execute(_PENDING_CHECKED.format(side=side, table=table), {"start": start})
    problems += _differences(replica, "derive_pending", "pending", ("batch_id", "lo"), "lo")
    if heads := tag_heads.differences(replica, "stored_tag_heads", "stored_tag_history"):
        problems.append(f"tag_heads: the rows of {heads} tags are not their latest tag_history interval")
    activity = _count(replica, "checked_stored_activity")
    tags = _count(replica, "checked_stored_tags")
    return DerivedCheck(
        tuple(problems), 0, True, replayed, activity, tags, horizon,
        _count(replica, "stored_image_activity") - activity, _count(replica, "stored_tag_history") - tags,
    )  # fmt: skip


def _rollup_differences(replica: duckdb.DuckDBPyConnection, start: datetime | None) -> list[str]:
    """The keys (day, registry, repository or identity, kind) of each daily rollup whose row differs from the
    replay's, on the whole days from ``start`` on: a rollup row changed directly, or rollups not following their
    image_activity."""
    problems = []
    for table in ROLLUPS:
        rows = "SELECT * FROM {} WHERE $start::TIMESTAMPTZ IS NULL OR day_at >= $start"
        stored, rebuilt = rows.format(f"stored_{table}"), rows.format(table)
        keys = "SELECT * EXCLUDE (actions_count, blob_bytes, first_at, last_at) FROM ({} EXCEPT ALL {})"
        sql = f"SELECT count(*) FROM ({keys.format(stored, rebuilt)} UNION {keys.format(rebuilt, stored)})"  # noqa: S608
        differing = int(replica.execute(sql, {"start": start}).fetchall()[0][0])
        if differing:
            problems.append(f"{table}: {differing} rows differ from the sums of the rebuilt image_activity")
    return problems


def _count(replica: duckdb.DuckDBPyConnection, relation: str) -> int:
    return int(replica.execute(f"SELECT count(*) FROM {relation}").fetchall()[0][0])  # noqa: S608 - fixed names


def _differences(
    replica: duckdb.DuckDBPyConnection, table: str, label: str, key: tuple[str, ...], order: str
) -> list[str]:
    """Rows only stored and rows only rebuilt, paired by key: the first SHOWN keys, in time order."""
    stored, rebuilt = f"checked_stored_{label}", f"checked_rebuilt_{label}"
    columns = [d[0] for d in replica.execute(f"SELECT * FROM {stored} LIMIT 0").description or ()]  # noqa: S608
    only = {
        side: replica.execute(f"SELECT * FROM {a} EXCEPT ALL SELECT * FROM {b}").fetchall()  # noqa: S608
        for side, a, b in (("stored", stored, rebuilt), ("rebuilt", rebuilt, stored))
    }
    if not only["stored"] and not only["rebuilt"]:
        return []
    index = [columns.index(name) for name in key]
    keyed = {side: {tuple(row[i] for i in index): row for row in rows} for side, rows in only.items()}
    at = columns.index(order)
    keys = sorted({*keyed["stored"], *keyed["rebuilt"]},
                  key=lambda k: (keyed["stored"].get(k) or keyed["rebuilt"][k])[at])  # fmt: skip
    problems = [f"{table}: {len(keys)} rows differ from a rebuild out of the sealed tables (changed, inserted or"
                " deleted directly; or derived by another regaudit version or webhook.registry)"]  # fmt: skip
    for k in keys[:SHOWN]:
        problems.append(_describe(table, columns, k, keyed["stored"].get(k), keyed["rebuilt"].get(k)))
    if len(keys) > SHOWN:
        problems.append(f"{table}: … and {len(keys) - SHOWN} more rows")
    return problems


def _describe(
    table: str,
    columns: list[str],
    key: tuple[Any, ...],
    stored: tuple[Any, ...] | None,
    rebuilt: tuple[Any, ...] | None,
) -> str:
    name = f"{table} {':'.join(str(part) for part in key)}" if len(key) > 1 else f"{table} {key[0]}"
    if rebuilt is None:
        return f"{name}: stored, but the sealed rows give no such row (inserted?)"
    if stored is None:
        return f"{name}: missing, the sealed rows give it (deleted?)"
    changed = [
        f"{column} is {stored[i]!r}, the sealed rows give {rebuilt[i]!r}"
        for i, column in enumerate(columns)
        if stored[i] != rebuilt[i]
    ]
    return f"{name}: {'; '.join(changed)}"


def lines(result: DerivedCheck) -> list[str]:
    """What ``regaudit verify`` prints after the chain's lines."""
    decided = f"{result.decisions_count} finding decisions"
    if result.problems:
        out = [f"derived tables and decisions FAILED: {result.problems[0]}"]
        out += [f"  also: {p}" for p in result.problems[1:SHOWN]]
        if len(result.problems) > SHOWN:
            out.append(f"  … and {len(result.problems) - SHOWN} more problems")
    elif not result.rebuilt:
        out = [f"{decided} match the chain and the findings; derived tables NOT checked (--no-derived)"]
    else:
        out = [
            f"derived tables ok: {result.activity_compared} image_activity and {result.tags_compared} tag_history"
            f" rows match a replay of the sealed tables ({result.batches_replayed} batches); {decided} match the"
            " chain and the findings"
        ]
    if result.horizon is not None and (result.activity_unchecked or result.tags_unchecked):
        out.append(
            f"  not checkable: {result.activity_unchecked} image_activity rows before"
            f" {(result.horizon + DERIVE_REACH).isoformat()} and {result.tags_unchecked} tag_history rows of tags"
            f" with history before {result.horizon.isoformat()} (a purge removed their sources)"
        )
    return out


def document(result: DerivedCheck) -> dict[str, object]:
    """The ``derived`` part of ``regaudit verify --json``."""
    return {
        "ok": result.ok,
        "rebuilt": result.rebuilt,
        "problems": list(result.problems),
        "decisions_count": result.decisions_count,
        "batches_replayed": result.batches_replayed,
        "image_activity_compared": result.activity_compared,
        "tag_history_compared": result.tags_compared,
        "purge_horizon": result.horizon.isoformat() if result.horizon else None,
        "image_activity_unchecked": result.activity_unchecked,
        "tag_history_unchecked": result.tags_unchecked,
    }
