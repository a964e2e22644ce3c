"""The overview: activity over time and in total, each registry side by side, the busiest repositories and
identities, open findings by severity, and the health of the ingest (last batch and delay per source, newest event
per feed, each registry's notification lag, dead letters and the records the store write isolated).
"""

from __future__ import annotations

from datetime import timedelta

import duckdb
import pandas as pd

from regaudit.dashboard.queries.common import (
    ANONYMOUS,
    BUCKET,
    BUCKET_START,
    SEVERITY_RANK,
    TimeRange,
    bucket_bindings,
    frame,
)
from regaudit.dashboard.queries.daily import day_bindings, identity_days, repository_days
from regaudit.ingest.sinks.isolation import ISOLATED_REASON


def activity_over_time(con: duckdb.DuckDBPyConnection, time: TimeRange, bucket: timedelta) -> pd.DataFrame:
    """Per time bucket, and in total (the row whose ``bucket_at`` is null): pushes, pulls, deletes, refusals,
    distinct identities, bytes pulled and pushed. The range's whole days come from the daily rollup per identity
    (``daily``); rows are first summed per bucket and identity, so the grouping sets that count distinct identities
    per bucket and in total read one row per identity and bucket (at 10M events, a month: 2.5 times faster than
    grouping by what the rows count as too)."""
    sums = ", ".join(
        f"sum({column}) FILTER (WHERE counted_as = {kind!r}) AS {name}"
        for column, kind, name in (
            ("actions_count", "push", "pushes"),
            ("actions_count", "pull", "pulls"),
            ("actions_count", "delete", "deletes"),
            ("actions_count", "refused", "refusals"),
            ("blob_bytes", "pull", "pulled"),
            ("blob_bytes", "push", "pushed"),
        )
    )
    sql = f"""
        WITH per_identity AS (
            SELECT {BUCKET} AS bucket, actor, {sums} FROM ({identity_days()}) GROUP BY ALL
        )
        SELECT CASE WHEN grouping(bucket) = 0 THEN {BUCKET_START} END AS bucket_at,
               coalesce(sum(pushes), 0) AS pushes_count,
               coalesce(sum(pulls), 0) AS pulls_count,
               coalesce(sum(deletes), 0) AS deletes_count,
               coalesce(sum(refusals), 0) AS refused_count,
               count(DISTINCT actor) AS identities_count,
               coalesce(sum(pulled), 0) AS pulled_bytes,
               coalesce(sum(pushed), 0) AS pushed_bytes
        FROM per_identity GROUP BY GROUPING SETS ((bucket), ()) ORDER BY grouping(bucket), bucket
    """  # noqa: S608 - constant fragments
    return frame(con, sql, {**day_bindings(time, bucket), **bucket_bindings(bucket)})


#: a count of rows, from rows or rollup rows (``actions_count``) alike, as the BIGINT count(*) gives
_COUNT = "coalesce(sum(actions_count) FILTER (WHERE {}), 0)::BIGINT"


def top_lists(con: duckdb.DuckDBPyConnection, time: TimeRange, limit: int = 10) -> pd.DataFrame:
    """The most pulled repositories (``list = 'repository'``) and the most active identities
    (``list = 'identity'``) of the range, from the daily rollups (``daily``); ``listed_count`` is how many of each
    were active."""
    counts = ", ".join(
        f"{_COUNT.format(condition)} AS {name}"
        for condition, name in (
            ("TRUE", "actions_count"),
            ("counted_as = 'pull'", "pulls_count"),
            ("counted_as = 'push'", "pushes_count"),
            ("counted_as = 'refused'", "refused_count"),
        )
    )
    sql = f"""
        WITH grouped AS (
            SELECT 'repository' AS list, repository AS name, {counts}
            FROM ({repository_days("repository <> ''")}) GROUP BY repository
            UNION ALL
            SELECT 'identity', coalesce(actor, '{ANONYMOUS}'), {counts}
            FROM ({identity_days()}) GROUP BY coalesce(actor, '{ANONYMOUS}')
        )
        SELECT *, count(*) OVER (PARTITION BY list) AS listed_count FROM grouped
        QUALIFY row_number() OVER (
            PARTITION BY list
            ORDER BY CASE list WHEN 'repository' THEN pulls_count ELSE actions_count END DESC,
                     pushes_count DESC, name
        ) <= $limit
        ORDER BY list DESC, CASE list WHEN 'repository' THEN pulls_count ELSE actions_count END DESC,
                 pushes_count DESC, name
    """  # noqa: S608 - constant fragments
    return frame(con, sql, {**day_bindings(time), "limit": limit})


def registries(con: duckdb.DuckDBPyConnection, time: TimeRange) -> pd.DataFrame:
    """Each registry instance side by side for the range, whatever its kind (``registry_kind``: distribution,
    harbor...): pushes, pulls, deletes, refusals, identities and repositories, and its newest activity. Counted
    from the daily rollups (``daily``) like the totals, so a Harbor instance and a Distribution registry compare as
    equals; what a source does not record (Harbor's bytes, refusals) counts as nothing, never as an estimate."""
    counts = ", ".join(
        f"{_COUNT.format(f'counted_as = {kind!r}')} AS {name}"
        for kind, name in (("push", "pushes_count"), ("pull", "pulls_count"), ("delete", "deletes_count"))
    )
    sql = f"""
        WITH kinds AS (
            SELECT registry, min(registry_kind) AS registry_kind FROM daily_registry_events GROUP BY registry
        ),
        repositories AS (
            SELECT registry, {counts}, {_COUNT.format("counted_as = 'refused'")} AS refused_count,
                   count(DISTINCT nullif(repository, '')) AS repositories_count, max(last_at) AS last_activity_at
            FROM ({repository_days()}) GROUP BY registry
        ),
        identities AS (
            SELECT registry, count(DISTINCT actor) AS identities_count FROM ({identity_days()}) GROUP BY registry
        )
        SELECT r.registry, k.registry_kind, r.pushes_count, r.pulls_count, r.deletes_count, r.refused_count,
               i.identities_count, r.repositories_count, r.last_activity_at
        FROM repositories AS r JOIN identities AS i USING (registry) LEFT JOIN kinds AS k ON k.registry = r.registry
        ORDER BY r.registry
    """  # noqa: S608 - constant fragments
    return frame(con, sql, day_bindings(time))


def open_findings_by_severity(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Open findings per severity, most severe first."""
    sql = f"""
        SELECT severity, count(*) AS findings_count FROM findings WHERE status = 'open'
        GROUP BY severity ORDER BY min({SEVERITY_RANK})
    """  # noqa: S608 - constant fragments
    return frame(con, sql)


def ingest_sources(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Per ingest source: its last batch, when it committed, how long its oldest record waited, and totals."""
    return frame(
        con,
        """
        WITH last AS (
            SELECT source, max(batch_id) AS batch_id, count(*) AS batches_count,
                   sum(events_count) AS events_count, sum(access_count) AS access_count,
                   sum(dead_letters_count) AS dead_letters_count
            FROM ingest_batches GROUP BY source
        ),
        received AS (
            SELECT batch_id, min(received_at) AS oldest_received_at FROM registry_events
            WHERE batch_id IN (SELECT batch_id FROM last) GROUP BY batch_id
            UNION ALL
            SELECT batch_id, min(received_at) FROM access_log
            WHERE batch_id IN (SELECT batch_id FROM last) GROUP BY batch_id
        ),
        waited AS (SELECT batch_id, min(oldest_received_at) AS oldest_received_at FROM received GROUP BY batch_id)
        SELECT l.source, b.committed_at AS last_batch_at,
               epoch(b.committed_at) - epoch(w.oldest_received_at) AS last_batch_wait_seconds,
               l.batches_count, l.events_count, l.access_count, l.dead_letters_count
        FROM last AS l
        JOIN ingest_batches AS b ON b.batch_id = l.batch_id
        LEFT JOIN waited AS w ON w.batch_id = l.batch_id
        ORDER BY last_batch_at DESC
        """,
    )


def feed_freshness(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The newest notification per registry and the newest access line per log host, from the feeds' daily
    rollups (``ingest/feed_rollups.sql``: the sealed tables summed per day)."""
    return frame(
        con,
        """
        SELECT 'notifications' AS feed, registry AS name, max(last_event_at) AS last_event_at,
               max(last_received_at) AS last_received_at, sum(events_count)::BIGINT AS rows_count
        FROM daily_registry_events GROUP BY registry
        UNION ALL
        SELECT 'access log', coalesce(log_host, '(unknown host)'), max(last_request_at), max(last_received_at),
               sum(lines_count)::BIGINT
        FROM daily_access_lines GROUP BY ALL
        ORDER BY feed DESC, name
        """,
    )


def notification_lag(con: duckdb.DuckDBPyConnection, hours: int = 6) -> pd.DataFrame:
    """Per registry, how long its notifications took from the event to their receipt (``received_at`` minus
    ``event_at``: p50, p99 and the largest, in seconds), over the ``hours`` before the newest receipt. A registry
    delivers one event at a time from an in-memory queue (FORMATS.md section 1.6): a p99 that grows means its
    queue (``Pending`` on its debug endpoint) is growing, and a restart would lose what is in it. A negative lag
    is clock skew between the registry and the webhook."""
    return frame(
        con,
        """
        WITH recent AS (
            SELECT registry, epoch(received_at) - epoch(event_at) AS lag_seconds FROM registry_events
            WHERE received_at >= (SELECT max(received_at) FROM registry_events) - to_hours($hours)
        )
        SELECT registry, count(*) AS events_count,
               quantile_cont(lag_seconds, 0.5) AS lag_p50_seconds,
               quantile_cont(lag_seconds, 0.99) AS lag_p99_seconds,
               max(lag_seconds) AS lag_max_seconds
        FROM recent GROUP BY registry ORDER BY lag_p99_seconds DESC, registry
        """,
        {"hours": hours},
    )


def dead_letter_summary(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Dead letters per source and reason, the newest first."""
    return frame(
        con,
        """
        SELECT source, reason, count(*) AS dead_letters_count, max(received_at) AS last_received_at
        FROM dead_letters GROUP BY source, reason ORDER BY last_received_at DESC LIMIT 50
        """,
    )


def isolated_records(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Records that passed validation but failed alone in the store write (``isolation``), kept as dead letters:
    how many, and the newest. Each is a fault to fix in regaudit rather than bad input."""
    return frame(
        con,
        """
        SELECT count(*) AS isolated_count, max(received_at) AS last_received_at
        FROM dead_letters WHERE starts_with(reason, $prefix)
        """,
        {"prefix": f"{ISOLATED_REASON}:"},
    )


def derive_pending(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Time ranges of stored batches not derived yet (``ingest/derive_pending.sql``: a batch's events scattered over
    more ranges than it derives at once) and the oldest batch among them."""
    return frame(
        con,
        "SELECT count(*) AS ranges_count, min(batch_id) AS oldest_batch_id FROM derive_pending"
        " WHERE derived_by IS NULL",
    )
