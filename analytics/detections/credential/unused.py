"""A credential whose last accepted use is long ago."""

from __future__ import annotations

from pydantic import Field

from regaudit.analytics.detection import Case, Detection, Parameters, Severity
from regaudit.analytics.fixtures import at, credential, pull
from regaudit.schemas.sources import Data

NOW = at("2025-05-10T18:00")


class Params(Parameters):
    unused_days: int = Field(90, ge=1, description="Days without an accepted use before a credential is stale.")


class CredentialUnused(Detection):
    id = "credential.unused"
    title = "Credential unused for a long time"
    severity = Severity.MEDIUM
    family = "credential"
    needs = frozenset({Data.IDENTITY})
    description = (
        "A credential in the current inventory whose last accepted use (an image action or a login the proxy "
        "accepted) is more than unused_days old. The finding's window starts at the last use, so a "
        "credential that is used again and goes stale again raises a new finding. Staleness is counted up to "
        "the store's latest observation, not the clock: a store whose feed stopped (or history imported long "
        "after the fact) has not watched the credentials stay unused."
    )
    false_positives = (
        "Seasonal jobs (quarterly releases, yearly audits) that use their credential rarely.",
        "Activity older than the store's retention looks like no activity.",
    )
    attack = ("T1078.004",)
    references = (
        "https://docs.docker.com/security/for-developers/access-tokens/",
        "https://docs.aws.amazon.com/securityhub/latest/userguide/iam-controls.html#iam-8",
    )
    parameters = Params
    sql = """
        WITH last_at AS (  -- the daily rollups (identity_clients): each raw identity's last accepted use
            SELECT raw_identity AS identity, max(last_at) AS last_at  -- the credential as presented, not its person
            FROM identity_clients($now) WHERE accepted GROUP BY raw_identity
        ),
        watched AS (  -- the store's latest observation: a feed that stopped proves no credential unused
            SELECT max(last_at) AS until_at FROM identity_clients($now)
        ),
        judged AS (
            SELECT c.*, u.last_at
            FROM current_credentials AS c
            JOIN last_at AS u ON u.identity = c.name
            CROSS JOIN watched AS w
            WHERE u.last_at < w.until_at - INTERVAL 1 DAY * $unused_days
        ),
        last_use AS (  -- the last use's row, read by identity and exact time for the judged credentials only
            SELECT a.raw_identity AS identity, arg_max(a.evidence_id, (a.seen_at, a.evidence_id)) AS evidence_id,
                   arg_max(a.client_addr, (a.seen_at, a.evidence_id)) AS client_addr
            FROM identity_activity AS a
            JOIN judged AS j ON j.name = a.raw_identity AND j.last_at = a.seen_at
            WHERE a.accepted
            GROUP BY a.raw_identity
        )
        SELECT
            c.name AS subject,
            CAST(NULL AS VARCHAR) AS registry,
            CAST(NULL AS VARCHAR) AS repository,
            CAST(NULL AS VARCHAR) AS tag,
            CAST(NULL AS VARCHAR) AS digest,
            c.name AS identity,
            u.client_addr AS client_addr,
            c.last_at AS window_start_at,
            CAST(NULL AS TIMESTAMPTZ) AS window_end_at,
            c.kind || ' ' || c.name || coalesce(' of ' || c.owner, '') || ' unused for '
                || date_diff('day', c.last_at, $now) || ' days (last use ' || CAST(c.last_at AS DATE)
                || coalesce(' from ' || u.client_addr, '') || ')' AS summary,
            ['credentials:' || c.name, u.evidence_id] AS evidence_ids,
            date_diff('day', c.last_at, $now) AS unused_days_count
        FROM judged AS c
        JOIN last_use AS u ON u.identity = c.name
    """
    cases = (
        Case(
            "fires for a robot last used in January while the store saw others work until this week",
            rows=(
                credential("robot$old", "2025-05-01"),
                pull("2025-01-10T10:00", actor="robot$old"),
                pull("2025-05-08T10:00", actor="alice"),
            ),
            expect=1,
            about=({"identity": "robot$old", "client_addr": "10.0.0.5"},),
            now=NOW,
            subjects=("robot$old",),
        ),
        Case(
            "quiet for a credential used last week",
            rows=(
                credential("alice", "2025-05-01"),
                pull("2025-01-10T10:00", actor="alice"),
                pull("2025-05-03T10:00", actor="alice"),
            ),
            expect=0,
            now=NOW,
        ),
        Case(
            "quiet when the store's feed stopped in January: nothing was watched since",
            rows=(
                credential("robot$old", "2025-05-01"),
                pull("2025-01-10T10:00", actor="robot$old"),
                pull("2025-01-11T10:00", actor="alice"),
            ),
            expect=0,
            now=NOW,
        ),
    )
