"""An identity's first push to a repository that others have been pushing to."""

from __future__ import annotations

from pydantic import Field

from regaudit.analytics.detection import Case, Detection, Parameters, Severity
from regaudit.analytics.fixtures import at, push
from regaudit.schemas.sources import Data

NOW = at("2025-05-10T18:00")


class Params(Parameters):
    min_observed_days: int = Field(
        7, ge=0, description="Days of pushes the store must hold before a first push means anything."
    )
    max_writers: int = Field(
        4,
        ge=1,
        description="Earlier writers above which a repository counts as shared (sandboxes) and is skipped.",
    )


class FirstPushToRepository(Detection):
    id = "push.first_to_repository"
    title = "First push by an identity to an established repository"
    severity = Severity.MEDIUM
    family = "push"
    needs = frozenset({Data.PUSHES, Data.IDENTITY})
    description = (
        "The first push an identity made to a repository that already had pushes by one to max_writers other "
        "identities, once the store has held pushes for min_observed_days (before that, every writer is "
        "new). Repositories have a small, stable set of writers (a pipeline, a release manager); a new "
        "writer is either an onboarding or someone using write access they were never meant to use. Pushes "
        "of cosign signature and referrer-fallback tags are ignored, since signers legitimately differ from "
        "builders, and so are an identity's pushes to its own namespace (org.personal_repositories), where a "
        "build job may have pushed first; someone else's first push there is reported."
    )
    false_positives = ("A new pipeline, robot or maintainer taking over a repository.",)
    attack = ("T1525", "T1078")
    references = (
        "https://research.splunk.com/cloud/aws_ecr_container_upload_unknown_user/",
        "https://github.com/panther-labs/panther-analysis/blob/main/rules/aws_cloudtrail_rules/aws_ecr_events.yml",
    )
    parameters = Params
    sql = """
        WITH candidates AS (
            SELECT * FROM image_activity
            WHERE source = 'registry' AND action = 'push' AND coalesce(actor, '') <> '' AND occurred_at < $now
        ),
        tag_classes AS (  -- tag_class is Python: once per distinct tag, not once per push
            SELECT tag, tag_class(tag, $protected_tag_patterns) AS class
            FROM (SELECT DISTINCT tag FROM candidates WHERE tag IS NOT NULL)
        ),
        pushes AS (
            SELECT c.* FROM candidates AS c LEFT JOIN tag_classes AS t ON t.tag = c.tag
            WHERE coalesce(t.class, 'untagged') NOT IN ('signature', 'referrer')
        ),
        observed AS (SELECT min(occurred_at) AS since_at FROM pushes),
        firsts AS MATERIALIZED (  -- the first push's own row: ties on time go to the least key, one row for all
            SELECT registry, repository, actor, first_at, first_push.activity_id AS activity_id,
                   first_push.tag AS tag, first_push.client_addr AS client_addr, first_push.digest AS digest
            FROM (
                SELECT registry, repository, actor, min(occurred_at) AS first_at,
                       arg_min(struct_pack(activity_id, tag, client_addr, digest),
                               (occurred_at, activity_id)) AS first_push
                FROM pushes GROUP BY registry, repository, actor
            )
        ),
        ranked AS (  -- how many writers pushed before each one's first push, without listing them all
            SELECT *, rank() OVER (PARTITION BY registry, repository ORDER BY first_at) - 1 AS earlier_count
            FROM firsts
        )
        SELECT
            f.actor || ' to ' || f.repository AS subject,
            f.registry AS registry,
            f.repository AS repository,
            f.tag AS tag,
            f.digest AS digest,
            f.actor AS identity,
            f.client_addr AS client_addr,
            f.first_at AS window_start_at,
            f.first_at AS window_end_at,
            f.actor || ' pushed to ' || f.repository || coalesce(':' || f.tag, '') || ' for the first time'
                || coalesce(' from ' || f.client_addr, '') || '; earlier writers: '
                || string_agg(DISTINCT p.actor, ', ' ORDER BY p.actor) AS summary,
            ['image_activity:' || f.activity_id] AS evidence_ids,
            count(DISTINCT p.actor) AS earlier_writers_count
        FROM ranked AS f
        CROSS JOIN observed
        JOIN firsts AS p ON p.registry = f.registry AND p.repository = f.repository
            AND p.actor <> f.actor AND p.first_at < f.first_at  -- another writer's first push came earlier
        WHERE f.first_at >= $since
          AND f.first_at >= observed.since_at + INTERVAL 1 DAY * $min_observed_days
          AND f.earlier_count <= $max_writers
          AND NOT personal_repository(f.repository, f.actor, $personal_repositories)
        GROUP BY f.registry, f.repository, f.actor, f.first_at, f.activity_id, f.tag, f.client_addr, f.digest
        HAVING count(DISTINCT p.actor) <= $max_writers
    """
    cases = (
        Case(
            "fires when alice pushes to a repository only ci-bot wrote to",
            rows=(
                push("2025-04-01T09:00"),
                push("2025-05-10T09:00", actor="alice", user_agent="docker/27.3.1"),
            ),
            expect=1,
            about=(
                {
                    "registry": "default",
                    "repository": "team/app",
                    "tag": "v1",
                    "digest": "sha256:" + "a" * 64,
                    "identity": "alice",
                    "client_addr": "10.0.0.5",
                },
            ),
            now=NOW,
            subjects=("alice to team/app",),
        ),
        Case(
            "quiet for a brand-new repository, a known writer, a signer and a shared sandbox",
            rows=(
                push("2025-05-10T09:00", repository="team/new", actor="alice"),
                push("2025-04-01T09:00"),
                push("2025-05-10T09:00"),
                push("2025-05-10T09:05", actor="robot$signer", tag="sha256-" + "a" * 64 + ".sig"),
                *(push("2025-04-02T09:00", repository="team/sandbox", actor=f"dev{i}") for i in range(5)),
                push("2025-05-10T09:00", repository="team/sandbox", actor="alice"),
            ),
            expect=0,
            now=NOW,
        ),
        Case(
            "fires when bob pushes into alice's sandbox; quiet for alice there after her build job",
            rows=(
                push("2025-04-01T09:00", repository="sandbox/alice"),
                push("2025-05-09T09:00", repository="sandbox/alice", actor="alice"),
                push("2025-05-10T09:00", repository="sandbox/alice", actor="bob", client_addr="192.168.1.30"),
            ),
            expect=1,
            about=({"repository": "sandbox/alice", "identity": "bob", "client_addr": "192.168.1.30"},),
            now=NOW,
            subjects=("bob to sandbox/alice",),
        ),
        Case(
            "quiet in the store's first days, when every writer is new to it",
            rows=(push("2025-05-08T09:00"), push("2025-05-10T09:00", actor="alice")),
            expect=0,
            now=NOW,
        ),
    )
