"""A credential in the inventory that nobody has ever used."""

from __future__ import annotations

from pydantic import Field

from regaudit.analytics.detection import Case, Detection, Parameters, Severity
from regaudit.analytics.fixtures import access, at, credential, event, pull
from regaudit.schemas.sources import Data

NOW = at("2025-05-10T18:00")
#: two credentials in use (a person pulling, a robot taking a token), beside those the cases leave unused
IN_USE = (
    credential("alice", "2025-05-01", created_at="2025-01-01"),
    pull("2025-04-01T10:00", actor="alice"),
    credential("robot$ci", "2025-05-01", created_at="2025-01-01"),
    access("2025-04-01T10:00", endpoint="token", uri="/token", remote_user="robot$ci"),
)


class Params(Parameters):
    grace_days: int = Field(14, ge=0, description="Days after creation (or first import) a credential may wait.")


class CredentialNeverUsed(Detection):
    id = "credential.never_used"
    title = "Credential never used"
    severity = Severity.MEDIUM
    family = "credential"
    needs = frozenset({Data.IDENTITY})
    description = (
        "A credential in the current inventory (each import source's newest import) that no accepted request "
        "ever presented (any request the proxy answered 2xx or 3xx, catalog and tag listings included, and any "
        "registry event naming it) since the store began, although it was created, or first imported, more "
        "than grace_days ago. A store that has watched for less than grace_days cannot tell never from not "
        "yet, so it reports nothing. Unused credentials are attack surface with no owner watching them: "
        "revoke them."
    )
    false_positives = (
        "Break-glass or disaster-recovery credentials kept on purpose.",
        "Credentials used only through a path regaudit does not see (another registry replica).",
    )
    attack = ("T1078.004",)
    references = (
        "https://github.com/goharbor/harbor/issues/16872",
        "https://docs.aws.amazon.com/securityhub/latest/userguide/iam-controls.html#iam-22",
    )
    parameters = Params
    sql = """
        WITH first_import AS (
            SELECT name, min(imported_at) AS first_imported_at FROM credentials GROUP BY name
        ),
        used AS (  -- any accepted request presented it: an image action, a login, a catalog or tag listing, a blob
            SELECT raw_identity FROM identity_clients($now) WHERE accepted  -- as presented; the daily rollups
            UNION
            SELECT remote_user FROM access_log
            WHERE status BETWEEN 200 AND 399 AND coalesce(remote_user, '') <> '' AND request_at < $now
            UNION
            SELECT actor FROM registry_events WHERE coalesce(actor, '') <> '' AND event_at < $now
        )
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
        WHERE c.name NOT IN (SELECT raw_identity FROM used)  -- "identity" here was the outer alias: never fired
          AND coalesce(c.created_at, f.first_imported_at) < $now - INTERVAL 1 DAY * $grace_days
          AND (SELECT first_event_at FROM store_start) < $now - INTERVAL 1 DAY * $grace_days
    """
    cases = (
        Case(
            "fires for a robot created two months ago that never pulled, and one whose every request was refused",
            rows=(
                credential("robot$old", "2025-05-01", created_at="2025-03-01"),
                credential("robot$locked", "2025-05-01", created_at="2025-03-01"),
                access(
                    "2025-04-01T10:00", endpoint="catalog", uri="/v2/_catalog", status=401, remote_user="robot$locked"
                ),
                access("2025-04-01T10:01", endpoint="token", uri="/token", remote_user="robot$locked", status=403),
            ),
            expect=2,
            about=({"identity": "robot$old"}, {"identity": "robot$locked"}),
            now=NOW,
            subjects=("robot$old", "robot$locked"),
        ),
        Case(
            "fires for the robot nobody used beside accounts in use (the store's users are not all unused)",
            rows=(
                *IN_USE,
                credential("robot$old", "2025-05-01", created_at="2025-03-01"),
            ),
            expect=1,
            about=({"identity": "robot$old"},),
            now=NOW,
            subjects=("robot$old",),
        ),
        Case(
            "quiet for an account that only listed the catalog and tags, and one seen only in a blob event",
            rows=(
                credential("robot$lister", "2025-05-01", created_at="2025-01-01"),
                access("2025-04-01T10:00", endpoint="catalog", uri="/v2/_catalog", remote_user="robot$lister"),
                access(
                    "2025-04-01T10:01",
                    endpoint="tags",
                    uri="/v2/team/app/tags/list",
                    repository="team/app",
                    remote_user="robot$lister",
                ),
                credential("robot$blobs", "2025-05-01", created_at="2025-01-01"),
                event("2025-04-02T10:00", action="pull", target_kind="blob", actor="robot$blobs", http_method="GET"),
            ),
            expect=0,
            now=NOW,
        ),
        Case(
            "quiet in a store that has watched for less than grace_days, however old the credential",
            rows=(
                credential("robot$old", "2025-05-01", created_at="2025-03-01"),
                access("2025-05-01T10:00", endpoint="catalog", uri="/v2/_catalog", status=401, remote_user="eve"),
            ),
            expect=0,
            now=NOW,
        ),
        Case(
            "quiet for a used credential, a fresh one, and one dropped from the inventory",
            rows=(
                *IN_USE,
                credential("robot$new", "2025-05-09", created_at="2025-05-08"),
                credential("gone", "2025-01-01", created_at="2024-01-01", import_source="old.htpasswd"),
                credential("other", "2025-02-01", created_at="2024-01-01", import_source="old.htpasswd"),
                pull("2025-04-01T10:00", actor="other"),
            ),
            expect=0,
            now=NOW,
        ),
    )
