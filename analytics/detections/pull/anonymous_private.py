"""Anonymous pulls of a repository that is not meant to be public."""

from __future__ import annotations

from pydantic import Field

from regaudit.analytics.detection import Case, Detection, Parameters, Severity
from regaudit.analytics.fixtures import at, pull
from regaudit.schemas.sources import Data

NOW = at("2025-05-10T12:00")


class Params(Parameters):
    min_pulls: int = Field(1, ge=1, description="Anonymous pulls (HEAD checks included) per repository and day.")
    repeat_days: int = Field(30, ge=1, description="Prior days an earlier anonymous pull is remembered.")
    routine_days: int = Field(
        3, ge=1, description="Days with anonymous pulls in the prior repeat_days that make a repository public in fact."
    )


class AnonymousPrivatePull(Detection):
    id = "pull.anonymous_private"
    title = "Anonymous pull of a non-public repository"
    severity = Severity.HIGH
    family = "pull"
    needs = frozenset({Data.MANIFEST_PULLS, Data.IDENTITY})  # the address only tells clients apart
    description = (
        "A pull or manifest check without any identity succeeded on a repository that does not match "
        "org.public_repositories. Either the repository is meant to be public and the list is incomplete, or "
        "the registry's authorization lets anonymous clients read private images. It fires when the client "
        "did not pull the repository anonymously in the prior repeat_days, until the repository has been "
        "served anonymously on routine_days of them (then it is public in fact and was reported that often); "
        "read from earlier days, so a backfill agrees with live runs. A repository served anonymously every "
        "day is a few questions, not one finding a day."
    )
    false_positives = (
        "Public repositories missing from org.public_repositories.",
        "A pull-through cache or replication peer that pulls without credentials.",
    )
    attack = ("T1530", "T1190")
    references = ("https://github.com/goharbor/harbor/issues/9969",)
    parameters = Params
    sql = """
        SELECT
            repository AS subject,
            CASE WHEN count(DISTINCT registry) = 1 THEN min(registry) END AS registry,
            repository,
            CAST(NULL AS VARCHAR) AS tag,
            CAST(NULL AS VARCHAR) AS digest,
            CAST(NULL AS VARCHAR) AS identity,
            CAST(NULL AS VARCHAR) AS client_addr,
            date_trunc('day', occurred_at) AS window_start_at,
            date_trunc('day', occurred_at) + INTERVAL 1 DAY AS window_end_at,
            count(*) || ' anonymous pulls of non-public ' || repository || ' from '
                || count(DISTINCT client_addr) || ' address(es)' AS summary,
            list('image_activity:' || activity_id ORDER BY occurred_at, activity_id) AS evidence_ids,
            count(*) AS pulls_count,
            list(DISTINCT client_addr ORDER BY client_addr) AS client_addrs
        FROM image_activity
        WHERE source = 'registry'
          AND action = 'pull'
          AND coalesce(actor, '') = ''
          AND occurred_at >= date_trunc('day', $since) AND occurred_at < $now
          AND NOT glob_any(repository, $public_repositories)
          AND NOT EXISTS (  -- already reported: the same client pulled it anonymously in the prior repeat_days
              SELECT 1 FROM image_activity AS p
              WHERE p.repository = image_activity.repository AND p.source = 'registry' AND p.action = 'pull'
                AND coalesce(p.actor, '') = '' AND p.is_check = image_activity.is_check
                AND p.client_addr IS NOT DISTINCT FROM image_activity.client_addr
                AND p.occurred_at < date_trunc('day', image_activity.occurred_at)
                AND p.occurred_at >= date_trunc('day', image_activity.occurred_at) - INTERVAL 1 DAY * $repeat_days
          )
          AND (  -- a repository served anonymously on routine_days of the prior repeat_days is public in fact
              SELECT count(DISTINCT date_trunc('day', p.occurred_at)) FROM image_activity AS p
              WHERE p.repository = image_activity.repository AND p.source = 'registry' AND p.action = 'pull'
                AND coalesce(p.actor, '') = '' AND p.is_check = image_activity.is_check
                AND p.occurred_at < date_trunc('day', image_activity.occurred_at)
                AND p.occurred_at >= date_trunc('day', image_activity.occurred_at) - INTERVAL 1 DAY * $repeat_days
          ) < $routine_days
        GROUP BY repository, date_trunc('day', occurred_at)
        HAVING count(*) >= $min_pulls
    """
    cases = (
        Case(
            "fires on an anonymous pull of a private repository",
            rows=(pull("2025-05-10T09:00", actor=None, repository="team/secret"),),
            expect=1,
            about=({"registry": "default", "repository": "team/secret"},),
            now=NOW,
            subjects=("team/secret",),
        ),
        Case(
            "quiet for a public repository and for authenticated pulls",
            rows=(
                pull("2025-05-10T09:00", actor=None, repository="library/alpine"),
                pull("2025-05-10T09:00", actor="alice", repository="team/secret"),
            ),
            expect=0,
            now=NOW,
            org={"public_repositories": ["library/*"]},
        ),
        Case(
            "fires once for a repository pulled anonymously every day, on the first day",
            rows=tuple(pull(f"2025-05-{day:02d}T09:00", actor=None, repository="public/cli") for day in range(8, 11)),
            expect=1,
            now=NOW,
            subjects=("public/cli",),
        ),
        Case(
            "quiet once a repository was served anonymously on three of the prior days, whoever pulls it",
            rows=(
                *(pull(f"2025-05-{day:02d}T09:00", actor=None, repository="public/cli") for day in range(1, 4)),
                pull("2025-05-10T09:00", actor=None, repository="public/cli", client_addr="203.0.113.8"),
            ),
            expect=0,
            now=NOW,
        ),
    )
