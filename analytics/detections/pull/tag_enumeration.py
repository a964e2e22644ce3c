"""One client listing the tags of many repositories in a short window."""

from __future__ import annotations

from pydantic import Field

from regaudit.analytics.detection import Case, Detection, Parameters, Severity
from regaudit.analytics.fixtures import access, at, burst

NOW = at("2025-05-10T18:00")


class Params(Parameters):
    window_minutes: int = Field(60, ge=1, description="Length of the fixed windows requests are counted in.")
    min_repositories: int = Field(15, ge=2, description="Distinct repositories whose tags a client lists.")


class TagEnumeration(Detection):
    id = "pull.tag_enumeration"
    title = "Tag lists enumerated across many repositories"
    severity = Severity.MEDIUM
    family = "pull"
    description = (
        "Counts, per client address and fixed window, the distinct repositories whose /v2/<name>/tags/list "
        "the "
        "client requested, whatever the answer. Listing tags repository after repository is how an intruder "
        "maps what a credential can reach before pulling; normal clients resolve one tag they already know."
    )
    false_positives = (
        "Renovate, Dependabot, Watchtower or vulnerability scanners checking many repositories for new tags.",
        "Registry UIs that list tags for every repository they show.",
    )
    attack = ("T1613", "T1580")
    references = ("https://github.com/opencontainers/distribution-spec/blob/main/spec.md#listing-tags",)
    parameters = Params
    sql = """
        SELECT
            client_addr AS subject,
            time_bucket(INTERVAL 1 MINUTE * $window_minutes, request_at) AS window_start_at,
            time_bucket(INTERVAL 1 MINUTE * $window_minutes, request_at) + INTERVAL 1 MINUTE * $window_minutes
                AS window_end_at,
            client_addr || ' listed the tags of ' || count(DISTINCT repository) || ' repositories in '
                || count(*) || ' requests (users: '
                || coalesce(string_agg(DISTINCT remote_user, ', ' ORDER BY remote_user), 'none') || ')'
                AS summary,
            list('access_log:' || line_key ORDER BY request_at) AS evidence_ids,
            count(DISTINCT repository) AS repositories_count,
            count(*) AS requests_count
        FROM access_log
        WHERE endpoint = 'tags' AND repository IS NOT NULL
          AND request_at >= time_bucket(INTERVAL 1 MINUTE * $window_minutes, $since) AND request_at < $now
        GROUP BY client_addr, time_bucket(INTERVAL 1 MINUTE * $window_minutes, request_at)
        HAVING count(DISTINCT repository) >= $min_repositories
    """
    cases = (
        Case(
            "fires on one address listing the tags of twenty repositories",
            rows=burst(
                access,
                "2025-05-10T03:00",
                20,
                client_addr="198.51.100.9",
                endpoint="tags",
                repository=lambda i: f"team/r{i}",
                uri="/v2/x/tags/list",
            ),
            expect=1,
            now=NOW,
            subjects=("198.51.100.9",),
        ),
        Case(
            "quiet for a client listing the same repository's tags repeatedly",
            rows=burst(access, "2025-05-10T03:00", 40, endpoint="tags", repository="team/app"),
            expect=0,
            now=NOW,
        ),
    )
