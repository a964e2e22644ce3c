"""The credential inventory: parsing htpasswd files and CSV or JSON inventories, and storing each import.

Every import adds one row per credential to ``credentials`` with the same ``imported_at``, so the table is a
history; the current inventory is each import source's newest import (view ``current_credentials``). An
htpasswd file only names credentials, so its rows carry over owner and dates from the newest earlier row of
the same name (typically from a CSV or JSON inventory). Password hashes are never read beyond the name.

Harbor's robot API answer (``--format harbor-robots``) is read by ``regaudit.ingest.sources.harbor.robots``, IAM's
credential report (``--format aws-credential-report``) by ``regaudit.ingest.sources.ecr.credential_report``.

Kind: ``robot`` for names starting with ``robot$`` (Harbor's robot accounts), ``user`` otherwise, unless the
inventory says so (``user``, ``robot`` or ``token``).
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

import duckdb
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator

from regaudit.analytics.errors import InventoryError

log = logging.getLogger(__name__)

Kind = Literal["user", "robot", "token"]
Format = Literal["htpasswd", "csv", "json", "harbor-robots", "aws-credential-report"]


def kind_of(name: str) -> Kind:
    return "robot" if name.startswith("robot$") else "user"


class CredentialEntry(BaseModel):
    """One credential as an inventory describes it; dates without a zone are UTC."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    name: str = Field(min_length=1)
    kind: Kind
    owner: str | None = None
    created_at: datetime | None = Field(None, validation_alias=AliasChoices("created_at", "created"))
    rotated_at: datetime | None = Field(
        None, validation_alias=AliasChoices("rotated_at", "last_rotated", "rotated", "last_rotated_at")
    )
    expires_at: datetime | None = Field(None, validation_alias=AliasChoices("expires_at", "expires", "expiry"))

    @model_validator(mode="before")
    @classmethod
    def _kind_from_name(cls, data: Any) -> Any:
        if isinstance(data, dict) and not str(data.get("kind") or "").strip():
            return {**data, "kind": kind_of(str(data.get("name", "")))}
        return data

    @field_validator("owner", "created_at", "rotated_at", "expires_at", mode="before")
    @classmethod
    def _empty_is_missing(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("created_at", "rotated_at", "expires_at", mode="before")
    @classmethod
    def _date_is_midnight(cls, value: Any) -> Any:
        if isinstance(value, str) and len(value.strip()) == 10:
            return datetime.combine(date.fromisoformat(value.strip()), datetime.min.time())
        return value

    @field_validator("created_at", "rotated_at", "expires_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_htpasswd(text: str) -> list[CredentialEntry]:
    """Names from ``name:hash`` lines; blank lines and comments skipped."""
    entries = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and ":" in line:
            entries.append(CredentialEntry.model_validate({"name": line.split(":", 1)[0]}))
    return entries


def _header(name: str) -> str:
    return name.strip().lower().replace(" ", "_").replace("-", "_")


def parse_csv(text: str) -> list[CredentialEntry]:
    """A CSV inventory with a header row: name, kind, owner, created, last rotated, expires."""
    reader = csv.DictReader(io.StringIO(text))
    return [CredentialEntry.model_validate({_header(k): v for k, v in row.items() if k}) for row in reader]


def parse_json(text: str) -> list[CredentialEntry]:
    """A JSON list of credential objects, or an object with such a list under ``credentials``."""
    data = json.loads(text)
    items = data.get("credentials", []) if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise ValueError('a JSON inventory is a list of credentials or {"credentials": [...]}')
    return [CredentialEntry.model_validate({_header(k): v for k, v in item.items()}) for item in items]


def parse_harbor_robots(text: str) -> list[CredentialEntry]:
    """Harbor's robot accounts as ``GET /api/v2.0/robots`` lists them (a JSON list of ``Robot``): each a ``robot``
    credential under the name Harbor logs it by, created at ``creation_time``, expiring at ``expires_at`` (-1:
    never, NULL). Harbor says nothing of rotations (``update_time`` also moves on any edit), so ``rotated_at`` is
    NULL. A disabled robot cannot authenticate, so it is no live credential and is left out."""
    from regaudit.ingest.sources.harbor.robots import robot_entries

    return [CredentialEntry.model_validate(entry) for entry in robot_entries(text)]


def parse_aws_credential_report(text: str) -> list[CredentialEntry]:
    """IAM's credential report CSV: each principal with an active access key, named by its ARN (the identity
    CloudTrail records for ECR), rotated at its oldest active key's rotation."""
    from regaudit.ingest.sources.ecr.credential_report import report_entries

    return [CredentialEntry.model_validate(entry) for entry in report_entries(text)]


def detect_format(path: Path) -> Format:
    suffix = path.suffix.lower()
    return "csv" if suffix == ".csv" else "json" if suffix == ".json" else "htpasswd"


def parse(path: Path, file_format: Format | None = None) -> list[CredentialEntry]:
    """The entries of one inventory file; InventoryError names the file when it cannot be read."""
    parsers = {"htpasswd": parse_htpasswd, "csv": parse_csv, "json": parse_json, "harbor-robots": parse_harbor_robots,
               "aws-credential-report": parse_aws_credential_report}  # fmt: skip
    try:
        return parsers[file_format or detect_format(path)](path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, csv.Error) as error:  # ValidationError is a ValueError
        raise InventoryError(f"{path}: {error}") from error


_INSERT = """
INSERT INTO credentials (name, kind, owner, created_at, rotated_at, expires_at, imported_at, import_source)
SELECT $name, $kind,
       coalesce($owner, previous.owner), coalesce($created_at, previous.created_at),
       coalesce($rotated_at, previous.rotated_at), coalesce($expires_at, previous.expires_at),
       $imported_at, $import_source
FROM (SELECT 1) AS one
LEFT JOIN (
    SELECT * FROM credentials WHERE name = $name AND $carry_over ORDER BY imported_at DESC LIMIT 1
) AS previous ON TRUE
"""


def store_import(
    con: duckdb.DuckDBPyConnection,
    entries: Sequence[CredentialEntry],
    source: str,
    imported_at: datetime,
    carry_over: bool,
) -> int:
    """Insert one import in one transaction (a name listed twice keeps its last entry); returns the count."""
    unique = {entry.name: entry for entry in entries}
    if len(unique) < len(entries):
        log.warning("credentials import source=%s duplicate_names=%d", source, len(entries) - len(unique))
    con.execute("BEGIN TRANSACTION")
    try:
        for entry in unique.values():
            values = entry.model_dump()
            con.execute(_INSERT, {**values, "imported_at": imported_at, "import_source": source,
                                  "carry_over": carry_over})  # fmt: skip
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    log.info("credentials import source=%s credentials=%d", source, len(unique))
    return len(unique)
