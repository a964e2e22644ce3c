"""Who did what, where and when: the facts of the action behind a finding, read from its evidence rows.

Findings reference their evidence as ``<table>:<key>`` (``image_activity:<activity_id>``,
``tag_history:<event_id>``, ``access_log:<line_key>``). An alert names one action: for a streaming rule the
earliest new action of the batch that made the finding fire, for an analyze finding its first evidence row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb

_NEVER = datetime.min.replace(tzinfo=UTC)
_EVER = datetime.max.replace(tzinfo=UTC)
#: how far outside a finding's window its evidence rows are looked for first (a window of one hour still finds rows
#: its detection read a little before or after it)
EVIDENCE_MARGIN = timedelta(days=1)
_LOOKUP_TABLES = ("image_activity", "tag_history", "access_log")
_BATCH_EVENTS = """
SELECT 'image_activity:ev:' || registry || ':' || event_id AS ref, 'tag_history:' || event_id AS history_ref,
       event_at, received_at, action, actor, client_addr, user_agent, registry, repository, tag, digest
FROM registry_events
WHERE batch_id = $batch_id AND action IN ('push', 'delete') AND event_at >= $oldest
  AND target_kind IN ('manifest', 'tag', 'digest', 'repository')
"""

_LOOKUP = """
SELECT 'image_activity:' || a.activity_id AS ref, a.occurred_at AS event_at, e.received_at, a.action, a.actor,
       a.client_addr, coalesce(a.user_agent, a.proxy_user_agent) AS user_agent, a.registry, a.repository, a.tag,
       a.digest
FROM image_activity AS a
LEFT JOIN registry_events AS e
       ON a.activity_id = 'ev:' || e.registry || ':' || e.event_id AND e.event_at = a.occurred_at
WHERE a.activity_id IN (SELECT unnest($activity_ids::VARCHAR[])) AND a.occurred_at BETWEEN $lo AND $hi
UNION ALL
SELECT 'tag_history:' || t.event_id, t.valid_from_at, e.received_at, 'push', t.moved_by, t.client_addr,
       t.user_agent, t.registry, t.repository, t.tag, t.digest
FROM tag_history AS t
LEFT JOIN registry_events AS e
       ON e.registry = t.registry AND e.event_at = t.valid_from_at AND e.event_id = t.event_id
WHERE t.event_id IN (SELECT unnest($event_ids::VARCHAR[])) AND t.valid_from_at BETWEEN $lo AND $hi
UNION ALL
SELECT 'access_log:' || line_key, request_at, received_at, lower(http_method), remote_user, client_addr, user_agent,
       NULL, repository, tag, digest
FROM access_log WHERE line_key IN (SELECT unnest($line_keys::VARCHAR[])) AND request_at BETWEEN $lo AND $hi
"""


@dataclass(frozen=True)
class Facts:
    """One action, as an alert names it."""

    event_at: datetime | None = None
    received_at: datetime | None = None
    action: str | None = None
    actor: str | None = None
    client_addr: str | None = None
    user_agent: str | None = None
    registry: str | None = None
    repository: str | None = None
    tag: str | None = None
    digest: str | None = None

    def fields(self) -> dict[str, Any]:
        return dict(vars(self))


def _facts(row: Sequence[Any]) -> Facts:
    return Facts(*row)


def batch_actions(con: duckdb.DuckDBPyConnection, batch_id: int, oldest: datetime) -> dict[str, Facts]:
    """The pushes and deletes a batch added (no older than ``oldest``), by both their evidence references."""
    found: dict[str, Facts] = {}
    for row in con.execute(_BATCH_EVENTS, {"batch_id": batch_id, "oldest": oldest}).fetchall():
        facts = _facts(row[2:])
        found[row[0]] = facts
        found[row[1]] = facts
    return found


def evidence_bounds(start: datetime | None, end: datetime | None) -> list[tuple[datetime, datetime]]:
    """Where a finding's evidence rows are looked for, in turn: in its window, then ``EVIDENCE_MARGIN`` before and
    after it, when both ends are known, then anywhere, for the keys not found yet. The evidence tables are stored in
    time order and their keys (a registry's event ids, mostly random UUIDs; a log line's position) let DuckDB skip
    no row group: a lookup by key alone reads the whole table (1.3 s for two ids at 10M events), one within bounds
    the row groups of those times only. The window alone first: at 100M events a day either side is 218 row groups
    of image_activity, where two rows cited a second apart lie in one."""
    anywhere = (_NEVER, _EVER)
    if start is None or end is None:
        return [anywhere]
    return [(start, end), (start - EVIDENCE_MARGIN, start), (end, end + EVIDENCE_MARGIN), anywhere]


def lookup(
    con: duckdb.DuckDBPyConnection, refs: Iterable[str], near: tuple[datetime, datetime] | None = None
) -> dict[str, Facts]:
    """The facts of each evidence reference found in the store, looked for around ``near`` (the findings' windows)
    first (``evidence_bounds``)."""
    wanted = [ref for ref in dict.fromkeys(refs) if ref.partition(":")[0] in _LOOKUP_TABLES]
    found: dict[str, Facts] = {}
    for lo, hi in evidence_bounds(*(near or (None, None))):
        missing = [ref for ref in wanted if ref not in found]
        if not missing:
            break
        found |= _lookup(con, missing, lo, hi)
    return found


def _lookup(con: duckdb.DuckDBPyConnection, refs: Sequence[str], lo: datetime, hi: datetime) -> dict[str, Facts]:
    keys: dict[str, list[str]] = {table: [] for table in _LOOKUP_TABLES}
    for ref in refs:
        table, _, key = ref.partition(":")
        keys[table].append(key)
    if not any(keys.values()):
        return {}
    rows = con.execute(
        _LOOKUP,
        {
            "activity_ids": keys["image_activity"],
            "event_ids": keys["tag_history"],
            "line_keys": keys["access_log"],
            "lo": lo,
            "hi": hi,
        },
    ).fetchall()
    return {str(row[0]): _facts(row[1:]) for row in rows}


def earliest(refs: Iterable[str], known: dict[str, Facts]) -> Facts:
    """The earliest action among ``refs`` that ``known`` holds; empty facts if none."""
    candidates = [known[ref] for ref in refs if ref in known]
    if not candidates:
        return Facts()
    return min(candidates, key=lambda facts: (facts.event_at is None, facts.event_at or _NEVER))
