"""An identity listing the tags of far more repositories than it usually does."""

from __future__ import annotations

from pydantic import Field

from regaudit.analytics.detection import Case, Detection, Parameters, Severity
from regaudit.analytics.fixtures import access, at, burst, history
from regaudit.schemas.sources import Data

NOW = at("2025-05-10T18:00")


def tags_list(**values: object) -> dict[str, object]:
    return {"endpoint": "tags", "uri": "/v2/x/tags/list", **values}


MALLORY = tags_list(remote_user="mallory", repository=lambda i: f"team/r{i}")
RENOVATE = tags_list(remote_user="renovate", repository=lambda i: f"team/r{i}")


class Params(Parameters):
    baseline_days: int = Field(14, ge=1, description="Prior days the identity's usual breadth is taken from.")
    mad_factor: float = Field(5.0, gt=0, description="How many scaled MADs above the median counts as anomalous.")
    min_spread: float = Field(2.0, ge=0, description="Floor on the scaled MAD, so a flat baseline is not brittle.")
    min_repositories: int = Field(
        15, ge=2, description="Distinct repositories listed in a day below which nothing fires."
    )
    min_observed_days: int = Field(7, ge=0, description="Days of proxy log the store must hold before judging.")


class TagEnumeration(Detection):
    id = "pull.tag_enumeration"
    title = "Tag lists enumerated across many repositories"
    severity = Severity.MEDIUM
    family = "pull"
    needs = frozenset({Data.REQUESTS})
    description = (
        "Counts, per identity (the claimed user, else the client address) and UTC day, the distinct "
        "repositories whose /v2/<name>/tags/list it requested, and compares the day with the identity's "
        "prior days (median and MAD, zero when it never listed tags; from min_observed_days into the store): "
        "listing tags repository after repository is how an intruder maps what a credential reaches. "
        "Renovate-like bots that list the same many repositories every day set their own high baseline and "
        "stay quiet."
    )
    false_positives = (
        "A new dependency bot, scanner or registry UI on its first day.",
        "Token-authenticated clients are counted by address, so a NAT gateway mixes several users.",
    )
    attack = ("T1613", "T1580")
    references = ("https://github.com/opencontainers/distribution-spec/blob/main/spec.md#listing-tags",)
    parameters = Params
    sql = """
        WITH observed AS (SELECT min(request_at) AS since_at FROM access_log),
        daily AS (
            SELECT coalesce(nullif(remote_user, ''), client_addr) AS identity,
                   date_trunc('day', request_at) AS day,
                   count(DISTINCT repository) AS repositories_count,
                   count(*) AS requests_count,
                   list('access_log:' || line_key ORDER BY request_at, line_key) AS ids,
                   list(DISTINCT client_addr ORDER BY client_addr) AS client_addrs
            FROM access_log
            WHERE endpoint = 'tags' AND repository IS NOT NULL
              AND request_at >= date_trunc('day', $since) - INTERVAL 1 DAY * $baseline_days AND request_at < $now
            GROUP BY ALL
        ),
        prior AS (
            SELECT c.identity, c.day, coalesce(p.repositories_count, 0) AS repositories_count
            FROM daily AS c
            CROSS JOIN range(1, $baseline_days + 1) AS r(days_back)
            LEFT JOIN daily AS p ON p.identity = c.identity AND p.day = c.day - INTERVAL 1 DAY * r.days_back
        ),
        baseline AS (
            SELECT identity, day, median(repositories_count) AS median_count, mad(repositories_count) AS mad_count
            FROM prior GROUP BY identity, day
        )
        SELECT
            c.identity AS subject,
            CAST(NULL AS VARCHAR) AS registry,
            CAST(NULL AS VARCHAR) AS repository,
            CAST(NULL AS VARCHAR) AS tag,
            CAST(NULL AS VARCHAR) AS digest,
            c.identity AS identity,
            CAST(NULL AS VARCHAR) AS client_addr,
            c.day AS window_start_at,
            c.day + INTERVAL 1 DAY AS window_end_at,
            c.identity || ' listed the tags of ' || c.repositories_count || ' repositories in '
                || c.requests_count || ' requests on ' || CAST(c.day AS DATE) || ' (usually '
                || b.median_count || ')' AS summary,
            c.ids AS evidence_ids,
            c.repositories_count,
            b.median_count,
            c.client_addrs
        FROM daily AS c
        JOIN baseline AS b ON b.identity = c.identity AND b.day = c.day
        CROSS JOIN observed
        WHERE c.day >= date_trunc('day', $since)
          AND c.day >= observed.since_at + INTERVAL 1 DAY * $min_observed_days
          AND c.repositories_count >= $min_repositories
          AND c.repositories_count > b.median_count + $mad_factor * greatest(1.4826 * b.mad_count, $min_spread)
    """
    cases = (
        Case(
            "fires on a user listing the tags of twenty repositories",
            rows=(access("2025-04-20T03:00"), *burst(access, "2025-05-10T03:00", 20, **MALLORY)),
            expect=1,
            about=({"identity": "mallory"},),
            now=NOW,
            subjects=("mallory",),
        ),
        Case(
            "quiet for a bot that lists the same twenty repositories every day, and a client listing one",
            rows=(
                *history(access, NOW, days=14, per_day=20, **RENOVATE),
                *burst(access, "2025-05-10T03:00", 20, **RENOVATE),
                *burst(access, "2025-05-10T03:00", 40, **tags_list(repository="team/app")),
            ),
            expect=0,
            now=NOW,
        ),
        Case(
            "quiet in the store's first week, when every lister is new to it",
            rows=burst(access, "2025-05-10T03:00", 20, **MALLORY),
            expect=0,
            now=NOW,
        ),
    )
