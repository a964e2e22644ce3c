"""A credential in the inventory that nobody has ever used."""

from __future__ import annotations

from pydantic import Field

from regaudit.analytics.detection import Case, Detection, Parameters, Severity
from regaudit.analytics.fixtures import access, at, credential, pull

NOW = at("2025-05-10T18:00")


class Params(Parameters):
    grace_days: int = Field(14, ge=0, description="Days after creation (or first import) a credential may wait.")


class CredentialNeverUsed(Detection):
    id = "credential.never_used"
    title = "Credential never used"
    severity = Severity.LOW
    family = "credential"
    description = (
        "A credential in the current inventory (each import source's newest import) that no accepted request "
        "ever presented, although it was created, or first imported, more than grace_days ago. Unused "
        "credentials are attack surface with no owner watching them: revoke them."
    )
    false_positives = (
        "Break-glass or disaster-recovery credentials kept on purpose.",
        "Credentials used only through a path regaudit does not see (another registry replica).",
    )
    attack = ("T1078.004",)
    references = ("https://github.com/goharbor/harbor/issues/16872",)
    parameters = Params
    sql = """
        WITH first_import AS (
            SELECT name, min(imported_at) AS first_imported_at FROM credentials GROUP BY name
        ),
        used AS (SELECT DISTINCT identity FROM identity_activity WHERE accepted AND seen_at < $now)
        SELECT
            c.name AS subject,
            CAST(NULL AS VARCHAR) AS registry,
            CAST(NULL AS VARCHAR) AS repository,
            CAST(NULL AS VARCHAR) AS tag,
            CAST(NULL AS VARCHAR) AS digest,
            c.name AS identity,
            CAST(NULL AS VARCHAR) AS client_addr,
            coalesce(c.created_at, f.first_imported_at) AS window_start_at,
            CAST(NULL AS TIMESTAMPTZ) AS window_end_at,
            c.kind || ' ' || c.name || coalesce(' of ' || c.owner, '') || ' has never been used since '
                || CAST(coalesce(c.created_at, f.first_imported_at) AS DATE) AS summary,
            ['credentials:' || c.name] AS evidence_ids,
            c.kind,
            c.owner
        FROM current_credentials AS c
        JOIN first_import AS f ON f.name = c.name
        WHERE c.name NOT IN (SELECT identity FROM used)
          AND coalesce(c.created_at, f.first_imported_at) < $now - INTERVAL 1 DAY * $grace_days
    """
    cases = (
        Case(
            "fires for a robot created two months ago that never pulled",
            rows=(credential("robot$old", "2025-05-01", created_at="2025-03-01"),),
            expect=1,
            about=({"identity": "robot$old"},),
            now=NOW,
            subjects=("robot$old",),
        ),
        Case(
            "quiet for a used credential, a fresh one, and one dropped from the inventory",
            rows=(
                credential("alice", "2025-05-01", created_at="2025-01-01"),
                pull("2025-04-01T10:00", actor="alice"),
                credential("robot$ci", "2025-05-01", created_at="2025-01-01"),
                access("2025-04-01T10:00", endpoint="token", uri="/token", remote_user="robot$ci"),
                credential("robot$new", "2025-05-09", created_at="2025-05-08"),
                credential("gone", "2025-01-01", created_at="2024-01-01", import_source="old.htpasswd"),
                credential("other", "2025-02-01", created_at="2024-01-01", import_source="old.htpasswd"),
                pull("2025-04-01T10:00", actor="other"),
            ),
            expect=0,
            now=NOW,
        ),
    )
