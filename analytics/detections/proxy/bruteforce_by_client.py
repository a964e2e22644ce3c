"""Many failed logins from one client address on /v2/ or the token endpoint."""

from __future__ import annotations

from pydantic import Field

from regaudit.analytics.detection import Case, Detection, Parameters, Severity
from regaudit.analytics.fixtures import access, at, burst

NOW = at("2025-05-10T18:00")


class Params(Parameters):
    window_minutes: int = Field(10, ge=1, description="Length of the fixed windows failures are counted in.")
    min_failures: int = Field(10, ge=2, description="Failed logins from one address in one window that fire.")


class BruteForceByClient(Detection):
    id = "proxy.bruteforce_by_client"
    title = "Brute force on registry login from one address"
    severity = Severity.HIGH
    family = "proxy"
    description = (
        "Counts 401 answers on the login endpoints (GET /v2/ and the token endpoint) that carried a claimed "
        "Basic user, per client address and fixed window. The 401 challenge without credentials that starts "
        "every docker login or pull is not counted; repeated wrong passwords are."
    )
    false_positives = ("A CI job retrying with a rotated or mistyped password.",)
    attack = ("T1110.001",)
    references = ("https://jfrog.com/help/r/jfrog-platform-administration-documentation/log-analytics",)
    parameters = Params
    sql = """
        SELECT
            client_addr AS subject,
            time_bucket(INTERVAL 1 MINUTE * $window_minutes, request_at) AS window_start_at,
            time_bucket(INTERVAL 1 MINUTE * $window_minutes, request_at) + INTERVAL 1 MINUTE * $window_minutes
                AS window_end_at,
            client_addr || ' failed ' || count(*) || ' logins in ' || $window_minutes || ' minutes as '
                || string_agg(DISTINCT remote_user, ', ' ORDER BY remote_user) AS summary,
            list('access_log:' || line_key ORDER BY request_at) AS evidence_ids,
            count(*) AS failures_count,
            count(DISTINCT remote_user) AS users_count
        FROM access_log
        WHERE status = 401 AND endpoint IN ('ping', 'token') AND coalesce(remote_user, '') <> ''
          AND request_at >= time_bucket(INTERVAL 1 MINUTE * $window_minutes, $since) AND request_at < $now
        GROUP BY client_addr, time_bucket(INTERVAL 1 MINUTE * $window_minutes, request_at)
        HAVING count(*) >= $min_failures
    """
    cases = (
        Case(
            "fires on 30 wrong passwords for alice from one address in five minutes",
            rows=burst(access, "2025-05-10T03:00", 30, client_addr="203.0.113.9", status=401, remote_user="alice"),
            expect=1,
            now=NOW,
            subjects=("203.0.113.9",),
        ),
        Case(
            "quiet for the credential-less 401 challenge before every pull",
            rows=burst(access, "2025-05-10T03:00", 30, status=401, remote_user=None),
            expect=0,
            now=NOW,
        ),
    )
