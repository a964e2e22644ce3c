"""Many failed logins for one claimed user, from any number of addresses."""

from __future__ import annotations

from pydantic import Field

from regaudit.analytics.detection import Case, Detection, Parameters, Severity
from regaudit.analytics.fixtures import access, at, burst
from regaudit.schemas.sources import Data

NOW = at("2025-05-10T18:00")


class Params(Parameters):
    window_minutes: int = Field(60, ge=1, description="Length of the windows failures are counted in.")
    min_failures: int = Field(15, ge=2, description="Failed logins for one user in one window that fire.")


class BruteForceByUser(Detection):
    id = "proxy.bruteforce_by_user"
    title = "Brute force on one registry account"
    severity = Severity.HIGH
    family = "proxy"
    needs = frozenset({Data.REFUSALS, Data.IDENTITY})
    description = (
        "Counts 401 answers on the login endpoints (GET /v2/ and the token endpoint) per claimed Basic user "
        "and window, whatever the address. Catches guessing spread over many source addresses, which the "
        "per-address count misses, and credentials that stopped working but are still being tried. Windows "
        "of window_minutes start every half window, so a burst across a boundary is still seen; of windows "
        "firing back to back only the first is reported."
    )
    false_positives = ("Fleets of nodes or jobs all retrying with a rotated password.",)
    attack = ("T1110.001",)
    references = ("https://github.com/goharbor/harbor/issues/16423",)
    parameters = Params
    sql = """
        WITH windows AS (SELECT * FROM failed_login_windows($since, $now, $window_minutes)),
        fired AS (
            SELECT remote_user, window_at, count(*) AS failures_count, count(DISTINCT client_addr) AS addresses_count,
                   list(DISTINCT client_addr ORDER BY client_addr)[1:20] AS client_addrs,
                   list(evidence_id ORDER BY request_at, evidence_id) AS evidence_ids
            FROM windows
            GROUP BY remote_user, window_at
            HAVING count(*) >= $min_failures
        )
        SELECT
            f.remote_user AS subject,
            CAST(NULL AS VARCHAR) AS registry,
            CAST(NULL AS VARCHAR) AS repository,
            CAST(NULL AS VARCHAR) AS tag,
            CAST(NULL AS VARCHAR) AS digest,
            f.remote_user AS identity,
            CAST(NULL AS VARCHAR) AS client_addr,
            f.window_at AS window_start_at,
            f.window_at + INTERVAL 1 MINUTE * $window_minutes AS window_end_at,
            f.failures_count || ' failed logins as ' || f.remote_user || ' in ' || $window_minutes || ' minutes from '
                || f.addresses_count || ' address(es)' AS summary,
            f.evidence_ids,
            f.failures_count,
            f.addresses_count,
            f.client_addrs
        FROM fired AS f
        WHERE f.window_at >= time_bucket(to_seconds($window_minutes * 30), $since) - to_seconds($window_minutes * 30)
          AND NOT EXISTS (
              SELECT 1 FROM fired AS p
              WHERE p.remote_user = f.remote_user AND p.window_at = f.window_at - to_seconds($window_minutes * 30)
          )
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
            about=({"identity": "admin"},),
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
