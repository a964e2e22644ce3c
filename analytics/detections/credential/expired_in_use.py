"""A credential presented after its expiry date, whether the registry accepted it or not."""

from __future__ import annotations

from regaudit.analytics.detection import Case, Detection, Severity
from regaudit.analytics.fixtures import activity, at, credential, pull
from regaudit.schemas.sources import Data

NOW = at("2025-05-10T18:00")


class CredentialExpiredInUse(Detection):
    id = "credential.expired_in_use"
    title = "Expired credential still presented"
    severity = Severity.HIGH
    family = "credential"
    needs = frozenset({Data.IDENTITY})
    description = (
        "Every presentation of a credential after the expiry date its current inventory row records, per "
        "credential and UTC day: accepted pulls and pushes (the registry did not enforce the expiry) as well "
        "as refusals the proxy logged for the claimed user (a forgotten job, or someone replaying an old "
        "secret)."
    )
    false_positives = (
        "Inventories whose expiry dates are wrong or were extended in the registry but not in the inventory.",
    )
    attack = ("T1078.004", "T1550")
    references = (
        "https://github.com/goharbor/harbor/issues/8282",
        "https://github.com/goharbor/harbor/issues/21174",
    )
    sql = """
        SELECT
            c.name AS subject,
            CAST(NULL AS VARCHAR) AS registry,
            CAST(NULL AS VARCHAR) AS repository,
            CAST(NULL AS VARCHAR) AS tag,
            CAST(NULL AS VARCHAR) AS digest,
            c.name AS identity,
            CAST(NULL AS VARCHAR) AS client_addr,
            date_trunc('day', a.seen_at) AS window_start_at,
            date_trunc('day', a.seen_at) + INTERVAL 1 DAY AS window_end_at,
            c.name || ' expired on ' || CAST(c.expires_at AS DATE) || ' but was presented ' || count(*)
                || ' time(s) (' || count(*) FILTER (WHERE a.accepted) || ' accepted) from '
                || string_agg(DISTINCT a.client_addr, ', ' ORDER BY a.client_addr) AS summary,
            list(a.evidence_id ORDER BY a.seen_at, a.evidence_id) AS evidence_ids,
            count(*) FILTER (WHERE a.accepted) AS accepted_count,
            count(*) FILTER (WHERE NOT a.accepted) AS refused_count
        FROM current_credentials AS c
        JOIN identity_activity AS a ON a.raw_identity = c.name  -- the credential as presented, not its person
        WHERE c.expires_at IS NOT NULL AND a.seen_at > c.expires_at
          AND a.seen_at >= date_trunc('day', $since) AND a.seen_at < $now
        GROUP BY c.name, c.expires_at, date_trunc('day', a.seen_at)
    """
    cases = (
        Case(
            "fires when an expired robot still pulls, and when a refused login names it",
            rows=(
                credential("robot$ci", "2025-05-01", expires_at="2025-05-05"),
                pull("2025-05-10T09:00", actor="robot$ci"),
                credential("robot$old", "2025-05-01", expires_at="2025-04-01"),
                activity(
                    "2025-05-10T09:00",
                    actor="robot$old",
                    action="login",
                    source="proxy",
                    proxy_status=401,
                    repository="",
                    tag=None,
                    digest=None,
                ),
            ),
            expect=2,
            about=({"identity": "robot$old"}, {"identity": "robot$ci"}),
            now=NOW,
            subjects=("robot$ci", "robot$old"),
        ),
        Case(
            "quiet before the expiry",
            rows=(
                credential("robot$ci", "2025-05-01", expires_at="2025-06-01"),
                pull("2025-05-10T09:00", actor="robot$ci"),
            ),
            expect=0,
            now=NOW,
        ),
    )
