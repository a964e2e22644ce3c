"""Who pushed or pulled what: the activity explorer's page of rows and its count (what a report of a period and
scope would hold is counted the same way, in ``reports``).

Filters (all optional but the time range): repository as a glob (``team/*``; DuckDB ``GLOB``, so ``%`` and
quotes are plain characters), identity (exact; ``(anonymous)`` for rows without one), actions, client address
(exact, or a prefix when it ends in ``.`` or ``:``), and a tag (exact) or digest (exact or a prefix). HEAD
checks are left out unless asked for.

Counts read the daily rollup per identity and repository (``daily_identity_repositories``, ``ingest/page_rollups.sql``)
for a range's whole days, and the rows for its ragged ends (as ``daily`` does), whenever the filters are all kept by
it (repository, identity, actions, HEAD checks) and name an identity or repository: one identity's or repository's
rows are a few rollup rows a day. Each settled day of it is in order by identity, so a filter on an identity reads the
few row groups that hold it; a filter on a repository glob without an identity reads its twin in order by repository
instead (``daily_repository_identities``, ``ingest/repository_rollups.sql``). Unfiltered, that rollup is nearly as
long as the rows (nearly every row is its own key): counts that filter on nothing but actions and HEAD checks read
the daily rollups of actions per identity and per repository instead (``daily_identity_actions``,
``daily_repository_actions``, ``ingest/action_rollups.sql``, a few thousand rows a day), again with the rows of the
range's ragged ends. A digest or a digest's prefix (a reference starting with ``sha256:``, without a client address)
is counted from the rollup per digest (``daily_digest_activity``, ``ingest/digest_rollups.sql``), each settled day in
order by digest, with the digest as a range of the raw column: rows are stored in time order and digests are random,
so no row group of the rows is skipped for one. A page of rows with such filters is first bounded by the rollup to
the days that hold it, and a digest's page to the times of the rollup keys it can come from (``digest_windows``);
any page is first looked for among the range's newest rows (``recent_span``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import duckdb
import pandas as pd

from regaudit.dashboard.queries.common import IDENTITY, TimeRange, clean, frame, identity_condition, past_prefix
from regaudit.dashboard.queries.daily import day_bindings
from regaudit.dashboard.queries.digest_windows import row_windows

ACTIONS = ("pull", "push", "delete", "mount", "login")

#: columns of the explorer and its CSV download, in order
COLUMNS = f"""
    occurred_at, action, {IDENTITY} AS identity, repository, tag, digest, client_addr, user_agent,
    blob_bytes, proxy_status, is_check, audit_gap, blob_only, source, registry, activity_id
"""


@dataclass(frozen=True)
class ActivityFilter:
    """What the explorer and the reports page filter on; every value is bound, never spliced."""

    time: TimeRange
    repository: str | None = None
    identity: str | None = None
    actions: tuple[str, ...] = field(default=())
    address: str | None = None
    reference: str | None = None
    include_checks: bool = False

    def where(self) -> tuple[str, dict[str, Any]]:
        """The WHERE clause (constant fragments only) and its bindings."""
        condition, params = self.row_filter()
        return f"occurred_at >= $start AND occurred_at < $end AND {condition}", {**self.time.bindings(), **params}

    def rolled_up(self) -> bool:
        """Whether a rollup keeps every column filtered on, and a digest, an identity or a repository narrows it
        (unfiltered, it is nearly as long as the rows); a tag is in no rollup."""
        if clean(self.address) is not None:
            return False
        if (reference := clean(self.reference)) is not None:
            return reference.startswith(DIGEST_PREFIX)
        return clean(self.repository) is not None or clean(self.identity) is not None

    def rollup(self) -> str:
        """The rollup a rolled-up count reads: the one per digest for a digest (``BY_DIGEST``), the one in order by
        repository for a repository without an identity, else the one in order by identity (``BY_IDENTITY``)."""
        if clean(self.reference) is not None:
            return BY_DIGEST
        by_repository = clean(self.repository) is not None and clean(self.identity) is None
        return BY_REPOSITORY if by_repository else BY_IDENTITY

    def dense(self) -> bool:
        """Whether nothing but actions and HEAD checks is filtered on: most rows of any stretch of time match, so
        the newest few hours of a range hold the pages a user reads (``recent_span``)."""
        narrowing = (self.repository, self.identity, self.address, self.reference)
        return all(clean(value) is None for value in narrowing)

    def row_filter(self) -> tuple[str, dict[str, Any]]:
        """The conditions on anything but time (constant fragments only; TRUE for none) and their bindings."""
        conditions = ["TRUE"]
        params: dict[str, Any] = {}
        if repository := clean(self.repository):
            conditions.append("repository GLOB $repository")
            params["repository"] = repository
        if identity := clean(self.identity):
            condition, bound = identity_condition(identity)
            conditions.append(condition)
            params.update(bound)
        if self.actions:
            conditions.append("list_contains($actions, action)")
            params["actions"] = list(self.actions)
        if address := clean(self.address):
            if address.endswith((".", ":")):
                conditions.append("starts_with(client_addr, $address)")
            else:
                conditions.append("client_addr = $address")
            params["address"] = address
        if reference := clean(self.reference):
            if reference.startswith(DIGEST_PREFIX):  # also as a range of the raw column, for row groups' min/max
                conditions.append("starts_with(digest, $reference) AND digest >= $reference AND digest < $past")
                params["past"] = past_prefix(reference)
            else:
                conditions.append("(tag = $reference OR digest = $reference)")
            params["reference"] = reference
        if not self.include_checks:
            conditions.append("NOT is_check")
        return " AND ".join(conditions), params


#: the rollup per identity and repository, each settled day in order by (identity, repository), its twin in order by
#: (repository, identity), and the rollup per digest in order by digest (``ingest/digest_rollups.sql``): a filter on
#: the first column of the order reads only the row groups that hold it
BY_IDENTITY, BY_REPOSITORY = "daily_identity_repositories", "daily_repository_identities"
BY_DIGEST = "daily_digest_activity"
#: how a reference that is a digest or a digest's prefix starts (else it is a tag, or a digest spelled whole)
DIGEST_PREFIX = "sha256:"


#: the range's ragged ends, ``[start, days_start)`` and ``[days_end, end)``: one row per activity row
_ENDS = """
    SELECT actor, repository, 1 FROM image_activity
    WHERE occurred_at >= $start AND occurred_at < $days_start AND {condition}
    UNION ALL
    SELECT actor, repository, 1 FROM image_activity
    WHERE occurred_at >= $days_end AND occurred_at < $end AND {condition}
"""
#: the filtered rows over a range: the rollup's rows for its whole days, and the ends
DAYS = f"""
    SELECT actor, repository, actions_count FROM {{rollup}}
    WHERE day_at >= $days_start AND day_at < $days_end AND {{condition}}
    UNION ALL {_ENDS}
"""  # noqa: S608 - constant fragments
#: the same for filters on nothing but actions and HEAD checks: rows and repositories from the rollup per repository,
#: identities from the one per identity (its rows add no count), and the ends
_ACTION_DAYS = f"""
    SELECT NULL AS actor, repository, actions_count FROM daily_repository_actions
    WHERE day_at >= $days_start AND day_at < $days_end AND {{condition}}
    UNION ALL
    SELECT actor, NULL, 0 FROM daily_identity_actions
    WHERE day_at >= $days_start AND day_at < $days_end AND {{condition}}
    UNION ALL {_ENDS}
"""  # noqa: S608 - constant fragments
#: what ``activity_count`` and ``scope_count`` say of the rows (or rollup rows) in ``{rows}``
COUNTS = """
    SELECT coalesce(sum(actions_count), 0)::BIGINT AS rows_count, count(DISTINCT actor) AS identities_count,
           count(DISTINCT repository) AS repositories_count
    FROM ({rows})
"""


#: DuckDB's ``max(x, n)`` takes n below this
TOP_N_LIMIT = 1_000_000


def activity_page(con: duckdb.DuckDBPyConnection, filters: ActivityFilter, limit: int, offset: int = 0) -> pd.DataFrame:
    """One page of matching rows, newest first. The oldest time on or before the page is found first from the
    time column alone (a top-N of integers); the page's keys are then sorted only among rows at least that recent,
    and its rows fetched by key (the join's bounds prune the scan), so a deep page costs little more than the
    first. The page is looked for among the range's newest rows first (``recent_span``: a busy repository's
    first pages lie in its last hours); else, with filters the rollup keeps, only the days that hold the page are
    read (``page_span``), and of a digest only the times of its rollup keys that hold it (``row_windows``)."""
    windows: tuple[str, dict[str, Any]] = ("TRUE", {})
    if recent := recent_span(con, filters, limit + offset, reach=None if filters.dense() else _REACH):
        filters = replace(filters, time=recent)
    elif filters.rolled_up():
        span = page_span(con, filters, limit, offset)
        filters, offset = replace(filters, time=TimeRange(span.start, span.end)), offset - span.skipped
        if filters.rollup() == BY_DIGEST:
            windows = row_windows(con, filters, limit + offset)
    where, params = filters.where()
    where, params = f"{where} AND {windows[0]}", {**params, **windows[1]}
    # DuckDB's top-N max(x, n) takes n below a million: a page deeper than that sorts without the bound; a digest's
    # windows bound the rows already, and its rows are fetched under the same conditions (so in the same row groups)
    bounded = limit + offset < TOP_N_LIMIT and windows[0] == "TRUE"
    oldest = "occurred_at >= (SELECT occurred_at FROM oldest)" if bounded else "TRUE"
    fetched = "TRUE" if windows[0] == "TRUE" else where
    sql = f"""
        WITH oldest AS (
            SELECT list_min(max(occurred_at, least($limit + $offset, {TOP_N_LIMIT - 1}))) AS occurred_at
            FROM image_activity WHERE {where}
        ),
        page AS (
            SELECT activity_id, occurred_at FROM image_activity
            WHERE {where} AND {oldest}
            ORDER BY occurred_at DESC, activity_id LIMIT $limit OFFSET $offset
        )
        SELECT {COLUMNS} FROM image_activity JOIN page USING (activity_id, occurred_at) WHERE {fetched}
        ORDER BY occurred_at DESC, activity_id
    """  # noqa: S608 - constant fragments; every value is a bound parameter
    return frame(con, sql, {**params, "limit": limit, "offset": offset})


def activity_count(con: duckdb.DuckDBPyConnection, filters: ActivityFilter) -> pd.DataFrame:
    """How many rows match, and how many distinct identities and repositories they involve: from the rollup
    where the filters allow (``rolled_up``), from the rollups of actions where they filter on nothing else
    (``dense``)."""
    if filters.rolled_up() or filters.dense():
        condition, params = filters.row_filter()
        rows = (DAYS if filters.rolled_up() else _ACTION_DAYS).format(condition=condition, rollup=filters.rollup())
        return frame(con, COUNTS.format(rows=rows), {**day_bindings(filters.time), **params})
    where, params = filters.where()
    sql = f"""
        SELECT count(*) AS rows_count, count(DISTINCT actor) AS identities_count,
               count(DISTINCT repository) AS repositories_count
        FROM image_activity WHERE {where}
    """  # noqa: S608 - constant fragments; every value is a bound parameter
    return frame(con, sql, params)


@dataclass(frozen=True)
class PageSpan:
    """The part ``[start, end)`` of a range that holds a page of rows, and how many matching rows are newer than
    ``end`` (those the page's offset skips)."""

    start: datetime
    end: datetime
    skipped: int


def page_span(con: duckdb.DuckDBPyConnection, filters: ActivityFilter, limit: int, offset: int) -> PageSpan:
    """Where the rows ``offset`` to ``offset + limit`` (newest first) of filters the rollup keeps lie: the range is
    cut into its ragged end (counted from the rows) and whole days (from the rollup), newest first; the page starts
    at the newest of them whose rows, with the newer ones', reach its end (else at the range's start), and ends
    where the newer ones hold no more than its offset. Rows of one time fall into one part, so the order within
    the span is the order within the range."""
    condition, params = filters.row_filter()
    sql = f"""
        WITH parts AS (
            SELECT $days_end AS since, count(*) AS rows_count FROM image_activity
            WHERE occurred_at >= $days_end AND occurred_at < $end AND {condition}
            UNION ALL
            SELECT day_at, sum(actions_count) FROM {filters.rollup()}
            WHERE day_at >= $days_start AND day_at < $days_end AND {condition} GROUP BY day_at
        ),
        seen AS (SELECT since, sum(rows_count) OVER (ORDER BY since DESC) AS through FROM parts)
        SELECT (SELECT max(since) FROM seen WHERE through >= $rows),
               (SELECT min(since) FROM seen WHERE through <= $offset),
               (SELECT coalesce(max(through), 0) FROM seen WHERE through <= $offset)
    """  # noqa: S608 - constant fragments; every value is a bound parameter
    bound = {name: value for name, value in day_bindings(filters.time).items() if name != "start"}
    found = con.execute(sql, {**bound, **params, "rows": limit + offset, "offset": offset}).fetchall()[0]
    since: datetime | None = found[0]
    until: datetime | None = found[1]
    start, end = filters.time.start, filters.time.end
    if since is not None and start < since < end:  # else too few rows after the range's start, or none asked for
        start = since
    if until is None or not start < until <= end:  # no part newer than the page: nothing skipped
        return PageSpan(start, end, 0)
    return PageSpan(start, until, int(found[2]))


#: the newest stretch of a range ``recent_span`` counts first, how much wider each next one is, and how far back
#: it looks when the filters narrow the rows (else a stretch of a few rows could grow to the whole range)
_FIRST_STRETCH = timedelta(hours=1)
_WIDER = 4
_REACH = timedelta(hours=16)


def recent_span(
    con: duckdb.DuckDBPyConnection, filters: ActivityFilter, rows: int, reach: timedelta | None = None
) -> TimeRange | None:
    """The newest part ``[since, end)`` of the range that holds at least ``rows`` matching rows: stretches back
    from the end, each ``_WIDER`` times the last and none past ``reach``, are counted until one holds them; the
    whole range if none does and nothing bounds the reach, else None. Every row older than ``since`` sorts after
    every row within it, so the first ``rows`` rows of the range, newest first, are those of the part. Time is
    the rows' storage order, so each count reads only its stretch's row groups: at 100M events the first page of
    an unfiltered month, or of one busy repository, no longer reads a month of rows or rollup rows."""
    condition, params = filters.row_filter()
    sql = f"""
        SELECT count(*) FROM image_activity WHERE occurred_at >= $since AND occurred_at < $end AND {condition}
    """  # noqa: S608 - constant fragments; every value is a bound parameter
    start, end = filters.time.start, filters.time.end
    stretch = _FIRST_STRETCH
    while end - stretch > start and (reach is None or stretch <= reach):
        found = con.execute(sql, {**params, "since": end - stretch, "end": end}).fetchall()[0][0]
        if found >= rows:
            return TimeRange(end - stretch, end)
        stretch *= _WIDER
    return filters.time if reach is None else None
