"""Distinct repositories pulled in a day far above the identity's own baseline (median and MAD)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from regaudit.analytics.detection import Case, Detection, Parameters, Severity
from regaudit.analytics.fixtures import at, burst, history, pull
from regaudit.schemas.sources import Data

NOW = at("2025-05-10T18:00")


class Params(Parameters):
    baseline_days: int = Field(14, ge=3, description="Prior days the baseline covers.")
    min_history_days: int = Field(7, ge=1, description="Days since first activity before the identity is judged.")
    min_active_days: int = Field(2, ge=1, description="Days with activity among the prior days before it is judged.")
    mad_factor: float = Field(5.0, gt=0, description="How many scaled MADs above the median counts as anomalous.")
    min_spread: float = Field(2.0, ge=0, description="Floor on the scaled MAD, so a flat baseline is not brittle.")
    min_repositories: int = Field(10, ge=1, description="Distinct repositories a day below which nothing fires.")


class PullBreadthBaseline(Detection):
    id = "pull.breadth_baseline"
    title = "Pulls across far more repositories than the identity's baseline"
    severity = Severity.MEDIUM
    family = "pull"
    needs = frozenset({Data.MANIFEST_PULLS, Data.IDENTITY})
    description = (
        "Counts the distinct repositories an identity pulled per UTC day and compares the day with the same "
        "identity's prior days, zero-filled since its first activity: it fires above median + mad_factor * "
        "max(1.4826 * MAD, min_spread). Credentials used for harvesting touch many repositories they never "
        "touched before, even when the number of pulls stays modest."
        " It learns before it judges: min_history_days since the identity's first pull (read from all earlier "
        "data, so a live run and a backfill agree) and min_active_days with pulls among the prior days. The "
        "prior days are zero-filled, so a person who pulled on two days of their first week has learnt a "
        "quiet baseline, and most of the registry in one hour the next week is judged against it."
    )
    false_positives = (
        "A new cluster or mirror bootstrapping every image at once.",
        "Security scanners or replication jobs run with a normal user's credential.",
    )
    attack = ("T1078", "T1530")
    references = ("https://en.wikipedia.org/wiki/Median_absolute_deviation",)
    parameters = Params
    sql = """
        WITH daily AS (
            SELECT coalesce(identity, 'anonymous@' || client_addr) AS identity,
                   date_trunc('day', occurred_at) AS day,
                   count(DISTINCT repository) AS repositories_count
            FROM identified_activity  -- identity: the mapped person, else actor
            WHERE source = 'registry' AND counts_as_pull
              AND occurred_at >= date_trunc('day', $since) - INTERVAL 1 DAY * $baseline_days
              AND occurred_at < $now
            GROUP BY ALL
        ),
        first_seen AS (  -- from all earlier data, not the window: a live run and a backfill agree
            SELECT coalesce(identity, 'anonymous@' || client_addr) AS identity,
                   date_trunc('day', min(occurred_at)) AS first_day
            FROM identified_activity
            WHERE source = 'registry' AND counts_as_pull AND occurred_at < $now
            GROUP BY ALL
        ),
        current AS (SELECT * FROM daily WHERE day >= date_trunc('day', $since)),
        prior AS (
            SELECT c.identity, c.day, coalesce(p.repositories_count, 0) AS repositories_count
            FROM current AS c
            JOIN first_seen AS f ON f.identity = c.identity
            CROSS JOIN range(1, $baseline_days + 1) AS r(days_back)
            LEFT JOIN daily AS p ON p.identity = c.identity AND p.day = c.day - INTERVAL 1 DAY * r.days_back
            WHERE c.day - INTERVAL 1 DAY * r.days_back >= f.first_day
        ),
        baseline AS (
            SELECT identity, day, count(*) AS history_days, count_if(repositories_count > 0) AS active_days_count,
                   median(repositories_count) AS median_count,
                   mad(repositories_count) AS mad_count
            FROM prior GROUP BY identity, day
        ),
        fired AS MATERIALIZED (
            SELECT c.*, b.history_days, b.median_count, b.mad_count
            FROM current AS c
            JOIN baseline AS b ON b.identity = c.identity AND b.day = c.day
            WHERE b.history_days >= $min_history_days AND b.active_days_count >= $min_active_days
              AND c.repositories_count >= $min_repositories
              AND c.repositories_count
                  > b.median_count + $mad_factor * greatest(1.4826 * b.mad_count, $min_spread)
        ),
        evidence AS (  -- the rows of the fired days only (current days are from $since's day on)
            SELECT coalesce(a.identity, 'anonymous@' || a.client_addr) AS identity,
                   date_trunc('day', a.occurred_at) AS day,
                   list('image_activity:' || a.activity_id ORDER BY a.occurred_at, a.activity_id) AS ids
            FROM identified_activity AS a
            JOIN fired AS f ON f.identity = coalesce(a.identity, 'anonymous@' || a.client_addr)
             AND f.day = date_trunc('day', a.occurred_at)
            WHERE a.source = 'registry' AND a.counts_as_pull
              AND a.occurred_at >= date_trunc('day', $since) AND a.occurred_at < $now
            GROUP BY ALL
        )
        SELECT
            c.identity AS subject,
            CAST(NULL AS VARCHAR) AS registry,
            CAST(NULL AS VARCHAR) AS repository,
            CAST(NULL AS VARCHAR) AS tag,
            CAST(NULL AS VARCHAR) AS digest,
            c.identity AS identity,
            CAST(NULL AS VARCHAR) AS client_addr,
            c.day AS window_start_at,
            c.day + INTERVAL 1 DAY AS window_end_at,
            c.identity || ' pulled from ' || c.repositories_count || ' repositories on '
                || CAST(c.day AS DATE)
                || ' against a median of ' || c.median_count || ' (MAD ' || c.mad_count || ') over '
                || c.history_days || ' prior days' AS summary,
            e.ids AS evidence_ids,
            c.repositories_count,
            c.median_count,
            c.mad_count
        FROM fired AS c
        JOIN evidence AS e ON e.identity = c.identity AND e.day = c.day
    """
    cases = (
        Case(
            "fires when a person who pulled on two days of their first week pulls 38 images, not one seen once",
            rows=(
                *(pull(NOW - timedelta(days=d, hours=4), actor="rafael") for d in (7, 8)),
                *burst(pull, "2025-05-10T11:00", 38, actor="rafael", repository=lambda i: f"team/r{i}"),
                pull(NOW - timedelta(days=8, hours=4), actor="once"),
                *burst(pull, "2025-05-10T11:00", 38, actor="once", repository=lambda i: f"team/r{i}"),
            ),
            expect=1,
            about=({"identity": "rafael"},),
            now=NOW,
            subjects=("rafael",),
        ),
        Case(
            "fires when an identity that pulls two repositories a day pulls forty",
            rows=(
                *history(pull, NOW, days=14, per_day=4, actor="robot$deploy", repository=lambda i: f"app/s{i % 2}"),
                *burst(pull, "2025-05-10T03:00", 40, actor="robot$deploy", repository=lambda i: f"team/r{i}"),
            ),
            expect=1,
            about=({"identity": "robot$deploy"},),
            now=NOW,
            subjects=("robot$deploy",),
        ),
        Case(
            "quiet when many pulls stay within the usual repositories",
            rows=(
                *history(pull, NOW, days=14, per_day=4, actor="robot$deploy", repository=lambda i: f"app/s{i % 2}"),
                *burst(pull, "2025-05-10T03:00", 80, actor="robot$deploy", repository=lambda i: f"app/s{i % 2}"),
            ),
            expect=0,
            now=NOW,
        ),
    )
