"""Bursts of refused or unknown-repository answers over many repositories from one client."""

from __future__ import annotations

from pydantic import Field

from regaudit.analytics.detection import Case, Detection, Parameters, Severity
from regaudit.analytics.fixtures import access, activity, at, burst
from regaudit.schemas.sources import Data

NOW = at("2025-05-10T18:00")


class Params(Parameters):
    window_minutes: int = Field(60, ge=1, description="Length of the windows refusals are counted in.")
    min_refusals: int = Field(10, ge=2, description="401/403/404 answers from one client in one window.")
    min_repositories: int = Field(5, ge=2, description="Distinct repositories those answers must span.")


class AuthorizationProbing(Detection):
    id = "proxy.authorization_probing"
    title = "Authorization probing across repositories"
    severity = Severity.MEDIUM
    family = "proxy"
    needs = frozenset({Data.REFUSALS, Data.IDENTITY, Data.CLIENT_ADDRESS})
    description = (
        "Counts 403 and 404 answers, and 401 answers to requests that claimed a user, on manifest, blob and "
        "tag-list requests per client (address and claimed user) and window, and fires when they are many "
        "and span many repositories: someone testing which repositories a credential can read, or guessing "
        "repository names. The 401 challenge to a request without credentials is how every pull starts and "
        "is not counted; neither are blob HEAD 404s (normal during pushes). Windows of window_minutes start "
        "every half window, so a burst across a boundary is still seen; of windows firing back to back only "
        "the first is reported. Refusals a registry reports itself (Quay's pull_repo_failed, a denied ECR call, "
        "outcome 'failure') count beside the proxy's answers, under the client and identity the registry names."
    )
    false_positives = ("Misconfigured deployments pulling many images that were deleted or renamed.",)
    attack = ("T1613", "T1087")
    references = ("https://jfrog.com/help/r/jfrog-platform-administration-documentation/log-analytics",)
    parameters = Params
    sql = """
        WITH events AS (
            SELECT client_addr, remote_user, request_at, status, repository, 'access_log:' || line_key AS evidence_id,
                   time_bucket(to_seconds($window_minutes * 30), request_at) AS half_at
            FROM access_log
            WHERE (status IN (403, 404) OR status = 401 AND coalesce(remote_user, '') <> '')
              AND endpoint IN ('manifest', 'blob', 'tags') AND repository IS NOT NULL
              AND NOT (endpoint = 'blob' AND http_method = 'HEAD' AND status = 404)
              AND request_at >= time_bucket(to_seconds($window_minutes * 30), $since) - to_seconds($window_minutes * 60)
              AND request_at < $now
            UNION ALL
            -- a refusal the registry reported itself: no status code, the action it refused
            SELECT client_addr, actor, occurred_at, NULL, repository, 'image_activity:' || activity_id,
                   time_bucket(to_seconds($window_minutes * 30), occurred_at)
            FROM image_activity
            WHERE source = 'registry' AND outcome = 'failure' AND action IN ('pull', 'push', 'delete')
              AND repository IS NOT NULL AND client_addr IS NOT NULL
              AND occurred_at >= time_bucket(to_seconds($window_minutes * 30), $since)
                  - to_seconds($window_minutes * 60)
              AND occurred_at < $now
        ),
        windows AS (
            SELECT e.*, e.half_at - to_seconds($window_minutes * 30) * h.back AS window_at
            FROM events AS e CROSS JOIN range(2) AS h(back)
        ),
        fired AS (
            SELECT client_addr, remote_user, window_at, count(*) AS refusals_count,
                   count(*) FILTER (WHERE status = 401) AS status_401_count,
                   count(*) FILTER (WHERE status = 403) AS status_403_count,
                   count(*) FILTER (WHERE status = 404) AS status_404_count,
                   count(*) FILTER (WHERE status IS NULL) AS registry_refused_count,
                   count(DISTINCT repository) AS repositories_count,
                   list(evidence_id ORDER BY request_at, evidence_id) AS evidence_ids
            FROM windows
            GROUP BY client_addr, remote_user, window_at
            HAVING count(*) >= $min_refusals AND count(DISTINCT repository) >= $min_repositories
        )
        SELECT
            f.client_addr || coalesce(' as ' || nullif(f.remote_user, ''), '') AS subject,
            CAST(NULL AS VARCHAR) AS registry,
            CAST(NULL AS VARCHAR) AS repository,
            CAST(NULL AS VARCHAR) AS tag,
            CAST(NULL AS VARCHAR) AS digest,
            nullif(f.remote_user, '') AS identity,
            f.client_addr AS client_addr,
            f.window_at AS window_start_at,
            f.window_at + INTERVAL 1 MINUTE * $window_minutes AS window_end_at,
            f.client_addr || ' got ' || f.refusals_count || ' refusals (' || f.status_401_count || 'x401, '
                || f.status_403_count || 'x403, ' || f.status_404_count || 'x404'
                || CASE WHEN f.registry_refused_count > 0
                        THEN ', ' || f.registry_refused_count || ' refused by the registry' ELSE '' END
                || ') over ' || f.repositories_count || ' repositories' AS summary,
            f.evidence_ids,
            f.refusals_count,
            f.repositories_count
        FROM fired AS f
        WHERE f.window_at >= time_bucket(to_seconds($window_minutes * 30), $since) - to_seconds($window_minutes * 30)
          AND NOT EXISTS (
              SELECT 1 FROM fired AS p
              WHERE p.client_addr IS NOT DISTINCT FROM f.client_addr
                AND p.remote_user IS NOT DISTINCT FROM f.remote_user
                AND p.window_at = f.window_at - to_seconds($window_minutes * 30)
          )
    """
    cases = (
        Case(
            "fires on 403s for twelve repositories from one credential",
            rows=burst(
                access,
                "2025-05-10T03:00",
                12,
                client_addr="203.0.113.5",
                remote_user="bob",
                status=403,
                endpoint="manifest",
                repository=lambda i: f"secret/r{i}",
            ),
            expect=1,
            about=({"identity": "bob", "client_addr": "203.0.113.5"},),
            now=NOW,
            subjects=("203.0.113.5 as bob",),
        ),
        Case(
            "fires once on probes from 11:59 to 12:01, across the hour",
            rows=burst(
                access,
                "2025-05-10T11:59:00",
                12,
                client_addr="203.0.113.5",
                remote_user="bob",
                status=404,
                endpoint="manifest",
                repository=lambda i: f"secret/r{i}",
            ),
            expect=1,
            now=NOW,
        ),
        Case(
            "quiet for blob HEAD 404s during a push, one missing tag pulled repeatedly, and credential-less 401s",
            rows=(
                *burst(
                    access,
                    "2025-05-10T03:00",
                    20,
                    http_method="HEAD",
                    endpoint="blob",
                    status=404,
                    repository=lambda i: f"team/r{i}",
                ),
                *burst(access, "2025-05-10T03:00", 20, endpoint="manifest", status=404, repository="team/app"),
            ),
            expect=0,
            now=NOW,
        ),
        Case(
            "fires on pulls the registry refused itself (Quay pull_repo_failed, a denied ECR call), many repositories",
            rows=burst(
                activity,
                "2025-05-10T03:00",
                12,
                outcome="failure",
                actor="arn:aws:iam::111122223333:user/ci",
                client_addr="198.51.100.7",
                repository=lambda i: f"prod/r{i}",
            ),
            expect=1,
            about=({"identity": "arn:aws:iam::111122223333:user/ci", "client_addr": "198.51.100.7"},),
            now=NOW,
        ),
        Case(
            "quiet for the same pulls when the registry served them, and for refusals with no client address",
            rows=(
                *burst(activity, "2025-05-10T03:00", 12, repository=lambda i: f"prod/r{i}"),
                *burst(
                    activity,
                    "2025-05-10T05:00",
                    12,
                    outcome="failure",
                    client_addr=None,
                    repository=lambda i: f"prod/r{i}",
                ),
            ),  # fmt: skip
            expect=0,
            now=NOW,
        ),
    )
