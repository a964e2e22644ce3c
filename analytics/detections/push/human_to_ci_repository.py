"""A person pushing to a repository that only CI has pushed to."""

from __future__ import annotations

from pydantic import Field

from regaudit.analytics.detection import Case, Detection, Parameters, Severity
from regaudit.analytics.fixtures import at, history, push
from regaudit.schemas.sources import Data

NOW = at("2025-05-10T18:00")
ORG = {"ci_identities": ["ci-bot"], "ci_networks": ["10.8.0.0/16"]}


class Params(Parameters):
    baseline_days: int = Field(60, ge=1, description="Prior days whose pushes decide that a repository is CI-only.")
    min_ci_pushes: int = Field(5, ge=1, description="CI pushes in the baseline before a repository counts as CI-only.")


class HumanPushToCiRepository(Detection):
    id = "push.human_to_ci_repository"
    title = "Human push to a CI-only repository"
    severity = Severity.HIGH
    family = "push"
    needs = frozenset({Data.PUSHES, Data.IDENTITY})
    description = (
        "A repository whose pushes over the prior baseline_days all came from CI (an identity in "
        "org.ci_identities, or an address in org.ci_networks), at least min_ci_pushes of them, receives a "
        "push from anyone else: a person bypassing the pipeline, or a stolen human credential with write "
        "access. Grouped per identity, repository and UTC day. An identity's own namespace "
        "(org.personal_repositories) is its to push to, even where a build job fed it."
    )
    false_positives = (
        "Hotfixes pushed by hand during an incident.",
        "Robots missing from org.ci_identities.",
    )
    attack = ("T1525", "T1078")
    references = ("https://research.splunk.com/cloud/aws_ecr_container_upload_unknown_user/",)
    parameters = Params
    sql = """
        WITH candidates AS (
            SELECT * FROM image_activity
            WHERE source = 'registry' AND action = 'push' AND occurred_at < $now
              AND occurred_at >= date_trunc('day', $since) - INTERVAL 1 DAY * $baseline_days
        ),
        addresses AS MATERIALIZED (  -- in_networks is Python: once per distinct address, not once per push
            SELECT client_addr, in_networks(client_addr, $ci_networks) AS in_ci_network
            FROM (SELECT DISTINCT client_addr FROM candidates)
        ),
        pushes AS (
            SELECT c.*,
                   list_contains($ci_identities, coalesce(c.actor, '')) OR coalesce(a.in_ci_network, FALSE) AS by_ci
            FROM candidates AS c LEFT JOIN addresses AS a ON a.client_addr = c.client_addr
        ),
        judged AS (  -- per push, the pushes to its repository in the baseline days before it
            SELECT *, count(*) OVER prior AS ci_pushes_count,
                   count(*) FILTER (WHERE NOT by_ci) OVER prior AS other_count,
                   min(occurred_at) OVER prior AS first_at
            FROM pushes
            WINDOW prior AS (
                PARTITION BY registry, repository ORDER BY occurred_at
                RANGE BETWEEN INTERVAL 1 DAY * $baseline_days PRECEDING AND CURRENT ROW EXCLUDE GROUP
            )
        ),
        human AS (
            SELECT * FROM judged
            WHERE NOT by_ci AND occurred_at >= date_trunc('day', $since)
              AND NOT personal_repository(repository, actor, $personal_repositories)
        )
        SELECT
            coalesce(h.actor, 'anonymous') || ' to ' || h.repository AS subject,
            CASE WHEN count(DISTINCT h.registry) = 1 THEN min(h.registry) END AS registry,
            h.repository AS repository,
            CAST(NULL AS VARCHAR) AS tag,
            CAST(NULL AS VARCHAR) AS digest,
            h.actor AS identity,
            CAST(NULL AS VARCHAR) AS client_addr,
            date_trunc('day', h.occurred_at) AS window_start_at,
            date_trunc('day', h.occurred_at) + INTERVAL 1 DAY AS window_end_at,
            coalesce(h.actor, 'anonymous') || ' pushed to ' || h.repository
                || ', which only CI pushed to before (' || max(h.ci_pushes_count) || ' pushes since '
                || CAST(min(h.first_at) AS DATE) || ')' AS summary,
            list('image_activity:' || h.activity_id ORDER BY h.occurred_at, h.activity_id) AS evidence_ids,
            max(h.ci_pushes_count) AS ci_pushes_count
        FROM human AS h
        WHERE h.other_count = 0 AND h.ci_pushes_count >= $min_ci_pushes
        GROUP BY h.actor, h.repository, date_trunc('day', h.occurred_at)
    """
    cases = (
        Case(
            "fires when alice pushes to a repository ci-bot alone fed for ten days",
            rows=(
                *history(push, NOW, days=10, per_day=1),
                push("2025-05-10T11:00", actor="alice", client_addr="192.168.1.20"),
            ),
            expect=1,
            about=({"registry": "default", "repository": "team/app", "identity": "alice"},),
            now=NOW,
            org=ORG,
            subjects=("alice to team/app",),
        ),
        Case(
            "quiet for a repository people already push to, for CI itself, and for alice's own sandbox",
            rows=(
                *history(push, NOW, days=10, per_day=1),
                *history(push, NOW, days=10, per_day=1, repository="sandbox/alice"),
                push("2025-05-10T11:00", actor="alice", repository="sandbox/alice", client_addr="192.168.1.20"),
                push("2025-05-03T11:00", actor="bob", client_addr="192.168.1.30"),
                push("2025-05-10T11:00", actor="alice", client_addr="192.168.1.20"),
                push("2025-05-10T11:30"),
            ),
            expect=0,
            now=NOW,
            org=ORG,
        ),
    )
