"""The identity mapping: which raw identities of which registries are one person, read from a CSV or an IdP's SCIM
export, and stored as one import.

No registry knows that ``alice`` (Distribution's basic auth), ``arn:aws:iam::123456789012:user/alice`` (ECR),
``alice@corp.example`` (Artifact Registry, ACR) and ``robot$ci-builder`` (her Harbor robot) are one person; the
organisation does. Each import adds one row per raw identity and scope to ``identities`` with the same
``imported_at``; the mapping in force is each import source's newest import (view ``current_identities``, schema
version 10), so importing a file again replaces what it said before.

CSV (``--format csv``): a header row, then one mapping a row. Columns (case and spaces ignored):

- ``raw_identity`` (required): the identity as the registry records it (``actor``).
- ``person_id`` (required): the person or principal it belongs to; the same value ties rows together.
- ``display_name``: how to show the person.
- ``registry``: only on this registry instance (the ``registry`` rows carry); empty: every registry.
- ``registry_kind``: only on registries of this kind (``harbor``, ``ecr``..., ``nginx`` for the proxy's log);
  empty: every kind. A row names a registry or a kind, not both.

SCIM (``--format scim``): the Users of a SCIM 2.0 service provider (RFC 7643 section 4.1; an IdP such as Okta or
Microsoft Entra ID speaks it), as ``GET /Users`` answers (a ``ListResponse``, RFC 7644 section 3.4.2), one User,
or a JSON list of Users. Each User is one person, ``person_id`` its ``userName``, shown by its ``displayName`` (else
``name.formatted``); its raw identities are its ``userName`` and every ``emails[].value`` (unscoped: the addresses
Artifact Registry and ACR record). Nothing else of the User (its password included) is read.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import duckdb
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from regaudit.analytics.errors import InventoryError

log = logging.getLogger(__name__)

Format = Literal["csv", "scim"]


class IdentityMapping(BaseModel):
    """One raw identity, in one scope, belonging to one person."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    raw_identity: str = Field(min_length=1)
    person_id: str = Field(min_length=1)
    display_name: str | None = None
    registry: str | None = None
    registry_kind: str | None = None

    @field_validator("raw_identity", "person_id", "display_name", "registry", "registry_kind", mode="before")
    @classmethod
    def _trimmed(cls, value: Any) -> Any:
        """Spaces around a CSV cell are the file's layout, not the name; an empty cell is no value."""
        if isinstance(value, str):
            return value.strip() or None
        return value

    @model_validator(mode="after")
    def _one_scope(self) -> IdentityMapping:
        if self.registry and self.registry_kind:
            raise ValueError(f"{self.raw_identity}: scope a mapping to a registry or a registry kind, not both")
        return self

    @property
    def key(self) -> tuple[str, str | None, str | None]:
        return self.raw_identity, self.registry, self.registry_kind


def _header(name: str) -> str:
    return name.strip().lower().replace(" ", "_").replace("-", "_")


def parse_csv(text: str) -> list[IdentityMapping]:
    """The CSV mapping (columns in the module docstring); a row that is not a mapping names its line."""
    reader = csv.DictReader(io.StringIO(text))
    mappings = []
    for row in reader:
        try:
            mappings.append(IdentityMapping.model_validate({_header(k): v for k, v in row.items() if k}))
        except ValueError as error:
            raise ValueError(f"line {reader.line_num}: {error}") from error
    return mappings


def _users(data: Any) -> list[Any]:
    if isinstance(data, dict):
        return list(data.get("Resources", [])) if "Resources" in data else [data]
    if isinstance(data, list):
        return data
    raise ValueError("a SCIM export is a ListResponse, a User, or a list of Users")


def _user_mappings(user: Any) -> Iterator[IdentityMapping]:
    if not isinstance(user, dict) or not isinstance(user.get("userName"), str):
        raise ValueError("a SCIM User has a userName (RFC 7643 section 4.1)")
    person = user["userName"]
    name = user.get("name")
    display = user.get("displayName") or (name.get("formatted") if isinstance(name, dict) else None)
    emails = [e.get("value") for e in user.get("emails") or [] if isinstance(e, dict)]
    for raw in dict.fromkeys([person, *[e for e in emails if isinstance(e, str)]]):
        yield IdentityMapping(raw_identity=raw, person_id=person, display_name=display)


def parse_scim(text: str) -> list[IdentityMapping]:
    """Each SCIM User's userName and emails, mapped to its userName."""
    return [mapping for user in _users(json.loads(text)) for mapping in _user_mappings(user)]


def detect_format(path: Path) -> Format:
    return "scim" if path.suffix.lower() == ".json" else "csv"


def parse(path: Path, file_format: Format | None = None) -> list[IdentityMapping]:
    """The mappings of one file; InventoryError names the file when it cannot be read."""
    parsers = {"csv": parse_csv, "scim": parse_scim}
    try:
        return parsers[file_format or detect_format(path)](path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, csv.Error) as error:  # ValidationError is a ValueError
        raise InventoryError(f"{path}: {error}") from error


def _unique(mappings: Sequence[IdentityMapping], source: str) -> list[IdentityMapping]:
    """One person per raw identity and scope: a file that gives one identity to two people is refused, since the
    detections would have to guess whose baseline it joins."""
    seen: dict[tuple[str, str | None, str | None], IdentityMapping] = {}
    for mapping in mappings:
        earlier = seen.setdefault(mapping.key, mapping)
        if earlier.person_id != mapping.person_id:
            raise InventoryError(
                f"{source}: {mapping.raw_identity} is mapped to both {earlier.person_id} and {mapping.person_id}"
            )
    return list(seen.values())


def store_import(
    con: duckdb.DuckDBPyConnection, mappings: Sequence[IdentityMapping], source: str, imported_at: datetime
) -> int:
    """Insert one import in one transaction; returns the number of mappings stored."""
    unique = _unique(mappings, source)
    con.execute("BEGIN TRANSACTION")
    try:
        for mapping in unique:
            con.execute(
                """
                INSERT INTO identities (raw_identity, registry, registry_kind, person_id, display_name,
                                        import_source, imported_at)
                VALUES ($raw_identity, $registry, $registry_kind, $person_id, $display_name, $source, $imported_at)
                """,
                {**mapping.model_dump(), "source": source, "imported_at": imported_at},
            )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    log.info("identities import source=%s mappings=%d", source, len(unique))
    return len(unique)
