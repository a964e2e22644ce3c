"""Many failed logins for one claimed user, from any number of addresses."""

from __future__ import annotations

from pydantic import Field

from regaudit.analytics.detection import Case, Detection, Parameters, Severity
from regaudit.analytics.fixtures import access, at, burst

NOW = at("2025-05-10T18:00")


class Params(Parameters):
    window_minutes: int = Field(60, ge=1, description="Length of the fixed windows failures are counted in.")
    min_failures: int = Field(15, ge=2, description="Failed logins for one user in one window that fire.")


class BruteForceByUser(Detection):
    id = "proxy.bruteforce_by_user"
    title = "Brute force on one registry account"
    severity = Severity.HIGH
    family = "proxy"
    description = (
        "Counts 401 answers on the login endpoints (GET /v2/ and the token endpoint) per claimed Basic user "
        "and fixed window, whatever the address. Catches guessing spread over many source addresses, which "
        "the per-address count misses, and credentials that stopped working but are still being tried."
    )
    false_positives = ("Fleets of nodes or jobs all retrying with a rotated password.",)
    attack = ("T1110.001",)
    references = ("https://github.com/goharbor/harbor/issues/16423",)
    parameters = Params
    sql = """
        SELECT
            remote_user AS subject,
            time_bucket(INTERVAL 1 MINUTE * $window_minutes, request_at) AS window_start_at,
            time_bucket(INTERVAL 1 MINUTE * $window_minutes, request_at) + INTERVAL 1 MINUTE * $window_minutes
                AS window_end_at,
            count(*) || ' failed logins as ' || remote_user || ' in ' || $window_minutes || ' minutes from '
                || count(DISTINCT client_addr) || ' address(es)' AS summary,
            list('access_log:' || line_key ORDER BY request_at) AS evidence_ids,
            count(*) AS failures_count,
            count(DISTINCT client_addr) AS addresses_count,
            list(DISTINCT client_addr ORDER BY client_addr)[1:20] AS client_addrs
        FROM access_log
        WHERE status = 401 AND endpoint IN ('ping', 'token') AND coalesce(remote_user, '') <> ''
          AND request_at >= time_bucket(INTERVAL 1 MINUTE * $window_minutes, $since) AND request_at < $now
        GROUP BY remote_user, time_bucket(INTERVAL 1 MINUTE * $window_minutes, request_at)
        HAVING count(*) >= $min_failures
    """
    cases = (
        Case(
            "fires on 20 failures for admin spread over 20 addresses",
            rows=burst(
                access,
                "2025-05-10T03:00",
                20,
                client_addr=lambda i: f"198.51.100.{i}",
                status=401,
                remote_user="admin",
                endpoint="token",
                uri="/token",
            ),
            expect=1,
            now=NOW,
            subjects=("admin",),
        ),
        Case(
            "quiet for a few typos and for successful logins",
            rows=(
                *burst(access, "2025-05-10T03:00", 3, status=401, remote_user="alice"),
                *burst(access, "2025-05-10T03:00", 40, status=200, remote_user="alice"),
            ),
            expect=0,
            now=NOW,
        ),
    )
