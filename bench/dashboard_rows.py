"""The dashboard's queries that read the daily rollups, as they were before them, reading every row of the range
(the commit before the rollups, verbatim): the baseline ``dashboard_timings.py --rows-baseline`` times beside them
in the same run, and what tests/dashboard/test_daily_queries.py holds them equal to."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import duckdb
import pandas as pd

from regaudit.dashboard.queries import activity, identity
from regaudit.dashboard.queries.common import (
    ANONYMOUS,
    BUCKET,
    BUCKET_START,
    IDENTITY,
    TimeRange,
    bucket_bindings,
    frame,
)

#: the queries as they read every row before the rollups (the last commit before them), verbatim
REFERENCE = {
    "activity_over_time": f"""
        WITH grouped AS (
            SELECT {BUCKET} AS bucket, actor, counted_as, count(*) AS n, sum(blob_bytes) AS bytes
            FROM counted_activity WHERE occurred_at >= $start AND occurred_at < $end
            GROUP BY ALL
        )
        SELECT CASE WHEN grouping(bucket) = 0 THEN {BUCKET_START} END AS bucket_at,
               coalesce(sum(n) FILTER (WHERE counted_as = 'push'), 0) AS pushes_count,
               coalesce(sum(n) FILTER (WHERE counted_as = 'pull'), 0) AS pulls_count,
               coalesce(sum(n) FILTER (WHERE counted_as = 'delete'), 0) AS deletes_count,
               coalesce(sum(n) FILTER (WHERE counted_as = 'refused'), 0) AS refused_count,
               count(DISTINCT actor) AS identities_count,
               coalesce(sum(bytes) FILTER (WHERE counted_as = 'pull'), 0) AS pulled_bytes,
               coalesce(sum(bytes) FILTER (WHERE counted_as = 'push'), 0) AS pushed_bytes
        FROM grouped GROUP BY GROUPING SETS ((bucket), ()) ORDER BY grouping(bucket), bucket
    """,  # noqa: S608
    "top_lists": f"""
        WITH grouped AS (
            SELECT CASE WHEN grouping(repository) = 0 THEN 'repository' ELSE 'identity' END AS list,
                   coalesce(repository, identity) AS name, count(*) AS actions_count,
                   count(*) FILTER (WHERE counted_as = 'pull') AS pulls_count,
                   count(*) FILTER (WHERE counted_as = 'push') AS pushes_count,
                   count(*) FILTER (WHERE counted_as = 'refused') AS refused_count
            FROM (SELECT nullif(repository, '') AS repository, {IDENTITY} AS identity, counted_as
                  FROM counted_activity WHERE occurred_at >= $start AND occurred_at < $end)
            GROUP BY GROUPING SETS ((repository), (identity))
            HAVING grouping(repository) = 1 OR repository IS NOT NULL
        )
        SELECT *, count(*) OVER (PARTITION BY list) AS listed_count FROM grouped
        QUALIFY row_number() OVER (
            PARTITION BY list
            ORDER BY CASE list WHEN 'repository' THEN pulls_count ELSE actions_count END DESC,
                     pushes_count DESC, name
        ) <= $limit
        ORDER BY list DESC, CASE list WHEN 'repository' THEN pulls_count ELSE actions_count END DESC,
                 pushes_count DESC, name
    """,  # noqa: S608
    "registries": """
        WITH kinds AS (SELECT registry, min(registry_kind) AS registry_kind FROM registry_events GROUP BY registry)
        SELECT a.registry, k.registry_kind,
               count(*) FILTER (WHERE counted_as = 'push') AS pushes_count,
               count(*) FILTER (WHERE counted_as = 'pull') AS pulls_count,
               count(*) FILTER (WHERE counted_as = 'delete') AS deletes_count,
               count(*) FILTER (WHERE counted_as = 'refused') AS refused_count,
               count(DISTINCT actor) AS identities_count,
               count(DISTINCT nullif(repository, '')) AS repositories_count,
               max(occurred_at) AS last_activity_at
        FROM counted_activity AS a LEFT JOIN kinds AS k ON k.registry = a.registry
        WHERE occurred_at >= $start AND occurred_at < $end
        GROUP BY ALL ORDER BY a.registry
    """,
    "repository_series": f"""
        SELECT {BUCKET_START} AS bucket_at,
               count(*) FILTER (WHERE counted_as = 'push') AS pushes_count,
               count(*) FILTER (WHERE counted_as = 'delete') AS deletes_count,
               count(*) FILTER (WHERE counted_as = 'pull') AS pulls_count
        FROM (SELECT {BUCKET} AS bucket, counted_as FROM counted_activity
              WHERE repository = $repository AND occurred_at >= $start AND occurred_at < $end)
        GROUP BY bucket ORDER BY bucket
    """,  # noqa: S608
    "repositories": """
        SELECT repository, max(last_at) AS last_at FROM (
            SELECT repository, max(occurred_at) AS last_at FROM image_activity
            WHERE repository <> '' GROUP BY repository
            UNION ALL
            SELECT repository, max(valid_from_at) FROM tag_history GROUP BY repository
        ) GROUP BY repository ORDER BY repository
    """,
    "identities": f"""
        SELECT identity, max(last_at) AS last_at FROM (
            SELECT coalesce(identity, '{ANONYMOUS}') AS identity, max(occurred_at) AS last_at
            FROM identified_activity GROUP BY ALL
            UNION ALL
            SELECT name, NULL FROM credentials
        ) GROUP BY identity ORDER BY identity
    """,  # noqa: S608
    "feed_freshness": """
        SELECT 'notifications' AS feed, registry AS name, max(event_at) AS last_event_at,
               max(received_at) AS last_received_at, count(*) AS rows_count
        FROM registry_events GROUP BY registry
        UNION ALL
        SELECT 'access log', coalesce(log_host, '(unknown host)'), max(request_at), max(received_at), count(*)
        FROM access_log GROUP BY ALL
        ORDER BY feed DESC, name
    """,
}


def feed_freshness(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return frame(con, REFERENCE["feed_freshness"])


def repositories(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return frame(con, REFERENCE["repositories"])


def identities(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return frame(con, REFERENCE["identities"])


def activity_over_time(con: duckdb.DuckDBPyConnection, time: TimeRange, bucket: timedelta) -> pd.DataFrame:
    return frame(con, REFERENCE["activity_over_time"], {**time.bindings(), **bucket_bindings(bucket)})


def top_lists(con: duckdb.DuckDBPyConnection, time: TimeRange, limit: int = 10) -> pd.DataFrame:
    return frame(con, REFERENCE["top_lists"], {**time.bindings(), "limit": limit})


def registries(con: duckdb.DuckDBPyConnection, time: TimeRange) -> pd.DataFrame:
    return frame(con, REFERENCE["registries"], time.bindings())


def repository_series(
    con: duckdb.DuckDBPyConnection, repository: str, time: TimeRange, bucket: timedelta
) -> pd.DataFrame:
    params: dict[str, Any] = {**time.bindings(), **bucket_bindings(bucket), "repository": repository}
    return frame(con, REFERENCE["repository_series"], params)


#: The queries that read ``ingest/page_rollups.sql``'s rollups (schema 14), as they read every row before them (the
#: last commit before them, verbatim; ``identity_user_agents`` ordered by user agent too on a tie of its newest time,
#: which the page's query now does: a tie left the order to the engine). ``{condition}`` is the identity's
#: (``identity.identity_condition``).
PAGE_REFERENCE = {
    "identity_names": f"""
        SELECT a.registry, k.registry_kind, {IDENTITY} AS raw_identity, any_value(a.person_name) AS display_name,
               count(*) AS actions_count, min(a.occurred_at) AS first_at, max(a.occurred_at) AS last_at
        FROM (SELECT * FROM identified_activity WHERE {{condition}}) AS a
        LEFT JOIN {identity.REGISTRY_KINDS} AS k ON k.registry = a.registry
        GROUP BY ALL ORDER BY last_at DESC, raw_identity LIMIT 1000
    """,  # noqa: S608
    "identity_summary": """
        SELECT min(occurred_at) AS first_at, max(occurred_at) AS last_at,
               count(*) FILTER (WHERE counted_as = 'pull') AS pulls_count,
               count(*) FILTER (WHERE counted_as = 'push') AS pushes_count,
               count(*) FILTER (WHERE counted_as = 'delete') AS deletes_count,
               count(*) FILTER (WHERE counted_as = 'refused') AS refused_count,
               count(DISTINCT repository) FILTER (WHERE repository <> '') AS repositories_count,
               count(DISTINCT client_addr) AS addresses_count,
               count(DISTINCT agent) AS user_agents_count,
               coalesce(sum(blob_bytes) FILTER (WHERE counted_as = 'pull'), 0) AS pulled_bytes
        FROM (SELECT occurred_at, repository, client_addr, blob_bytes, counted_as,
                     coalesce(user_agent, proxy_user_agent) AS agent
              FROM identified_activity WHERE {condition})
    """,
    "identity_repositories": f"""
        SELECT a.repository, a.registry, k.registry_kind, {IDENTITY} AS raw_identity,
               count(*) FILTER (WHERE counted_as = 'pull') AS pulls_count,
               count(*) FILTER (WHERE counted_as = 'push') AS pushes_count,
               count(*) FILTER (WHERE counted_as = 'delete') AS deletes_count,
               count(*) FILTER (WHERE counted_as = 'refused') AS refused_count,
               min(occurred_at) AS first_at, max(occurred_at) AS last_at
        FROM (SELECT * FROM identified_activity WHERE {{condition}} AND repository <> '') AS a
        LEFT JOIN {identity.REGISTRY_KINDS} AS k ON k.registry = a.registry
        GROUP BY ALL ORDER BY last_at DESC, repository, registry, raw_identity LIMIT 1000
    """,  # noqa: S608
    "identity_addresses": """
        SELECT client_addr, count(*) AS actions_count,
               count(*) FILTER (WHERE counted_as = 'refused') AS refused_count,
               min(occurred_at) AS first_at, max(occurred_at) AS last_at
        FROM identified_activity WHERE {condition}
        GROUP BY client_addr ORDER BY last_at DESC, client_addr LIMIT 1000
    """,
    "identity_user_agents": """
        SELECT coalesce(user_agent, proxy_user_agent) AS user_agent, count(*) AS actions_count,
               min(occurred_at) AS first_at, max(occurred_at) AS last_at
        FROM identified_activity WHERE {condition}
        GROUP BY ALL ORDER BY last_at DESC, user_agent LIMIT 1000
    """,
    "repository_summary": """
        WITH grouped AS (
            SELECT actor, counted_as, count(*) AS n, min(occurred_at) AS first_at, max(occurred_at) AS last_at
            FROM counted_activity WHERE repository = $repository GROUP BY ALL
        )
        SELECT coalesce(sum(n) FILTER (WHERE counted_as = 'pull'), 0) AS pulls_count,
               coalesce(sum(n) FILTER (WHERE counted_as = 'push'), 0) AS pushes_count,
               coalesce(sum(n) FILTER (WHERE counted_as = 'delete'), 0) AS deletes_count,
               coalesce(sum(n) FILTER (WHERE counted_as = 'refused'), 0) AS refused_count,
               count(DISTINCT actor) AS identities_count, min(first_at) AS first_at, max(last_at) AS last_at,
               (SELECT count(DISTINCT tag) FROM tag_history WHERE repository = $repository) AS tags_count,
               (SELECT count(*) FROM tag_history WHERE repository = $repository AND is_overwrite)
                   AS overwrites_count
        FROM grouped
    """,
    "digest_pullers": f"""
        WITH grouped AS (
            SELECT digest, coalesce(actor, '{ANONYMOUS}') AS identity, tag, count(*) AS n,
                   min(occurred_at) AS first_at, max(occurred_at) AS last_at
            FROM counted_activity WHERE repository = $repository AND counted_as = 'pull'
            GROUP BY ALL
        )
        SELECT digest, identity, sum(n) AS pulls_count, string_agg(tag, ', ' ORDER BY tag) AS tags,
               min(first_at) AS first_at, max(last_at) AS last_at
        FROM grouped GROUP BY digest, identity ORDER BY last_at DESC, digest, identity LIMIT $limit
    """,  # noqa: S608
    "activity_count": """
        SELECT count(*) AS rows_count, count(DISTINCT actor) AS identities_count,
               count(DISTINCT repository) AS repositories_count
        FROM image_activity WHERE {where}
    """,
    "activity_page": f"""
        WITH oldest AS (
            SELECT list_min(max(occurred_at, $limit + $offset)) AS occurred_at FROM image_activity WHERE {{where}}
        ),
        page AS (
            SELECT activity_id, occurred_at FROM image_activity
            WHERE {{where}} AND occurred_at >= (SELECT occurred_at FROM oldest)
            ORDER BY occurred_at DESC, activity_id LIMIT $limit OFFSET $offset
        )
        SELECT {activity.COLUMNS} FROM image_activity JOIN page USING (activity_id, occurred_at)
        ORDER BY occurred_at DESC, activity_id
    """,  # noqa: S608
    "scope_count": f"""
        SELECT count(*) AS rows_count, count(DISTINCT actor) AS identities_count,
               count(DISTINCT repository) AS repositories_count
        FROM image_activity
        WHERE occurred_at >= $start AND occurred_at < $end
          AND (len($repositories) = 0 OR list_bool_or(list_transform($repositories, lambda p: repository GLOB p)))
          AND (len($identities) = 0 OR list_bool_or(list_transform($identities, lambda p: {IDENTITY} GLOB p)))
          AND (len($actions) = 0 OR list_contains($actions, action))
    """,  # noqa: S608
}


def _identity_query(name: str) -> Callable[[duckdb.DuckDBPyConnection, str], pd.DataFrame]:
    def query(con: duckdb.DuckDBPyConnection, who: str) -> pd.DataFrame:
        condition, params = identity.identity_condition(who)
        return frame(con, PAGE_REFERENCE[name].format(condition=condition), params)

    query.__name__ = name
    return query


identity_names = _identity_query("identity_names")
identity_summary = _identity_query("identity_summary")
identity_repositories = _identity_query("identity_repositories")
identity_addresses = _identity_query("identity_addresses")
identity_user_agents = _identity_query("identity_user_agents")


def repository_summary(con: duckdb.DuckDBPyConnection, repository: str) -> pd.DataFrame:
    return frame(con, PAGE_REFERENCE["repository_summary"], {"repository": repository})


def digest_pullers(con: duckdb.DuckDBPyConnection, repository: str, limit: int = 1000) -> pd.DataFrame:
    return frame(con, PAGE_REFERENCE["digest_pullers"], {"repository": repository, "limit": limit})


def activity_count(con: duckdb.DuckDBPyConnection, filters: activity.ActivityFilter) -> pd.DataFrame:
    where, params = filters.where()
    return frame(con, PAGE_REFERENCE["activity_count"].format(where=where), params)


def activity_page(
    con: duckdb.DuckDBPyConnection, filters: activity.ActivityFilter, limit: int, offset: int = 0
) -> pd.DataFrame:
    where, params = filters.where()
    sql = PAGE_REFERENCE["activity_page"].format(where=where)
    return frame(con, sql, {**params, "limit": limit, "offset": offset})


def scope_count(
    con: duckdb.DuckDBPyConnection,
    time: TimeRange,
    repositories: tuple[str, ...] = (),
    identities: tuple[str, ...] = (),
    actions: tuple[str, ...] = (),
) -> pd.DataFrame:
    params = {
        **time.bindings(),
        "repositories": list(repositories),
        "identities": list(identities),
        "actions": list(actions),
    }
    return frame(con, PAGE_REFERENCE["scope_count"], params)
