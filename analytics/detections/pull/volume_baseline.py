"""Pull volume far above the identity's own daily baseline (median and MAD over prior days)."""

from __future__ import annotations

from pydantic import Field

from regaudit.analytics.detection import Case, Detection, Parameters, Severity
from regaudit.analytics.fixtures import at, burst, history, identity_mapping, pull
from regaudit.schemas.sources import Data

NOW = at("2025-05-10T18:00")
CI_ARN = "arn:aws:iam::123456789012:role/ci"


class Params(Parameters):
    baseline_days: int = Field(14, ge=3, description="Prior days the baseline covers.")
    min_history_days: int = Field(7, ge=1, description="Days since first activity before the identity is judged.")
    min_active_days: int = Field(3, ge=1, description="Days with activity among the prior days before it is judged.")
    mad_factor: float = Field(5.0, gt=0, description="How many scaled MADs above the median counts as anomalous.")
    min_spread: float = Field(3.0, ge=0, description="Floor on the scaled MAD, so a flat baseline is not brittle.")
    min_pulls: int = Field(30, ge=1, description="Pulls a day below which nothing fires, whatever the baseline.")


class PullVolumeBaseline(Detection):
    id = "pull.volume_baseline"
    title = "Pull volume far above the identity's baseline"
    severity = Severity.MEDIUM
    family = "pull"
    needs = frozenset({Data.MANIFEST_PULLS, Data.IDENTITY})
    description = (
        "Counts an identity's real pulls (manifest GETs, a multi-platform pull once) per UTC day and "
        "compares the day with the same identity's prior days, zero-filled since its first activity: it "
        "fires when the count exceeds median + mad_factor * max(1.4826 * MAD, min_spread). A stolen CI token "
        "used to clone images shows up as a day far outside the token's own routine, whatever the registry's "
        "global traffic. An identity is the person the identity mapping names (regaudit identities import), "
        "so a person's pulls on every registry, under every name, are counted together."
        " It learns before it judges: min_history_days since the identity's first pull (read from all earlier "
        "data, so a live run and a backfill agree) and min_active_days with pulls among the prior days."
    )
    false_positives = (
        "Cluster scale-ups, node replacements or cache flushes that re-pull every image.",
        "A new pipeline or mirror job adopting an existing credential.",
    )
    attack = ("T1078", "T1530")
    references = ("https://en.wikipedia.org/wiki/Median_absolute_deviation",)
    parameters = Params
    sql = """
        WITH daily AS (
            SELECT coalesce(identity, 'anonymous@' || client_addr) AS identity,
                   date_trunc('day', occurred_at) AS day,
                   count(*) AS pulls_count
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
            SELECT c.identity, c.day, coalesce(p.pulls_count, 0) AS pulls_count
            FROM current AS c
            JOIN first_seen AS f ON f.identity = c.identity
            CROSS JOIN range(1, $baseline_days + 1) AS r(days_back)
            LEFT JOIN daily AS p ON p.identity = c.identity AND p.day = c.day - INTERVAL 1 DAY * r.days_back
            WHERE c.day - INTERVAL 1 DAY * r.days_back >= f.first_day
        ),
        baseline AS (
            SELECT identity, day, count(*) AS history_days, count_if(pulls_count > 0) AS active_days_count,
                   median(pulls_count) AS median_count,
                   mad(pulls_count) AS mad_count
            FROM prior GROUP BY identity, day
        ),
        fired AS MATERIALIZED (
            SELECT c.*, b.history_days, b.median_count, b.mad_count
            FROM current AS c
            JOIN baseline AS b ON b.identity = c.identity AND b.day = c.day
            WHERE b.history_days >= $min_history_days AND b.active_days_count >= $min_active_days
              AND c.pulls_count >= $min_pulls
              AND c.pulls_count > b.median_count + $mad_factor * greatest(1.4826 * b.mad_count, $min_spread)
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
            c.identity || ' made ' || c.pulls_count || ' pulls on ' || CAST(c.day AS DATE)
                || ' against a median of ' || c.median_count || ' (MAD ' || c.mad_count || ') over '
                || c.history_days || ' prior days' AS summary,
            e.ids AS evidence_ids,
            c.pulls_count,
            c.median_count,
            c.mad_count,
            c.median_count + $mad_factor * greatest(1.4826 * c.mad_count, $min_spread) AS threshold
        FROM fired AS c
        JOIN evidence AS e ON e.identity = c.identity AND e.day = c.day
    """
    cases = (
        Case(
            "fires when a CI principal's pulls split over two registries reach the threshold only together",
            rows=(
                *history(pull, NOW, days=14, per_day=5, actor="ci-bot"),
                *burst(pull, "2025-05-10T10:00", 20, actor="ci-bot"),
                *burst(pull, "2025-05-10T11:00", 20, actor=CI_ARN, registry="ecr-prod"),
                identity_mapping(CI_ARN, "ci-bot", "2025-05-01T00:00", registry="ecr-prod"),
            ),
            expect=1,
            about=({"identity": "ci-bot"},),
            now=NOW,
            subjects=("ci-bot",),
        ),
        Case(
            "quiet when a person's pulls move from one registry to the other: the person's total is its routine",
            rows=(
                *history(pull, NOW, days=8, per_day=12, actor="kube-prod"),
                *history(pull, NOW, days=8, per_day=12, actor=CI_ARN, registry="ecr-prod"),
                *burst(pull, "2025-05-10T10:00", 30, actor="kube-prod"),
                identity_mapping(CI_ARN, "kube-prod", "2025-05-01T00:00"),
            ),
            expect=0,
            now=NOW,
        ),
        Case(
            "fires when a CI token pulls 60 times after two weeks of about 5 a day",
            rows=(
                *history(pull, NOW, days=14, per_day=5, actor="ci-bot"),
                *burst(pull, "2025-05-10T10:00", 60, actor="ci-bot", repository=lambda i: f"team/r{i % 7}"),
            ),
            expect=1,
            about=({"identity": "ci-bot"},),
            now=NOW,
            subjects=("ci-bot",),
        ),
        Case(
            "quiet for a busy identity whose baseline is already high",
            rows=(
                *history(pull, NOW, days=14, per_day=50, actor="kube-prod"),
                *burst(pull, "2025-05-10T10:00", 55, actor="kube-prod"),
            ),
            expect=0,
            now=NOW,
        ),
        Case(
            "quiet for an identity first seen three days ago",
            rows=(
                *history(pull, NOW, days=3, per_day=2, actor="newbie"),
                *burst(pull, "2025-05-10T10:00", 60, actor="newbie"),
            ),
            expect=0,
            now=NOW,
        ),
        Case(
            "quiet for an identity active on only two of the prior days: no baseline learnt yet",
            rows=(
                *burst(pull, "2025-04-28T10:00", 2, actor="robot$weekly"),
                *burst(pull, "2025-05-05T10:00", 2, actor="robot$weekly"),
                *burst(pull, "2025-05-10T10:00", 60, actor="robot$weekly"),
            ),
            expect=0,
            now=NOW,
        ),
    )
