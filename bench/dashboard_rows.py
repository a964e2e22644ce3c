"""The dashboard's queries that read the daily rollups, as they were before them, reading every row of the range
(the commit before the rollups, verbatim): the baseline ``dashboard_timings.py --rows-baseline`` times beside them
in the same run, and what tests/dashboard/test_daily_queries.py holds them equal to."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import duckdb
import pandas as pd

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
