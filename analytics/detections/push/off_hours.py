"""Pushes by people outside business hours, graded by the repository's class and the identity's own habits."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from regaudit.analytics.detection import Case, Detection, Parameters, Row, Severity
from regaudit.analytics.detections.push.human_to_ci_repository import Params as CiOnlyParams
from regaudit.analytics.fixtures import at, history, pull, push
from regaudit.schemas.sources import Data

NOW = at("2025-05-12T18:00")  # a Monday
ORG = {"timezone": "Europe/Berlin", "ci_identities": ["ci-bot"], "protected_repositories": ["prod/*"]}
CI_ONLY = CiOnlyParams.model_fields


def office_pushes(actor: str, days: int = 30, **values: object) -> tuple[Row, ...]:
    """One push at 09:00 UTC (11:00 in Berlin) on each weekday of the ``days`` before NOW's day."""
    midnight = NOW.replace(hour=0, minute=0)
    moments = (midnight - timedelta(days=day, hours=-9) for day in range(1, days + 1))
    return tuple(push(moment, actor=actor, **values) for moment in moments if moment.isoweekday() <= 5)


class Params(Parameters):
    baseline_days: int = Field(42, ge=1, description="Prior days whose off-hours pushes make up an identity's habit.")
    habit_days: int = Field(
        2,
        ge=1,
        description="Earlier days with off-hours pushes (to a repository as sensitive) that make them a habit; a "
        "single one does when it is at least half of the identity's push days.",
    )
    min_known_days: int = Field(
        7, ge=0, description="Days an identity must be known before its push to a shared repository can be unusual."
    )
    min_history_days: int = Field(
        14,
        ge=0,
        description="Days an identity must be known before habit_days are needed: until then one earlier off-hours "
        "day is a habit (the benefit of the doubt while its habits are learnt).",
    )
    ci_baseline_days: int = Field(
        CI_ONLY["baseline_days"].default, ge=1, description="As push.human_to_ci_repository's baseline_days."
    )
    min_ci_pushes: int = Field(
        CI_ONLY["min_ci_pushes"].default, ge=1, description="As push.human_to_ci_repository's min_ci_pushes."
    )


class OffHoursPush(Detection):
    id = "push.off_hours"
    title = "Push outside business hours"
    severity = Severity.MEDIUM
    family = "push"
    needs = frozenset({Data.PUSHES, Data.IDENTITY})
    description = (
        "Pushes by identities not in org.ci_identities, made outside org.business_hours or on a day outside "
        "org.business_days in org.timezone, grouped per identity, repository and UTC day, and graded by the "
        "repository's class and the identity's habits. Protected (org.protected_repositories) and CI-only "
        "repositories (as push.human_to_ci_repository decides) are high, or low when the identity pushed "
        "off-hours to such repositories on habit_days earlier days of the baseline; shared repositories are "
        "medium only when off-hours pushes are unusual for the identity (fewer earlier days than habit_days, "
        "or one day among many in office hours) and it has been known for min_known_days; until it has been "
        "known for min_history_days a single earlier off-hours day is a habit, so a backfill learns "
        "everybody's habits before it judges them; personal repositories (org.personal_repositories: the "
        "identity's own namespace) are never reported. Habits are read from days before the push only, so a "
        "backfill finds what live runs find. An intruder's working hours are not yours: someone who pushes "
        "every Saturday is not news, a colleague who never does is."
    )
    false_positives = (
        "On-call hotfixes and people working in another time zone, until their habit is learnt.",
        "CI identities not listed in org.ci_identities.",
    )
    attack = ("T1525", "T1078")
    references = ("https://research.splunk.com/cloud/aws_ecr_container_upload_outside_business_hours/",)
    parameters = Params
    sql = """
        WITH candidates AS (
            SELECT * FROM image_activity
            WHERE source = 'registry' AND action = 'push' AND occurred_at < $now
              AND occurred_at >= date_trunc('day', $since) - INTERVAL 1 DAY * ($baseline_days + $ci_baseline_days)
        ),
        addresses AS MATERIALIZED (  -- in_networks is Python: once per distinct address, not once per push
            SELECT client_addr, in_networks(client_addr, $ci_networks) AS in_ci_network
            FROM (SELECT DISTINCT client_addr FROM candidates)
        ),
        repositories AS MATERIALIZED (  -- glob_any is Python: once per repository
            SELECT repository, glob_any(repository, $protected_repositories) AS protected
            FROM (SELECT DISTINCT repository FROM candidates)
        ),
        pairs AS (  -- a namespace pattern holds the pusher's name (lowercased, or before an @) literally: its
                    -- repositories contain that name, so only those pairs can be personal (ASCII names: DuckDB's
                    -- lower is Python's there; any other name is always asked)
            SELECT repository, actor,
                   actor IS NOT NULL AND (strlen(actor) <> length(actor) OR contains(repository, lower(actor))
                                          OR contains(repository, split_part(lower(actor), '@', 1))) AS named
            FROM (SELECT DISTINCT repository, actor FROM candidates)
        ),
        namespaces AS MATERIALIZED (  -- personal_repository is Python: once per repository and pusher it can hold
            SELECT p.repository, p.actor, r.protected,
                   personal_repository(p.repository, p.actor, $personal_repositories) AS personal
            FROM pairs AS p JOIN repositories AS r ON r.repository = p.repository
            WHERE p.named
            UNION ALL
            SELECT p.repository, p.actor, r.protected, FALSE
            FROM pairs AS p JOIN repositories AS r ON r.repository = p.repository
            WHERE NOT p.named
        ),
        pushes AS (
            SELECT c.*, n.protected, n.personal, timezone($timezone, c.occurred_at) AS local_at,
                   list_contains($ci_identities, coalesce(c.actor, '')) AS by_ci_identity,
                   list_contains($ci_identities, coalesce(c.actor, ''))
                       OR coalesce(a.in_ci_network, FALSE) AS by_ci
            FROM candidates AS c
            LEFT JOIN addresses AS a ON a.client_addr IS NOT DISTINCT FROM c.client_addr
            LEFT JOIN namespaces AS n ON n.repository = c.repository AND n.actor IS NOT DISTINCT FROM c.actor
        ),
        classified AS (  -- CI-only: the prior ci_baseline_days held min_ci_pushes pushes, all from CI
            SELECT *, CAST(local_at AS DATE) AS local_day,
                   CASE WHEN protected THEN 'protected' WHEN personal THEN 'personal'
                        WHEN count(*) OVER prior >= $min_ci_pushes
                             AND count(*) FILTER (WHERE NOT by_ci) OVER prior = 0 THEN 'ci-only'
                        ELSE 'shared' END AS repository_class,
                   NOT list_contains($business_days, isodow(local_at))
                   OR CASE WHEN $business_start <= $business_end
                           THEN CAST(local_at AS TIME) NOT BETWEEN $business_start AND $business_end
                           ELSE CAST(local_at AS TIME) < $business_start AND CAST(local_at AS TIME) > $business_end
                      END AS off_hours
            FROM pushes
            WINDOW prior AS (
                PARTITION BY registry, repository ORDER BY occurred_at
                RANGE BETWEEN INTERVAL 1 DAY * $ci_baseline_days PRECEDING AND CURRENT ROW EXCLUDE GROUP
            )
        ),
        ranked AS (  -- 2 protected or CI-only, 1 shared, 0 personal: a habit counts for its rank and below
            SELECT *, CASE repository_class WHEN 'personal' THEN 0 WHEN 'shared' THEN 1 ELSE 2 END AS class_rank
            FROM classified
            WHERE NOT by_ci_identity
        ),
        days AS (  -- per identity and local day: the most sensitive rank pushed to, and pushed to off-hours
            SELECT actor, local_day, max(class_rank) AS pushed_rank,
                   max(class_rank) FILTER (WHERE off_hours) AS off_hours_rank
            FROM ranked WHERE actor IS NOT NULL GROUP BY actor, local_day
        ),
        judged AS (
            SELECT r.*, d.first_day,
                   CASE WHEN r.class_rank = 0 THEN NULL
                        WHEN r.class_rank = 2 THEN 'high'
                        WHEN d.first_day <= date_trunc('day', r.occurred_at) - INTERVAL 1 DAY * $min_known_days
                        THEN 'medium'
                   END AS unusual_severity,
                   CASE WHEN d.first_day <= date_trunc('day', r.occurred_at) - INTERVAL 1 DAY * $min_history_days
                        THEN $habit_days ELSE 1 END AS habit_threshold
            FROM ranked AS r
            LEFT JOIN (  -- by the raw identity, as the push habits above: identity_days' first day when unmapped
                SELECT raw_identity, date_trunc('day', min(first_at)) AS first_day
                FROM identity_day_clients WHERE accepted GROUP BY raw_identity  -- identity_activity's daily rollups
            ) AS d ON d.raw_identity = r.actor
            WHERE r.off_hours AND r.occurred_at >= date_trunc('day', $since)
        ),
        habits AS (  -- earlier days of the baseline with pushes (off-hours ones) at least as sensitive
            SELECT j.activity_id,
                   count(h.local_day) FILTER (WHERE h.off_hours_rank >= j.class_rank) AS off_hours_days_count,
                   count(h.local_day) FILTER (WHERE h.pushed_rank >= j.class_rank) AS push_days_count
            FROM judged AS j
            LEFT JOIN days AS h ON h.actor = j.actor AND h.local_day < j.local_day
                AND h.local_day >= j.local_day - INTERVAL 1 DAY * $baseline_days
            WHERE j.unusual_severity IS NOT NULL
            GROUP BY j.activity_id
        ),
        graded AS (
            SELECT j.*, h.off_hours_days_count,
                   CASE WHEN h.off_hours_days_count < j.habit_threshold
                             AND (h.off_hours_days_count = 0 OR 2 * h.off_hours_days_count < h.push_days_count)
                        THEN j.unusual_severity
                        WHEN j.class_rank = 2 THEN 'low'
                   END AS severity
            FROM judged AS j JOIN habits AS h ON h.activity_id = j.activity_id
        )
        SELECT
            coalesce(actor, 'anonymous') || ' to ' || repository AS subject,
            CASE WHEN count(DISTINCT registry) = 1 THEN min(registry) END AS registry,
            repository,
            CAST(NULL AS VARCHAR) AS tag,
            CAST(NULL AS VARCHAR) AS digest,
            actor AS identity,
            CASE WHEN count(DISTINCT client_addr) = 1 THEN min(client_addr) END AS client_addr,
            date_trunc('day', occurred_at) AS window_start_at,
            date_trunc('day', occurred_at) + INTERVAL 1 DAY AS window_end_at,
            arg_max(severity, list_position(['low', 'medium', 'high'], severity)) AS severity,
            coalesce(actor, 'anonymous') || ' pushed ' || count(*) || ' time(s) to ' || repository || ' ('
                || arg_max(repository_class, class_rank) || ') outside business hours, first at '
                || strftime(min(local_at), '%a %H:%M') || ' ' || $timezone || '; off-hours pushes on '
                || min(off_hours_days_count) || ' of the prior ' || $baseline_days || ' days'
                || CASE WHEN min(first_day) IS NULL THEN '' ELSE ', known since ' || CAST(min(first_day) AS DATE) END
                AS summary,
            list('image_activity:' || activity_id ORDER BY occurred_at, activity_id) AS evidence_ids,
            count(*) AS pushes_count,
            arg_max(repository_class, class_rank) AS repository_class,
            min(off_hours_days_count) AS off_hours_days_count
        FROM graded
        WHERE severity IS NOT NULL
        GROUP BY actor, repository, date_trunc('day', occurred_at)
    """
    cases = (
        Case(
            "fires for a push at 03:00 Berlin time and one on a Sunday by people who push in office hours, and for "
            "a newcomer known for nine days whose pushes were all in office hours",
            rows=(
                *office_pushes("alice"),
                *office_pushes("bob", repository="team/api"),
                push("2025-05-12T01:00", actor="alice"),
                push("2025-05-11T12:00", actor="bob", repository="team/api"),
                pull("2025-05-03T09:00", actor="carol"),
                *office_pushes("carol", days=7),
                push("2025-05-12T01:30", actor="carol"),
            ),
            expect=3,
            about=(
                {"registry": "default", "repository": "team/app", "identity": "alice", "client_addr": "10.0.0.5"},
                {"registry": "default", "repository": "team/api", "identity": "bob"},
            ),
            now=NOW,
            org=ORG,
        ),
        Case(
            "fires for a protected repository and a CI-only one, even for an identity first seen today",
            rows=(
                *history(push, NOW, days=10, per_day=1, repository="team/built"),
                push("2025-05-12T01:00", actor="eve", repository="prod/api"),
                push("2025-05-12T01:05", actor="eve", repository="team/built"),
            ),
            expect=2,
            about=(
                {"repository": "prod/api", "identity": "eve"},
                {"repository": "team/built", "identity": "eve"},
            ),
            now=NOW,
            org=ORG,
        ),
        Case(
            "quiet for a push at 10:00 Berlin on a Monday, a night-time CI push, and pushes to one's own namespace",
            rows=(
                *office_pushes("alice"),
                push("2025-05-12T08:00", actor="alice"),
                push("2025-05-12T01:00", actor="ci-bot"),
                push("2025-05-11T12:00", actor="alice", repository="sandbox/alice"),
                pull("2025-04-01T09:00", actor="Alice@Example.com"),
                push("2025-05-11T12:00", actor="Alice@Example.com", repository="alice/tools"),
            ),
            expect=0,
            now=NOW,
            org=ORG,
        ),
        Case(
            "quiet for someone who pushes on Saturdays and Sundays, an identity known for six days, and one known "
            "for eleven days that pushed on one earlier Saturday (the benefit of the doubt while it is learnt)",
            rows=(
                *office_pushes("alice"),
                *(push(f"2025-05-{day:02d}T12:00", actor="alice") for day in (3, 4, 10)),
                push("2025-05-11T12:00", actor="alice"),
                pull("2025-05-06T09:00", actor="newbie"),
                push("2025-05-11T12:00", actor="newbie"),
                pull("2025-05-01T09:00", actor="dave"),
                *office_pushes("dave", days=10),
                push("2025-05-03T12:00", actor="dave"),
                push("2025-05-11T12:00", actor="dave"),
            ),
            expect=0,
            now=NOW,
            org=ORG,
        ),
    )
