"""An identity idle for months that suddenly becomes active."""

from __future__ import annotations

from pydantic import Field

from regaudit.analytics.detection import Case, Detection, Parameters, Severity
from regaudit.analytics.fixtures import at, credential, history, pull
from regaudit.analytics.functions import MACHINE_PATTERNS
from regaudit.schemas.sources import Data

NOW = at("2025-05-10T18:00")


class Params(Parameters):
    min_gaps: int = Field(4, ge=1, description="Gaps between active days that reveal an identity's cadence.")
    gap_factor: float = Field(3.0, gt=1, description="Times its usual long gap (90th percentile) that is dormancy.")
    machine_dormant_days: int = Field(
        14, ge=1, description="Least silence that counts as dormancy for a machine identity."
    )
    person_dormant_days: int = Field(
        28, ge=1, description="Least silence that counts as dormancy for a person (leave, holidays)."
    )
    dormant_days: int = Field(
        60, ge=1, description="Dormancy when the cadence is unknown (fewer than min_gaps gaps, or never used)."
    )
    min_observed_days: int = Field(
        14,
        ge=1,
        description="Days the store must have watched a silent credential before its first use counts.",
    )
    machine_patterns: list[str] = Field(
        list(MACHINE_PATTERNS),
        description="Name globs of machine identities (robots, CI, deployers, clusters) besides "
        "org.ci_identities and the inventory's robot and token kinds.",
    )


class DormantCredentialReactivated(Detection):
    id = "credential.dormant_reactivated"
    title = "Dormant credential suddenly active"
    severity = Severity.HIGH
    family = "credential"
    needs = frozenset({Data.IDENTITY})
    description = (
        "An identity's accepted activity resumes after a silence much longer than its own cadence: "
        "gap_factor times the 90th percentile of the gaps between its earlier active days, and at least "
        "machine_dormant_days for a machine identity (org.ci_identities, the inventory's robot and token kinds, "
        "machine_patterns) or person_dormant_days for a person; dormant_days while fewer than min_gaps gaps "
        "show its cadence. A nightly robot silent for three weeks is dormant, a monthly job is not. When the "
        "store has never seen it, silence is proven differently: a credential created (per the inventory) at "
        "least dormant_days before its first use in the store, which the store watched for at least "
        "min_observed_days without any use. Everything is read from days before the use (identity_days), so "
        "a backfill finds what live runs find. Forgotten credentials are the ones that leak without anybody "
        "rotating them."
    )
    false_positives = ("Seasonal jobs and people back from long leave.",)
    attack = ("T1078",)
    references = ("https://github.com/goharbor/harbor/issues/16872",)
    parameters = Params
    sql = """
        WITH cadence AS (
            SELECT identity, day, first_at, previous_last_at,
                   count(gap_days) OVER earlier AS gaps_count,
                   quantile_cont(gap_days, 0.9) OVER earlier AS usual_gap_days
            FROM (SELECT *, date_diff('day', previous_day, day) AS gap_days FROM identity_days)
            WINDOW earlier AS (PARTITION BY identity ORDER BY day ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
        ),
        judged AS (
            SELECT d.*, c.created_at,
                   list_contains($ci_identities, d.identity) OR c.kind IN ('robot', 'token')
                       OR glob_any(d.identity, $machine_patterns) AS machine
            FROM cadence AS d
            LEFT JOIN current_credentials AS c ON c.name = d.identity
            WHERE d.first_at >= $since AND d.first_at < $now
        ),
        reactivations AS (
            SELECT j.*, coalesce(j.previous_last_at, j.created_at) AS quiet_since
            FROM judged AS j
            CROSS JOIN store_start AS o
            WHERE j.previous_last_at IS NOT NULL AND j.first_at - j.previous_last_at >= INTERVAL 1 DAY * CASE
                      WHEN j.gaps_count < $min_gaps THEN $dormant_days
                      ELSE greatest(CASE WHEN j.machine THEN $machine_dormant_days ELSE $person_dormant_days END,
                                    $gap_factor * j.usual_gap_days) END
               OR j.previous_last_at IS NULL AND j.created_at <= j.first_at - INTERVAL 1 DAY * $dormant_days
                  AND j.first_at >= o.first_event_at + INTERVAL 1 DAY * $min_observed_days
        )
        SELECT
            r.identity AS subject,
            CAST(NULL AS VARCHAR) AS registry,
            CAST(NULL AS VARCHAR) AS repository,
            CAST(NULL AS VARCHAR) AS tag,
            CAST(NULL AS VARCHAR) AS digest,
            r.identity,
            arg_min(a.client_addr, a.evidence_id) AS client_addr,
            r.first_at AS window_start_at,
            r.first_at AS window_end_at,
            r.identity || ' active again from ' || coalesce(arg_min(a.client_addr, a.evidence_id), 'an unknown address')
                || ' after ' || date_diff('day', r.quiet_since, r.first_at) || ' idle days ('
                || CASE WHEN r.previous_last_at IS NULL THEN 'no use since its creation on '
                        ELSE 'previous activity ' END || CAST(r.quiet_since AS DATE)
                || CASE WHEN r.gaps_count >= $min_gaps
                        THEN '; its usual long gap is ' || round(r.usual_gap_days, 1) || ' days' ELSE '' END
                || ')' AS summary,
            list_filter([min(a.evidence_id), min(p.evidence_id)], lambda ref: ref IS NOT NULL) AS evidence_ids,
            date_diff('day', r.quiet_since, r.first_at) AS idle_days_count
        FROM reactivations AS r
        JOIN identity_activity AS a ON a.identity = r.identity AND a.seen_at = r.first_at AND a.accepted
        LEFT JOIN identity_activity AS p
          ON p.identity = r.identity AND p.seen_at = r.previous_last_at AND p.accepted
        GROUP BY r.identity, r.first_at, r.quiet_since, r.previous_last_at, r.gaps_count, r.usual_gap_days
    """
    cases = (
        Case(
            "fires on a robot's first pull after four idle months",
            rows=(
                pull("2025-01-05T10:00", actor="robot$legacy"),
                pull("2025-05-10T03:00", actor="robot$legacy"),
            ),
            expect=1,
            about=({"identity": "robot$legacy", "client_addr": "10.0.0.5"},),
            now=NOW,
            subjects=("robot$legacy",),
        ),
        Case(
            "fires on an old credential's first use after weeks of watched silence",
            rows=(
                pull("2025-04-01T10:00", actor="alice"),
                credential("robot$old", "2025-04-01", created_at="2024-06-01"),
                pull("2025-05-10T03:00", actor="robot$old"),
            ),
            expect=1,
            now=NOW,
            subjects=("robot$old",),
        ),
        Case(
            "quiet for a regularly active identity, a new credential and a store too young to tell",
            rows=(
                pull("2025-04-20T10:00", actor="alice"),
                pull("2025-05-10T03:00", actor="alice"),
                pull("2025-05-10T03:00", actor="newcomer"),
                credential("robot$new", "2025-05-01", created_at="2025-05-01"),
                pull("2025-05-10T03:00", actor="robot$new"),
            ),
            expect=0,
            now=NOW,
        ),
        Case(
            "quiet for an old credential when the store only began last week",
            rows=(
                pull("2025-05-04T10:00", actor="alice"),
                credential("robot$old", "2025-05-04", created_at="2024-06-01"),
                pull("2025-05-10T03:00", actor="robot$old"),
            ),
            expect=0,
            now=NOW,
        ),
        Case(
            "fires when a nightly robot silent for three weeks resumes, as a person silent for five",
            rows=(
                *history(pull, "2025-04-19", days=20, per_day=1, actor="robot$nightly"),
                pull("2025-05-10T03:00", actor="robot$nightly"),
                *history(pull, "2025-04-05", days=20, per_day=1, actor="carol"),
                pull("2025-05-10T09:00", actor="carol"),
            ),
            expect=2,
            about=({"identity": "robot$nightly"}, {"identity": "carol"}),
            now=NOW,
            subjects=("robot$nightly", "carol"),
        ),
        Case(
            "quiet for a monthly job on its day, and a person back from three weeks of leave",
            rows=(
                *(pull(f"2025-{month:02d}-10T04:00", actor="robot$monthly") for month in range(1, 5)),
                pull("2025-05-10T04:00", actor="robot$monthly"),
                *history(pull, "2025-04-19", days=20, per_day=1, actor="dave"),
                pull("2025-05-10T09:00", actor="dave"),
            ),
            expect=0,
            now=NOW,
        ),
    )
