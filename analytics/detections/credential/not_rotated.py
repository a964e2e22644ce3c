"""A credential whose secret has not been rotated for a long time."""

from __future__ import annotations

from pydantic import Field

from regaudit.analytics.detection import Case, Detection, Parameters, Severity
from regaudit.analytics.fixtures import at, credential
from regaudit.schemas.sources import Data

NOW = at("2025-05-10T18:00")


class Params(Parameters):
    rotation_days: int = Field(365, ge=1, description="Days a secret may live without rotation.")


class CredentialNotRotated(Detection):
    id = "credential.not_rotated"
    title = "Credential not rotated"
    severity = Severity.MEDIUM
    family = "credential"
    needs = frozenset[Data]()
    description = (
        "A credential in the current inventory whose last rotation, or creation when it was never rotated, "
        "is more than rotation_days old. Long-lived registry secrets end up in images, CI logs and laptops; "
        "most leaked registry credentials found in public images were years old. Needs created or rotated "
        "dates in the inventory (CSV or JSON import); htpasswd alone does not carry them. The age is "
        "counted up to the inventory's import: what the inventory says is known as of then, and a rotation "
        "since is not in it."
    )
    false_positives = ("Inventories that do not record rotations although they happen.",)
    attack = ("T1078.004", "T1552")
    references = (
        "https://blog.gitguardian.com/container-registries/",
        "https://docs.aws.amazon.com/securityhub/latest/userguide/iam-controls.html#iam-3",
    )
    parameters = Params
    sql = """
        SELECT
            name AS subject,
            CAST(NULL AS VARCHAR) AS registry,
            CAST(NULL AS VARCHAR) AS repository,
            CAST(NULL AS VARCHAR) AS tag,
            CAST(NULL AS VARCHAR) AS digest,
            name AS identity,
            CAST(NULL AS VARCHAR) AS client_addr,
            coalesce(rotated_at, created_at) AS window_start_at,
            CAST(NULL AS TIMESTAMPTZ) AS window_end_at,
            kind || ' ' || name || coalesce(' of ' || owner, '') || CASE WHEN rotated_at IS NULL
                THEN ' never rotated since creation on ' ELSE ' last rotated on ' END
                || CAST(coalesce(rotated_at, created_at) AS DATE) || ' ('
                || date_diff('day', coalesce(rotated_at, created_at), $now) || ' days)' AS summary,
            ['credentials:' || name] AS evidence_ids,
            date_diff('day', coalesce(rotated_at, created_at), $now) AS age_days_count
        FROM current_credentials
        WHERE coalesce(rotated_at, created_at) < least($now, imported_at) - INTERVAL 1 DAY * $rotation_days
    """
    cases = (
        Case(
            "fires for a robot created two years ago and never rotated",
            rows=(credential("robot$ci", "2025-05-01", created_at="2023-03-01"),),
            expect=1,
            about=({"identity": "robot$ci"},),
            now=NOW,
        ),
        Case(
            "quiet for a recently rotated credential and one without dates",
            rows=(
                credential("robot$ci", "2025-05-01", created_at="2023-03-01", rotated_at="2025-02-01"),
                credential("alice", "2025-05-01"),
            ),
            expect=0,
            now=NOW,
        ),
        Case(
            "quiet when the credential was within policy at the inventory's import, though not by today's clock",
            rows=(credential("robot$ci", "2025-05-01", created_at="2024-06-01"),),
            expect=0,
            now=at("2025-07-15T00:00"),
        ),
    )
