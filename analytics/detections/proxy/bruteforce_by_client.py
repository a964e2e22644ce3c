"""Many failed logins from one client address on /v2/ or the token endpoint."""

from __future__ import annotations

from pydantic import Field

from regaudit.analytics.detection import Case, Detection, Parameters, Severity
from regaudit.analytics.fixtures import access, at, burst
from regaudit.schemas.sources import Data

NOW = at("2025-05-10T18:00")


class Params(Parameters):
    window_minutes: int = Field(10, ge=1, description="Length of the windows failures are counted in.")
    min_failures: int = Field(10, ge=2, description="Failed logins from one address in one window that fire.")


class BruteForceByClient(Detection):
    id = "proxy.bruteforce_by_client"
    title = "Brute force on registry login from one address"
    severity = Severity.HIGH
    family = "proxy"
    needs = frozenset({Data.REFUSALS, Data.CLIENT_ADDRESS})
    description = (
        "Counts 401 answers on the login endpoints (GET /v2/ and the token endpoint) that carried a claimed "
        "Basic user, per client address and window. The 401 challenge without credentials that starts every "
        "docker login or pull is not counted; repeated wrong passwords are. Windows of window_minutes start "
        "every half window, so a burst across a boundary is still seen; of windows firing back to back only "
        "the first is reported."
    )
    false_positives = ("A CI job retrying with a rotated or mistyped password.",)
    attack = ("T1110.001",)
    references = ("https://jfrog.com/help/r/jfrog-platform-administration-documentation/log-analytics",)
    parameters = Params
    sql = """
        WITH windows AS (SELECT * FROM failed_login_windows($since, $now, $window_minutes)),
        fired AS (
            SELECT client_addr, window_at, count(*) AS failures_count, count(DISTINCT remote_user) AS users_count,
                   string_agg(DISTINCT remote_user, ', ' ORDER BY remote_user) AS users_text,
                   list(DISTINCT remote_user ORDER BY remote_user)[1:20] AS users,
                   list(evidence_id ORDER BY request_at, evidence_id) AS evidence_ids
            FROM windows
            GROUP BY client_addr, window_at
            HAVING count(*) >= $min_failures
        )
        SELECT
            f.client_addr AS subject,
            CAST(NULL AS VARCHAR) AS registry,
            CAST(NULL AS VARCHAR) AS repository,
            CAST(NULL AS VARCHAR) AS tag,
            CAST(NULL AS VARCHAR) AS digest,
            CAST(NULL AS VARCHAR) AS identity,
            f.client_addr AS client_addr,
            f.window_at AS window_start_at,
            f.window_at + INTERVAL 1 MINUTE * $window_minutes AS window_end_at,
            f.client_addr || ' failed ' || f.failures_count || ' logins in ' || $window_minutes || ' minutes as '
                || f.users_text AS summary,
            f.evidence_ids,
            f.failures_count,
            f.users_count,
            f.users
        FROM fired AS f
        WHERE f.window_at >= time_bucket(to_seconds($window_minutes * 30), $since) - to_seconds($window_minutes * 30)
          AND NOT EXISTS (
              SELECT 1 FROM fired AS p
              WHERE p.client_addr IS NOT DISTINCT FROM f.client_addr
                AND p.window_at = f.window_at - to_seconds($window_minutes * 30)
          )
    """
    cases = (
        Case(
            "fires on 30 wrong passwords for alice from one address in five minutes",
            rows=burst(access, "2025-05-10T03:00", 30, client_addr="203.0.113.9", status=401, remote_user="alice"),
            expect=1,
            about=({"client_addr": "203.0.113.9"},),
            now=NOW,
            subjects=("203.0.113.9",),
        ),
        Case(
            "fires once on ten failures straddling a window boundary",
            rows=burst(access, "2025-05-10T03:08:30", 10, client_addr="203.0.113.9", status=401, remote_user="bob"),
            expect=1,
            now=NOW,
        ),
        Case(
            "quiet for the credential-less 401 challenge before every pull",
            rows=burst(access, "2025-05-10T03:00", 30, status=401, remote_user=None),
            expect=0,
            now=NOW,
        ),
    )
