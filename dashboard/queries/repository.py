"""One repository: its tags with their digest history (overwrites marked), who pulled each digest, pushes and
deletes over time. ``repositories`` lists them for the picker.

Totals and who pulled each digest read the daily rollups of ``ingest/page_rollups.sql`` (the pulls per repository,
digest, identity and tag) and ``ingest/repository_rollups.sql`` (per repository and identity, each day in order by
repository, so one repository's identities are read from the row groups that hold it), never the rows: a
repository's rows over all time are a few rollup rows a day per identity."""

from __future__ import annotations

from datetime import timedelta

import duckdb
import pandas as pd

from regaudit.dashboard.queries.common import (
    ANONYMOUS,
    BUCKET,
    BUCKET_START,
    TimeRange,
    bucket_bindings,
    frame,
)
from regaudit.dashboard.queries.daily import day_bindings, repository_days


def repositories(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every repository with activity or tags, with when it was last active (activity from the daily rollup)."""
    return frame(
        con,
        """
        SELECT repository, max(last_at) AS last_at FROM (
            SELECT repository, max(last_at) AS last_at FROM daily_repository_activity
            WHERE repository <> '' GROUP BY repository
            UNION ALL
            SELECT repository, max(valid_from_at) FROM tag_history GROUP BY repository
        ) GROUP BY repository ORDER BY repository
        """,
    )


def repository_summary(con: duckdb.DuckDBPyConnection, repository: str) -> pd.DataFrame:
    """Totals of one repository over all time: counts and times from the daily rollup per repository, the
    distinct identities from the one per identity and repository (only its identity column: that rollup is in
    order by identity, so the repository's rows are spread over all of it)."""
    sql = """
        WITH totals AS (
            SELECT coalesce(sum(actions_count) FILTER (WHERE counted_as = 'pull'), 0) AS pulls_count,
                   coalesce(sum(actions_count) FILTER (WHERE counted_as = 'push'), 0) AS pushes_count,
                   coalesce(sum(actions_count) FILTER (WHERE counted_as = 'delete'), 0) AS deletes_count,
                   coalesce(sum(actions_count) FILTER (WHERE counted_as = 'refused'), 0) AS refused_count,
                   min(first_at) AS first_at, max(last_at) AS last_at
            FROM daily_repository_activity WHERE repository = $repository
        )
        SELECT t.pulls_count, t.pushes_count, t.deletes_count, t.refused_count,
               (SELECT count(DISTINCT actor) FROM daily_repository_identities WHERE repository = $repository)
                   AS identities_count,
               t.first_at, t.last_at,
               (SELECT count(DISTINCT tag) FROM tag_history WHERE repository = $repository) AS tags_count,
               (SELECT count(*) FROM tag_history WHERE repository = $repository AND is_overwrite)
                   AS overwrites_count
        FROM totals AS t
    """
    return frame(con, sql, {"repository": repository})


#: cosign signatures, attestations and SBOMs, and the referrers fallback: tags named after a digest
SIGNATURE_TAG = "regexp_matches(tag, '^sha256-[0-9a-f]{64}')"


def tags(con: duckdb.DuckDBPyConnection, repository: str, signatures: bool = False) -> pd.DataFrame:
    """Per tag: the digest it points at now (none once deleted), its overwrites and moves, the last mover.
    Signature and referrer tags (``sha256-<digest>.sig``) only when ``signatures``."""
    sql = f"""
        SELECT tag, CASE WHEN bool_or(valid_to_at IS NULL) THEN arg_max(digest, valid_from_at) END AS digest,
               count(*) FILTER (WHERE is_overwrite) AS overwrites_count, count(*) AS moves_count,
               count(DISTINCT digest) AS digests_count,
               max(valid_from_at) AS last_moved_at, arg_max(moved_by, valid_from_at) AS last_moved_by, registry
        FROM tag_history WHERE repository = $repository AND ($signatures OR NOT {SIGNATURE_TAG})
        GROUP BY tag, registry ORDER BY overwrites_count DESC, last_moved_at DESC, tag
    """  # noqa: S608 - constant fragments
    return frame(con, sql, {"repository": repository, "signatures": signatures})


def tag_history(
    con: duckdb.DuckDBPyConnection, repository: str, tag: str | None = None, signatures: bool = False
) -> pd.DataFrame:
    """The newest 500 digest intervals of the repository's tags (or of one tag)."""
    sql = f"""
        SELECT tag, digest, is_overwrite, previous_digest, valid_from_at, valid_to_at,
               coalesce(moved_by, '{ANONYMOUS}') AS moved_by, client_addr, user_agent, registry, event_id
        FROM tag_history
        WHERE repository = $repository AND ($tag IS NULL OR tag = $tag)
          AND ($signatures OR $tag IS NOT NULL OR NOT {SIGNATURE_TAG})
        ORDER BY valid_from_at DESC, tag LIMIT 500
    """  # noqa: S608 - constant fragments
    return frame(con, sql, {"repository": repository, "tag": tag, "signatures": signatures})


def digest_pullers(con: duckdb.DuckDBPyConnection, repository: str, limit: int = 1000) -> pd.DataFrame:
    """Who pulled each digest of the repository: pulls, the tags asked for, first and last time."""
    sql = f"""
        WITH grouped AS (
            SELECT digest, coalesce(actor, '{ANONYMOUS}') AS identity, tag, sum(actions_count)::BIGINT AS n,
                   min(first_at) AS first_at, max(last_at) AS last_at
            FROM daily_digest_pulls WHERE repository = $repository
            GROUP BY ALL
        )
        SELECT digest, identity, sum(n) AS pulls_count, string_agg(tag, ', ' ORDER BY tag) AS tags,
               min(first_at) AS first_at, max(last_at) AS last_at
        FROM grouped GROUP BY digest, identity ORDER BY last_at DESC, digest, identity LIMIT $limit
    """  # noqa: S608 - constant fragments
    return frame(con, sql, {"repository": repository, "limit": limit})


def repository_series(
    con: duckdb.DuckDBPyConnection, repository: str, time: TimeRange, bucket: timedelta
) -> pd.DataFrame:
    """Pushes, deletes and pulls of the repository per time bucket, whole days from the daily rollup (``daily``)."""
    counts = ", ".join(
        f"coalesce(sum(actions_count) FILTER (WHERE counted_as = {kind!r}), 0)::BIGINT AS {name}"
        for kind, name in (("push", "pushes_count"), ("delete", "deletes_count"), ("pull", "pulls_count"))
    )
    sql = f"""
        SELECT {BUCKET_START} AS bucket_at, {counts}
        FROM (SELECT {BUCKET} AS bucket, counted_as, actions_count
              FROM ({repository_days("repository = $repository")}))
        GROUP BY bucket ORDER BY bucket
    """  # noqa: S608 - constant fragments
    params = {**day_bindings(time, bucket), **bucket_bindings(bucket), "repository": repository}
    return frame(con, sql, params)
