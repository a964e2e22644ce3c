"""Deletes of manifests, tags or repositories in a protected repository."""

from __future__ import annotations

from regaudit.analytics.detection import Case, Detection, Severity
from regaudit.analytics.fixtures import activity, at
from regaudit.schemas.sources import Data

NOW = at("2025-05-10T18:00")


class ProtectedRepositoryDelete(Detection):
    id = "tag.protected_delete"
    title = "Delete in a protected repository"
    severity = Severity.HIGH
    family = "tag"
    needs = frozenset({Data.DELETES})
    description = (
        "Any delete the registry performed (manifest by digest, tag, or repository; not one it reported as "
        "failed, as ECR's BatchDeleteImage failures) in a repository matching "
        "org.protected_repositories, grouped per identity, repository and UTC day. Deleting released images "
        "breaks deployments and destroys evidence; in protected repositories it should be rare and planned."
    )
    false_positives = ("Planned retention clean-ups run with a human's credential.",)
    attack = ("T1485", "T1070")
    references = (
        "https://github.com/panther-labs/panther-analysis/blob/main/rules/aws_cloudtrail_rules/aws_ecr_crud.yml",
    )
    sql = """
        SELECT
            coalesce(actor, 'anonymous') || ' in ' || repository AS subject,
            CASE WHEN count(DISTINCT registry) = 1 THEN min(registry) END AS registry,
            repository,
            CAST(NULL AS VARCHAR) AS tag,
            CAST(NULL AS VARCHAR) AS digest,
            actor AS identity,
            CAST(NULL AS VARCHAR) AS client_addr,
            date_trunc('day', occurred_at) AS window_start_at,
            date_trunc('day', occurred_at) + INTERVAL 1 DAY AS window_end_at,
            coalesce(actor, 'anonymous') || ' deleted ' || count(*) || ' item(s) in protected ' || repository
                || ': '
                || string_agg(coalesce(tag, left(digest, 19), 'repository'), ', ' ORDER BY occurred_at)
                AS summary,
            list('image_activity:' || activity_id ORDER BY occurred_at, activity_id) AS evidence_ids,
            count(*) AS deletes_count
        FROM image_activity
        WHERE source = 'registry' AND action = 'delete' AND coalesce(outcome, 'success') <> 'failure'
          AND glob_any(repository, $protected_repositories)
          AND occurred_at >= date_trunc('day', $since) AND occurred_at < $now
        GROUP BY actor, repository, date_trunc('day', occurred_at)
    """
    cases = (
        Case(
            "fires when alice deletes a release manifest in prod/api",
            rows=(activity("2025-05-10T09:00", action="delete", repository="prod/api", tag=None),),
            expect=1,
            about=({"registry": "default", "repository": "prod/api", "identity": "alice"},),
            now=NOW,
            org={"protected_repositories": ["prod/*"]},
            subjects=("alice in prod/api",),
        ),
        Case(
            "quiet for deletes elsewhere and refused deletes",
            rows=(
                activity("2025-05-10T09:00", action="delete", repository="sandbox/x"),
                activity(
                    "2025-05-10T09:00",
                    action="delete",
                    repository="prod/api",
                    source="proxy",
                    proxy_status=403,
                ),
                activity("2025-05-10T09:00", action="delete", repository="prod/api", outcome="failure"),
            ),
            expect=0,
            now=NOW,
            org={"protected_repositories": ["prod/*"]},
        ),
    )
