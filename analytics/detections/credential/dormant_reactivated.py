"""An identity idle for months that suddenly becomes active."""

from __future__ import annotations

from pydantic import Field

from regaudit.analytics.detection import Case, Detection, Parameters, Severity
from regaudit.analytics.fixtures import at, pull

NOW = at("2025-05-10T18:00")


class Params(Parameters):
    dormant_days: int = Field(
        60, ge=1, description="Days without accepted activity that make an identity dormant."
    )


class DormantCredentialReactivated(Detection):
    id = "credential.dormant_reactivated"
    title = "Dormant credential suddenly active"
    severity = Severity.HIGH
    family = "credential"
    description = (
        "An identity's accepted activity resumes after a gap of at least dormant_days with none. Forgotten "
        "credentials are the ones that leak without anybody rotating them: the first use after months is "
        "worth a question to the owner."
    )
    false_positives = ("Seasonal jobs and people back from long leave.",)
    attack = ("T1078",)
    references = ("https://github.com/goharbor/harbor/issues/16872",)
    parameters = Params
    sql = """
        WITH recent AS (
            SELECT DISTINCT identity FROM identity_activity
            WHERE accepted AND seen_at >= $since AND seen_at < $now
        ),
        ordered AS (
            SELECT a.identity, a.seen_at, a.client_addr, a.evidence_id,
                   lag(a.seen_at) OVER (PARTITION BY a.identity ORDER BY a.seen_at) AS previous_at,
                   lag(a.evidence_id) OVER (PARTITION BY a.identity ORDER BY a.seen_at)
                       AS previous_evidence_id
            FROM identity_activity AS a
            JOIN recent AS r ON r.identity = a.identity
            WHERE a.accepted AND a.seen_at < $now
        )
        SELECT
            identity AS subject,
            seen_at AS window_start_at,
            seen_at AS window_end_at,
            identity || ' active again from ' || coalesce(client_addr, 'an unknown address') || ' after '
                || date_diff('day', previous_at, seen_at) || ' idle days (previous activity '
                || CAST(previous_at AS DATE) || ')' AS summary,
            [evidence_id, previous_evidence_id] AS evidence_ids,
            date_diff('day', previous_at, seen_at) AS idle_days_count
        FROM ordered
        WHERE previous_at IS NOT NULL
          AND seen_at - previous_at >= INTERVAL 1 DAY * $dormant_days
          AND seen_at >= $since
    """
    cases = (
        Case(
            "fires on a robot's first pull after four idle months",
            rows=(
                pull("2025-01-05T10:00", actor="robot$legacy"),
                pull("2025-05-10T03:00", actor="robot$legacy"),
            ),
            expect=1,
            now=NOW,
            subjects=("robot$legacy",),
        ),
        Case(
            "quiet for a regularly active identity and a brand new one",
            rows=(
                pull("2025-04-20T10:00", actor="alice"),
                pull("2025-05-10T03:00", actor="alice"),
                pull("2025-05-10T03:00", actor="newcomer"),
            ),
            expect=0,
            now=NOW,
        ),
    )
