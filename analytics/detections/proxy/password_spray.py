"""Password spraying: one address failing logins for many different user names."""

from __future__ import annotations

from pydantic import Field

from regaudit.analytics.detection import Case, Detection, Parameters, Severity
from regaudit.analytics.fixtures import access, at, burst
from regaudit.schemas.sources import Data

NOW = at("2025-05-10T18:00")


class Params(Parameters):
    window_minutes: int = Field(60, ge=1, description="Length of the windows user names are counted in.")
    min_users: int = Field(5, ge=2, description="Distinct failing user names from one address that fire.")


class PasswordSpray(Detection):
    id = "proxy.password_spray"
    title = "Password spraying from one address"
    severity = Severity.HIGH
    family = "proxy"
    needs = frozenset({Data.REFUSALS, Data.CLIENT_ADDRESS})
    description = (
        "Counts the distinct claimed Basic users whose logins (GET /v2/ or the token endpoint) failed with "
        "401 from one client address in a window. A few common passwords tried against many accounts stays "
        "under per-account lockouts and brute-force thresholds; the breadth of user names gives it away. "
        "Windows of window_minutes start every half window, so a burst across a boundary is still seen; of "
        "windows firing back to back only the first is reported."
    )
    false_positives = ("A shared jump host or NAT where several people mistype their password in one hour.",)
    attack = ("T1110.003",)
    references = ("https://attack.mitre.org/techniques/T1110/003/",)
    parameters = Params
    sql = """
        WITH windows AS (SELECT * FROM failed_login_windows($since, $now, $window_minutes)),
        fired AS (
            SELECT client_addr, window_at, count(*) AS attempts_count, count(DISTINCT remote_user) AS users_count,
                   list(DISTINCT remote_user ORDER BY remote_user)[1:50] AS users,
                   list(evidence_id ORDER BY request_at, evidence_id) AS evidence_ids
            FROM windows
            GROUP BY client_addr, window_at
            HAVING count(DISTINCT remote_user) >= $min_users
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
            f.client_addr || ' failed logins for ' || f.users_count || ' user names (' || f.attempts_count
                || ' attempts) in ' || $window_minutes || ' minutes' AS summary,
            f.evidence_ids,
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
            "fires on eight user names tried once each from one address",
            rows=burst(
                access,
                "2025-05-10T03:00",
                8,
                client_addr="203.0.113.77",
                status=401,
                remote_user=lambda i: f"user{i}",
            ),
            expect=1,
            about=({"client_addr": "203.0.113.77"},),
            now=NOW,
            subjects=("203.0.113.77",),
        ),
        Case(
            "quiet for one user failing repeatedly",
            rows=burst(access, "2025-05-10T03:00", 8, status=401, remote_user="alice"),
            expect=0,
            now=NOW,
        ),
    )
