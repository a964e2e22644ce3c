"""A CI identity, or anyone writing to a protected repository, pushing from outside the CI networks."""

from __future__ import annotations

from regaudit.analytics.detection import Case, Detection, Severity
from regaudit.analytics.fixtures import at, push
from regaudit.schemas.sources import Data

NOW = at("2025-05-10T18:00")
ORG = {"ci_networks": ["10.8.0.0/16"], "ci_identities": ["ci-bot"], "protected_repositories": ["prod/*"]}


class PushOutsideCiNetwork(Detection):
    id = "push.outside_ci_network"
    title = "Push from outside the CI networks"
    severity = Severity.HIGH
    family = "push"
    needs = frozenset({Data.PUSHES, Data.CLIENT_ADDRESS})
    description = (
        "A push from an address outside org.ci_networks by an identity in org.ci_identities, or by anyone to "
        "a repository matching org.protected_repositories, grouped per identity, repository and UTC day. CI "
        "tokens belong on runners and release repositories are written by pipelines: a laptop or an unknown "
        "host pushing there is a stolen token or a bypassed pipeline. Quiet while org.ci_networks is empty, and "
        "on pushes whose address the source does not report (Harbor's webhooks): unknown is not outside."
    )
    false_positives = (
        "New runner pools whose egress is not yet in org.ci_networks.",
        "Emergency manual releases.",
    )
    attack = ("T1525", "T1078")
    references = ("https://research.splunk.com/cloud/aws_ecr_container_upload_unknown_user/",)
    sql = """
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
            coalesce(actor, 'anonymous') || ' pushed ' || count(*) || ' time(s) to ' || repository
                || ' from ' || string_agg(DISTINCT client_addr, ', ' ORDER BY client_addr)
                || ', outside the CI networks'
                || CASE WHEN glob_any(repository, $protected_repositories)
                        THEN ' (protected repository)' ELSE '' END
                AS summary,
            list('image_activity:' || activity_id ORDER BY occurred_at, activity_id) AS evidence_ids,
            count(*) AS pushes_count
        FROM image_activity
        WHERE source = 'registry' AND action = 'push'
          AND len($ci_networks) > 0
          AND client_addr IS NOT NULL AND NOT in_networks(client_addr, $ci_networks)
          AND (list_contains($ci_identities, coalesce(actor, ''))
               OR glob_any(repository, $protected_repositories))
          AND occurred_at >= date_trunc('day', $since) AND occurred_at < $now
        GROUP BY actor, repository, date_trunc('day', occurred_at)
    """
    cases = (
        Case(
            "fires for the CI token pushing from a laptop and for alice pushing to prod",
            rows=(
                push("2025-05-10T09:00", client_addr="192.168.1.20"),
                push("2025-05-10T09:00", actor="alice", repository="prod/api", client_addr="192.168.1.21"),
            ),
            expect=2,
            about=(
                {"registry": "default", "repository": "team/app", "identity": "ci-bot", "client_addr": "192.168.1.20"},
                {"registry": "default", "repository": "prod/api", "identity": "alice", "client_addr": "192.168.1.21"},
            ),
            now=NOW,
            org=ORG,
        ),
        Case(
            "quiet for pushes from the runners and for alice pushing to a sandbox",
            rows=(
                push("2025-05-10T09:00", client_addr="10.8.3.4"),
                push("2025-05-10T09:00", repository="prod/api", client_addr="10.8.3.4"),
                push("2025-05-10T09:00", actor="alice", repository="sandbox/x", client_addr="192.168.1.21"),
            ),
            expect=0,
            now=NOW,
            org=ORG,
        ),
        Case(
            "quiet for a CI push to a protected repository from an address the source never reports (Harbor)",
            rows=(
                push("2025-05-10T09:00", client_addr=None, user_agent=None),
                push("2025-05-10T09:00", repository="prod/api", client_addr=None, user_agent=None),
            ),
            expect=0,
            now=NOW,
            org=ORG,
        ),
    )
