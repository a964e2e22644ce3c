"""Who pushed or pulled what: the activity explorer's page of rows and its count, and what a report of a period
and scope would hold.

Filters (all optional but the time range): repository as a glob (``team/*``; DuckDB ``GLOB``, so ``%`` and
quotes are plain characters), identity (exact; ``(anonymous)`` for rows without one), actions, client address
(exact, or a prefix when it ends in ``.`` or ``:``), and a tag (exact) or digest (exact or a prefix). HEAD
checks are left out unless asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb
import pandas as pd

from regaudit.dashboard.queries.common import IDENTITY, TimeRange, clean, frame, identity_condition

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
        conditions = ["occurred_at >= $start", "occurred_at < $end"]
        params: dict[str, Any] = self.time.bindings()
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
            if reference.startswith("sha256:"):
                conditions.append("starts_with(digest, $reference)")
            else:
                conditions.append("(tag = $reference OR digest = $reference)")
            params["reference"] = reference
        if not self.include_checks:
            conditions.append("NOT is_check")
        return " AND ".join(conditions), params


def activity_page(con: duckdb.DuckDBPyConnection, filters: ActivityFilter, limit: int, offset: int = 0) -> pd.DataFrame:
    """One page of matching rows, newest first. The oldest time on or before the page is found first from the
    time column alone (a top-N of integers); the page's keys are then sorted only among rows at least that recent,
    and its rows fetched by key (the join's bounds prune the scan), so a deep page costs little more than the
    first."""
    where, params = filters.where()
    sql = f"""
        WITH oldest AS (
            SELECT list_min(max(occurred_at, $limit + $offset)) AS occurred_at FROM image_activity WHERE {where}
        ),
        page AS (
            SELECT activity_id, occurred_at FROM image_activity
            WHERE {where} AND occurred_at >= (SELECT occurred_at FROM oldest)
            ORDER BY occurred_at DESC, activity_id LIMIT $limit OFFSET $offset
        )
        SELECT {COLUMNS} FROM image_activity JOIN page USING (activity_id, occurred_at)
        ORDER BY occurred_at DESC, activity_id
    """  # noqa: S608 - constant fragments; every value is a bound parameter
    return frame(con, sql, {**params, "limit": limit, "offset": offset})


def activity_count(con: duckdb.DuckDBPyConnection, filters: ActivityFilter) -> pd.DataFrame:
    """How many rows match, and how many distinct identities and repositories they involve."""
    where, params = filters.where()
    sql = f"""
        SELECT count(*) AS rows_count, count(DISTINCT actor) AS identities_count,
               count(DISTINCT repository) AS repositories_count
        FROM image_activity WHERE {where}
    """  # noqa: S608 - constant fragments; every value is a bound parameter
    return frame(con, sql, params)


def scope_count(
    con: duckdb.DuckDBPyConnection,
    time: TimeRange,
    repositories: tuple[str, ...] = (),
    identities: tuple[str, ...] = (),
    actions: tuple[str, ...] = (),
) -> pd.DataFrame:
    """What a compliance report of this period and scope holds (every row, HEAD checks included): repository
    and identity globs as the reports engine matches them, any of several; empty lists match all."""
    sql = f"""
        SELECT count(*) AS rows_count, count(DISTINCT actor) AS identities_count,
               count(DISTINCT repository) AS repositories_count
        FROM image_activity
        WHERE occurred_at >= $start AND occurred_at < $end
          AND (len($repositories) = 0 OR list_bool_or(list_transform($repositories, lambda p: repository GLOB p)))
          AND (len($identities) = 0 OR list_bool_or(list_transform($identities, lambda p: {IDENTITY} GLOB p)))
          AND (len($actions) = 0 OR list_contains($actions, action))
    """  # noqa: S608 - constant fragments; every value is a bound parameter
    params = {
        **time.bindings(),
        "repositories": list(repositories),
        "identities": list(identities),
        "actions": list(actions),
    }
    return frame(con, sql, params)
