"""An identity idle for months that suddenly becomes active."""

from __future__ import annotations

from pydantic import Field

from regaudit.analytics.detection import Case, Detection, Parameters, Severity
from regaudit.analytics.fixtures import at, credential, pull

NOW = at("2025-05-10T18:00")


class Params(Parameters):
    dormant_days: int = Field(60, ge=1, description="Days without accepted activity that make an identity dormant.")
    min_observed_days: int = Field(
        14,
        ge=1,
        description="Days the store must have watched a silent credential before its first use counts.",
    )


class DormantCredentialReactivated(Detection):
    id = "credential.dormant_reactivated"
    title = "Dormant credential suddenly active"
    severity = Severity.HIGH
    family = "credential"
    description = (
        "An identity's accepted activity resumes after a gap of at least dormant_days with none. When the "
        "store is younger than the gap, silence is proven differently: a credential created (per the "
        "inventory) at least dormant_days before its first use in the store, which the store watched for at "
        "least min_observed_days without any use. Forgotten credentials are the ones that leak without "
        "anybody rotating them: the first use after months is worth a question to the owner."
    )
    false_positives = ("Seasonal jobs and people back from long leave.",)
    attack = ("T1078",)
    references = ("https://github.com/goharbor/harbor/issues/16872",)
    parameters = Params
    sql = """
        WITH observed AS (SELECT min(seen_at) AS since_at FROM identity_activity),
        current AS (
            SELECT identity, seen_at, client_addr, evidence_id FROM identity_activity
            WHERE accepted AND seen_at >= $since AND seen_at < $now
        ),
        earlier AS (  -- each identity's last accepted use before the window, for its first use in it
            SELECT identity, max(seen_at) AS seen_at, arg_max(evidence_id, seen_at) AS evidence_id
            FROM identity_activity
            WHERE accepted AND seen_at < $since AND identity IN (SELECT identity FROM current)
            GROUP BY identity
        ),
        ordered AS (
            SELECT c.identity, c.seen_at, c.client_addr, c.evidence_id,
                   coalesce(lag(c.seen_at) OVER w, b.seen_at) AS previous_at,
                   CASE WHEN lag(c.seen_at) OVER w IS NULL THEN b.evidence_id
                        ELSE lag(c.evidence_id) OVER w END AS previous_evidence_id
            FROM current AS c
            LEFT JOIN earlier AS b ON b.identity = c.identity
            WINDOW w AS (PARTITION BY c.identity ORDER BY c.seen_at)
        ),
        reactivations AS (
            SELECT o.*, coalesce(o.previous_at, c.created_at) AS quiet_since
            FROM ordered AS o
            CROSS JOIN observed
            LEFT JOIN current_credentials AS c ON c.name = o.identity
            WHERE o.previous_at IS NOT NULL AND o.seen_at - o.previous_at >= INTERVAL 1 DAY * $dormant_days
               OR o.previous_at IS NULL AND c.created_at <= o.seen_at - INTERVAL 1 DAY * $dormant_days
                  AND o.seen_at >= observed.since_at + INTERVAL 1 DAY * $min_observed_days
        )
        SELECT
            identity AS subject,
            CAST(NULL AS VARCHAR) AS registry,
            CAST(NULL AS VARCHAR) AS repository,
            CAST(NULL AS VARCHAR) AS tag,
            CAST(NULL AS VARCHAR) AS digest,
            identity,
            client_addr,
            seen_at AS window_start_at,
            seen_at AS window_end_at,
            identity || ' active again from ' || coalesce(client_addr, 'an unknown address') || ' after '
                || date_diff('day', quiet_since, seen_at) || ' idle days ('
                || CASE WHEN previous_at IS NULL THEN 'no use since its creation on '
                        ELSE 'previous activity ' END || CAST(quiet_since AS DATE) || ')' AS summary,
            list_filter([evidence_id, previous_evidence_id], lambda ref: ref IS NOT NULL) AS evidence_ids,
            date_diff('day', quiet_since, seen_at) AS idle_days_count
        FROM reactivations
    """
    cases = (
        Case(
            "fires on a robot's first pull after four idle months",
            rows=(
                pull("2025-01-05T10:00", actor="robot$legacy"),
                pull("2025-05-10T03:00", actor="robot$legacy"),
            ),
            expect=1,
            about=({"identity": "robot$legacy", "client_addr": "10.0.0.5"},),
            now=NOW,
            subjects=("robot$legacy",),
        ),
        Case(
            "fires on an old credential's first use after weeks of watched silence",
            rows=(
                pull("2025-04-01T10:00", actor="alice"),
                credential("robot$old", "2025-04-01", created_at="2024-06-01"),
                pull("2025-05-10T03:00", actor="robot$old"),
            ),
            expect=1,
            now=NOW,
            subjects=("robot$old",),
        ),
        Case(
            "quiet for a regularly active identity, a new credential and a store too young to tell",
            rows=(
                pull("2025-04-20T10:00", actor="alice"),
                pull("2025-05-10T03:00", actor="alice"),
                pull("2025-05-10T03:00", actor="newcomer"),
                credential("robot$new", "2025-05-01", created_at="2025-05-01"),
                pull("2025-05-10T03:00", actor="robot$new"),
            ),
            expect=0,
            now=NOW,
        ),
        Case(
            "quiet for an old credential when the store only began last week",
            rows=(
                pull("2025-05-04T10:00", actor="alice"),
                credential("robot$old", "2025-05-04", created_at="2024-06-01"),
                pull("2025-05-10T03:00", actor="robot$old"),
            ),
            expect=0,
            now=NOW,
        ),
    )
