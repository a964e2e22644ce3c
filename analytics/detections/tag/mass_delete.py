"""Many images deleted by one identity in a day, far beyond its own earlier days."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import Field

from regaudit.analytics.detection import Case, Detection, Parameters, Row, Severity
from regaudit.analytics.fixtures import activity, at, burst, pull
from regaudit.schemas.sources import Data

NOW = at("2025-05-11T18:00")  # a Sunday
#: a month of a store's traffic before NOW, by someone else
OBSERVED = tuple(pull(f"2025-04-{day:02d}T09:00", actor="kube-prod") for day in range(1, 31))


def _delete(moment: str | datetime, **values: object) -> Row:
    return activity(moment, **{"action": "delete", "tag": None, "user_agent": "curl/8.5.0", **values})


def _digest(index: int) -> str:
    return f"sha256:{index:064x}"


def _weekly(actor: str, count: int, weeks: int) -> tuple[Row, ...]:
    """``count`` deletes by ``actor`` at 03:00 on each of the ``weeks`` Sundays before NOW, in five sandboxes."""
    return tuple(
        row
        for week in range(1, weeks + 1)
        for row in burst(
            _delete,
            at("2025-05-11T03:00") - timedelta(days=7 * week),
            count,
            actor=actor,
            repository=lambda i: f"sandbox/s{i % 5}",
            digest=lambda i, week=week: _digest(week * 1000 + i),
        )
    )


class Params(Parameters):
    baseline_days: int = Field(35, ge=7, description="Prior days whose busiest day of deletes is the baseline.")
    min_observed_days: int = Field(
        8, ge=0, description="Days the store must hold before a day is judged, so a weekly job was seen once."
    )
    min_items: int = Field(25, ge=1, description="Images deleted in the day below which nothing fires.")
    ratio: float = Field(3.0, gt=1, description="How many times the identity's busiest earlier day counts as mass.")
    wide_repositories: int = Field(
        3, ge=1, description="Repositories the day's deletes span from which the finding is high, not medium."
    )


class MassDelete(Detection):
    id = "tag.mass_delete"
    title = "Mass deletion of images by one identity"
    severity = Severity.HIGH
    family = "tag"
    needs = frozenset({Data.DELETES, Data.IDENTITY})
    description = (
        "Counts the images an identity deleted in a UTC day (a manifest deleted by digest and the tag deletes "
        "Distribution reports after it under the same request id are one image; a tag deleted alone is one; "
        "failed deletes, deletes in the identity's own namespace (org.personal_repositories) and deletes with "
        "no identity, such as ECR lifecycle expiries, are not counted) and fires when the day reaches min_items "
        "and more than ratio times the identity's busiest day of the baseline_days before it. Wiping images "
        "(T1485) breaks every deployment that pulls them and destroys the evidence of what ran: a stolen admin "
        "or CI token used for sabotage or extortion deletes far more than its owner ever did, while retention "
        "jobs delete about as much each run as the run before, so their own history keeps them quiet. Judged "
        "once the store holds min_observed_days, so that a weekly clean-up was seen before. High when the day "
        "spans wide_repositories or touches org.protected_repositories, else medium."
    )
    false_positives = (
        "A retention job's first run, or one after a policy change that deletes a large backlog at once.",
        "A planned clean-up or repository migration run by hand with an admin's credential.",
    )
    attack = ("T1485",)
    references = (
        "https://attack.mitre.org/techniques/T1485/",
        "https://github.com/panther-labs/panther-analysis/blob/main/rules/aws_cloudtrail_rules/aws_ecr_crud.yml",
    )
    parameters = Params
    sql = """
        WITH rows AS (
            SELECT identity, actor, registry, repository, tag, digest, request_id, activity_id, occurred_at
            FROM identified_activity  -- identity: the mapped person, else actor
            WHERE source = 'registry' AND action = 'delete' AND counted_as = 'delete' AND coalesce(actor, '') <> ''
              AND occurred_at >= date_trunc('day', $since) - INTERVAL 1 DAY * $baseline_days
              AND occurred_at < $now
        ),
        namespaces AS MATERIALIZED (  -- personal_repository is Python: once per repository and deleting identity
            SELECT repository, actor,
                   personal_repository(repository, actor, $personal_repositories) AS personal,
                   glob_any(repository, $protected_repositories) AS protected
            FROM (SELECT DISTINCT repository, actor FROM rows)
        ),
        deletes AS MATERIALIZED (
            SELECT r.*, n.protected FROM rows AS r
            JOIN namespaces AS n ON n.repository = r.repository AND n.actor = r.actor
            WHERE NOT n.personal
        ),
        manifests AS (  -- the requests that deleted a manifest by digest: their tag deletes are the same image
            SELECT DISTINCT registry, repository, request_id FROM deletes
            WHERE digest IS NOT NULL AND request_id IS NOT NULL
        ),
        items AS (
            SELECT d.* FROM deletes AS d
            ANTI JOIN manifests AS m
              ON d.digest IS NULL AND m.registry = d.registry AND m.repository = d.repository
             AND m.request_id = d.request_id
        ),
        daily AS (
            SELECT identity, date_trunc('day', occurred_at) AS day,
                   count(DISTINCT (registry, repository, coalesce(digest, 'tag ' || tag, 'repository'))) AS items_count,
                   count(DISTINCT (registry, repository)) AS repositories_count,
                   bool_or(protected) AS protected
            FROM items GROUP BY ALL
        ),
        judged AS (
            SELECT c.identity, c.day, c.items_count, c.repositories_count, c.protected,
                   coalesce(max(p.items_count), 0) AS prior_max_count
            FROM daily AS c
            LEFT JOIN daily AS p
              ON p.identity = c.identity AND p.day < c.day AND p.day >= c.day - INTERVAL 1 DAY * $baseline_days
            WHERE c.day >= date_trunc('day', $since)
            GROUP BY ALL
        ),
        fired AS MATERIALIZED (
            SELECT j.* FROM judged AS j CROSS JOIN store_start AS o  -- the store's first event or proxy line
            WHERE j.day >= o.first_day + INTERVAL 1 DAY * $min_observed_days
              AND j.items_count >= $min_items AND j.items_count > $ratio * j.prior_max_count
        ),
        evidence AS (
            SELECT d.identity, date_trunc('day', d.occurred_at) AS day,
                   CASE WHEN count(DISTINCT d.registry) = 1 THEN min(d.registry) END AS registry,
                   CASE WHEN count(DISTINCT d.repository) = 1 THEN min(d.repository) END AS repository,
                   list(DISTINCT d.repository ORDER BY d.repository) AS repositories,
                   list('image_activity:' || d.activity_id ORDER BY d.occurred_at, d.activity_id) AS ids,
                   min(d.occurred_at) AS first_at, max(d.occurred_at) AS last_at
            FROM deletes AS d
            JOIN fired AS f ON f.identity = d.identity AND f.day = date_trunc('day', d.occurred_at)
            GROUP BY ALL
        )
        SELECT
            f.identity AS subject,
            e.registry,
            e.repository,
            CAST(NULL AS VARCHAR) AS tag,
            CAST(NULL AS VARCHAR) AS digest,
            f.identity AS identity,
            CAST(NULL AS VARCHAR) AS client_addr,
            f.day AS window_start_at,
            f.day + INTERVAL 1 DAY AS window_end_at,
            f.identity || ' deleted ' || f.items_count || ' images in ' || f.repositories_count
                || CASE WHEN f.repositories_count = 1 THEN ' repository' ELSE ' repositories' END
                || ' on ' || CAST(f.day AS DATE) || ' between ' || strftime(e.first_at, '%H:%M')
                || ' and ' || strftime(e.last_at, '%H:%M') || ' UTC ('
                || array_to_string(e.repositories[1:5], ', ')
                || CASE WHEN len(e.repositories) > 5 THEN ', ...' ELSE '' END
                || '); its busiest day of the ' || $baseline_days || ' before: ' || f.prior_max_count
                AS summary,
            e.ids AS evidence_ids,
            CASE WHEN f.repositories_count >= $wide_repositories OR f.protected THEN 'high' ELSE 'medium' END
                AS severity,
            f.items_count AS deleted_images_count,
            f.repositories_count,
            f.prior_max_count,
            e.repositories
        FROM fired AS f
        JOIN evidence AS e ON e.identity = f.identity AND e.day = f.day
    """
    cases = (
        Case(
            "fires when an admin token that never deleted wipes 40 images across 8 repositories in an hour",
            rows=(
                *OBSERVED,
                *burst(
                    _delete,
                    "2025-05-11T02:10",
                    40,
                    actor="admin",
                    repository=lambda i: f"team/svc{i % 8}",
                    digest=_digest,
                ),
            ),
            expect=1,
            about=({"identity": "admin", "repository": None, "registry": "default"},),
            now=NOW,
            subjects=("admin",),
        ),
        Case(
            "quiet for a weekly clean-up robot deleting about as much as on the four Sundays before",
            rows=(
                *OBSERVED,
                *_weekly("robot$cleanup", 60, 4),
                *burst(
                    _delete,
                    "2025-05-11T03:00",
                    75,
                    actor="robot$cleanup",
                    repository=lambda i: f"sandbox/s{i % 5}",
                    digest=_digest,
                ),
            ),
            expect=0,
            now=NOW,
        ),
        Case(
            "fires when the clean-up robot's token deletes ten times its usual Sunday, in production too",
            rows=(
                *OBSERVED,
                *_weekly("robot$cleanup", 60, 4),
                *burst(
                    _delete,
                    "2025-05-11T03:00",
                    600,
                    actor="robot$cleanup",
                    repository=lambda i: f"prod/s{i % 2}",
                    digest=_digest,
                ),
            ),
            expect=1,
            about=({"identity": "robot$cleanup", "repository": None},),
            now=NOW,
            org={"protected_repositories": ["prod/*"]},
            subjects=("robot$cleanup",),
        ),
        Case(
            "quiet before the store holds a week: the first clean-up a backfill sees is not news",
            rows=(
                pull("2025-05-08T09:00", actor="kube-prod"),
                *burst(_delete, "2025-05-11T03:00", 60, actor="robot$cleanup", digest=_digest),
            ),
            expect=0,
            now=NOW,
        ),
        Case(
            "quiet for deletes in the identity's own namespace, failed deletes and lifecycle expiries",
            rows=(
                *OBSERVED,
                *burst(_delete, "2025-05-11T10:00", 40, actor="alice", repository="sandbox/alice", digest=_digest),
                *burst(_delete, "2025-05-11T10:00", 40, actor="bob", outcome="failure", digest=_digest),
                *burst(_delete, "2025-05-11T10:00", 40, actor=None, digest=_digest),
            ),
            expect=0,
            now=NOW,
        ),
        Case(
            "counts a manifest and the tag deletes reported after it under its request id as one image",
            rows=(
                *OBSERVED,
                *burst(_delete, "2025-05-11T10:00", 20, actor="carol", digest=_digest, request_id=lambda i: f"req-{i}"),
                *burst(
                    _delete,
                    "2025-05-11T10:00",
                    20,
                    actor="carol",
                    digest=None,
                    tag=lambda i: f"v{i}",
                    request_id=lambda i: f"req-{i}",
                ),
            ),
            expect=0,
            now=NOW,
        ),
        Case(
            "medium when one repository is emptied, with its name",
            rows=(
                *OBSERVED,
                *burst(
                    _delete,
                    "2025-05-11T10:00",
                    30,
                    actor="carol",
                    repository="team/api",
                    digest=None,
                    tag=lambda i: f"1.{i}.0",
                ),
            ),
            expect=1,
            about=({"identity": "carol", "repository": "team/api"},),
            now=NOW,
        ),
    )
