"""A person pushing to a repository that only CI has pushed to."""

from __future__ import annotations

from pydantic import Field

from regaudit.analytics.detection import Case, Detection, Parameters, Severity
from regaudit.analytics.fixtures import at, history, push

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
    description = (
        "A repository whose pushes over the prior baseline_days all came from CI (an identity in "
        "org.ci_identities, or an address in org.ci_networks), at least min_ci_pushes of them, receives a "
        "push from anyone else: a person bypassing the pipeline, or a stolen human credential with write "
        "access. Grouped per identity, repository and UTC day."
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
        ci_addresses AS (  -- in_networks is Python: once per distinct address, not once per push
            SELECT client_addr FROM (SELECT DISTINCT client_addr FROM candidates)
            WHERE in_networks(client_addr, $ci_networks)
        ),
        pushes AS MATERIALIZED (
            SELECT *,
                   list_contains($ci_identities, coalesce(actor, ''))
                       OR coalesce(client_addr IN (SELECT client_addr FROM ci_addresses), FALSE) AS by_ci
            FROM candidates
        ),
        human AS (SELECT * FROM pushes WHERE NOT by_ci AND occurred_at >= date_trunc('day', $since))
        SELECT
            coalesce(h.actor, 'anonymous') || ' to ' || h.repository AS subject,
            date_trunc('day', h.occurred_at) AS window_start_at,
            date_trunc('day', h.occurred_at) + INTERVAL 1 DAY AS window_end_at,
            coalesce(h.actor, 'anonymous') || ' pushed to ' || h.repository
                || ', which only CI pushed to before (' || max(b.ci_pushes_count) || ' pushes since '
                || CAST(min(b.first_at) AS DATE) || ')' AS summary,
            list('image_activity:' || h.activity_id ORDER BY h.occurred_at) AS evidence_ids,
            max(b.ci_pushes_count) AS ci_pushes_count
        FROM human AS h
        JOIN LATERAL (
            SELECT count(*) AS ci_pushes_count, count(*) FILTER (WHERE NOT p.by_ci) AS other_count,
                   min(p.occurred_at) AS first_at
            FROM pushes AS p
            WHERE p.registry = h.registry AND p.repository = h.repository AND p.occurred_at < h.occurred_at
              AND p.occurred_at >= h.occurred_at - INTERVAL 1 DAY * $baseline_days
        ) AS b ON TRUE
        WHERE b.other_count = 0 AND b.ci_pushes_count >= $min_ci_pushes
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
            now=NOW,
            org=ORG,
            subjects=("alice to team/app",),
        ),
        Case(
            "quiet for a repository people already push to, and for CI itself",
            rows=(
                *history(push, NOW, days=10, per_day=1),
                push("2025-05-03T11:00", actor="bob", client_addr="192.168.1.30"),
                push("2025-05-10T11:00", actor="alice", client_addr="192.168.1.20"),
                push("2025-05-10T11:30"),
            ),
            expect=0,
            now=NOW,
            org=ORG,
        ),
    )
