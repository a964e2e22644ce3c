"""The detection contract: one subclass of ``Detection`` per file, metadata as class attributes.

A detection is data plus one DuckDB query (pypanther's rule-per-file, pySigma's ClassVar metadata)::

    class AnonymousPrivatePull(Detection):
        id = "pull.anonymous_private"
        title = "Anonymous pull of a non-public repository"
        severity = Severity.HIGH
        family = "pull"
        ...
        parameters = Params          # a Parameters model; its defaults are the thresholds
        sql = "SELECT ... WHERE occurred_at >= $since AND ..."
        cases = (Case(...), Case(...))
        needs = frozenset({Data.MANIFEST_PULLS, Data.CLIENT_ADDRESS})

``needs`` is the data the query must see to decide (``regaudit.schemas.sources.Data``): a source that lacks one
(``schemas/sources.py``'s ``CAPABILITIES``) leaves the detection quiet, and ``regaudit detections list --source``
says why. Every shipped detection declares it (a test holds them to it); data only in a summary is not a need.

The query binds named parameters only (``$name``: the detection's parameters plus ``CONTEXT_PARAMETERS``) and
returns one row per finding with the columns ``REQUIRED_COLUMNS``: the subject and summary (sentences for people),
the window, ``evidence_ids`` (references ``<table>:<key>`` to the rows that prove the finding) and
``FINDING_COLUMNS``, what the finding is about (registry, repository, tag, digest, identity, client address; NULL
where one does not apply). Readers select and scope findings by those columns, never by parsing the subject. Any
further column is kept as a value in the finding's evidence.
``DetectionMeta`` checks all of it when the detection is registered (the returned columns from DuckDB's parse tree
of the query, so nothing is bound or run).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from regaudit.analytics.context import CONTEXT_PARAMETERS
from regaudit.analytics.errors import DetectionMetadataError
from regaudit.schemas.sources import Data

#: What a finding is about, stored as columns of ``findings``: NULL where one does not apply to the detection.
FINDING_COLUMNS = ("registry", "repository", "tag", "digest", "identity", "client_addr")
REQUIRED_COLUMNS = ("subject", "window_start_at", "window_end_at", "summary", "evidence_ids", *FINDING_COLUMNS)
PARAMETER = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
ATTACK_ID = r"^T\d{4}(\.\d{3})?$"
DETECTION_ID = r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$"
#: What must never appear in detection SQL: formatting braces, printf and positional placeholders.
FORBIDDEN_SQL = re.compile(r"[{}]|%s|%\(|\?|\$\d")
TABLES = frozenset(
    {"registry_events", "access_log", "image_activity", "tag_history", "credentials", "identities", "dead_letters"}
)


class Severity(StrEnum):
    """How bad a finding is, least severe first: the one place the order of severities is written."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """0 for low up to 3 for critical: compare severities by rank, never by their names."""
        return list(Severity).index(self)

    @classmethod
    def most_severe_first(cls) -> tuple[Severity, ...]:
        return tuple(reversed(cls))

    @classmethod
    def at_least(cls, least: Severity) -> tuple[Severity, ...]:
        """``least`` and every more severe one."""
        return tuple(severity for severity in cls if severity.rank >= least.rank)


def severity_order_sql(column: str = "severity") -> str:
    """A SQL expression that sorts ``column`` most severe first (1 critical .. 4 low, NULL for an unknown name),
    generated from ``Severity`` so that no query spells the order out."""
    names = ", ".join(f"'{severity.value}'" for severity in Severity.most_severe_first())
    return f"list_position([{names}], {column})"


def _select_list(sql: str) -> list[dict[str, Any]]:
    """The outermost SELECT's expressions from DuckDB's parse tree: nothing is bound or run."""
    import duckdb  # here, not at the top: the metadata models are imported where DuckDB is not needed

    with duckdb.connect(":memory:") as con:
        tree = json.loads(str(con.execute("SELECT json_serialize_sql($sql)", {"sql": sql}).fetchall()[0][0]))
    if tree.get("error"):
        raise ValueError(f"SQL does not parse: {tree.get('error_message')}")
    node = tree["statements"][0]["node"]
    while node.get("type") == "SET_OPERATION_NODE":  # a UNION's columns are named by its first query
        node = node.get("left") or node["children"][0]
    return list(node.get("select_list", []))


def _name(entry: dict[str, Any]) -> str:
    return str(entry.get("alias") or (entry.get("column_names") or [""])[-1])


def _is_null(entry: dict[str, Any]) -> bool:
    if entry.get("class") == "CAST":
        return _is_null(entry["child"])
    return entry.get("class") == "CONSTANT" and entry.get("literal", {}).get("kind") == "NULL_LITERAL"


def output_columns(sql: str) -> tuple[str, ...]:
    """The names of the columns a query returns."""
    return tuple(_name(entry) for entry in _select_list(sql))


def about_columns(sql: str) -> tuple[str, ...]:
    """The ``FINDING_COLUMNS`` a query fills (returns as something other than a NULL literal)."""
    filled = {_name(entry) for entry in _select_list(sql) if not _is_null(entry)}
    return tuple(name for name in FINDING_COLUMNS if name in filled)


class Parameters(BaseModel):
    """Base of every detection's parameters: frozen, unknown names refused, each field described."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)


class NoParameters(Parameters):
    """For detections without thresholds."""


@dataclass(frozen=True)
class Row:
    """One fixture row for a case: the table and its column values."""

    table: str
    values: Mapping[str, object]


@dataclass(frozen=True)
class Case:
    """A small store and how many findings the detection must raise on it at ``now``."""

    name: str
    rows: tuple[Row, ...]
    expect: int
    now: datetime
    params: Mapping[str, object] = field(default_factory=dict)
    org: Mapping[str, object] = field(default_factory=dict)
    subjects: tuple[str, ...] = ()
    #: What findings are about: each mapping (``FINDING_COLUMNS`` names to values, None for NULL) must equal
    #: the columns of at least one finding the case raises.
    about: tuple[Mapping[str, object], ...] = ()


class DetectionMeta(BaseModel):
    """Checks a detection's class attributes at registration."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    id: str = Field(pattern=DETECTION_ID)
    title: str = Field(min_length=8, max_length=80)
    severity: Severity
    family: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str = Field(min_length=40)
    false_positives: tuple[str, ...] = Field(min_length=1)
    attack: tuple[str, ...] = Field(min_length=1)
    references: tuple[str, ...] = ()
    parameters: type[Parameters]
    sql: str = Field(min_length=20)
    cases: tuple[Case, ...] = Field(min_length=2)
    needs: frozenset[Data] | None = None

    @field_validator("attack")
    @classmethod
    def _attack(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        bad = [value for value in values if not re.match(ATTACK_ID, value)]
        if bad:
            raise ValueError(f"ATT&CK ids look like T1078 or T1110.001, not {bad}")
        return values

    @field_validator("sql")
    @classmethod
    def _sql(cls, value: str) -> str:
        if found := FORBIDDEN_SQL.search(value):
            raise ValueError(f"SQL binds named parameters ($name) only: no braces, %s, ? or $1 (found {found[0]!r})")
        returned = output_columns(value)
        if missing := [name for name in REQUIRED_COLUMNS if name not in returned]:
            raise ValueError(f"SQL returns no column {missing}: return each, NULL where it does not apply")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> DetectionMeta:
        if not self.id.startswith(f"{self.family}."):
            raise ValueError(f"id {self.id!r} must start with its family {self.family!r}")
        own = set(self.parameters.model_fields)
        if clash := own & CONTEXT_PARAMETERS:
            raise ValueError(f"parameters {sorted(clash)} shadow context parameters")
        if undescribed := [n for n, f in self.parameters.model_fields.items() if not f.description]:
            raise ValueError(f"parameters {undescribed} have no description")
        used = set(PARAMETER.findall(self.sql))
        if undeclared := used - own - CONTEXT_PARAMETERS:
            raise ValueError(f"SQL binds undeclared parameters {sorted(undeclared)}")
        if unused := own - used:
            raise ValueError(f"parameters {sorted(unused)} are declared but unused in the SQL")
        if not any(case.expect > 0 for case in self.cases) or not any(case.expect == 0 for case in self.cases):
            raise ValueError("cases need at least one firing and one non-firing case")
        for case in self.cases:
            self._check_case(case)
        return self

    def _check_case(self, case: Case) -> None:
        if case.now.tzinfo is None:
            raise ValueError(f"case {case.name!r}: now must carry a time zone")
        if unknown := {row.table for row in case.rows} - TABLES:
            raise ValueError(f"case {case.name!r}: unknown tables {sorted(unknown)}")
        if unknown := {name for about in case.about for name in about} - set(FINDING_COLUMNS):
            raise ValueError(f"case {case.name!r}: about names no finding column {sorted(unknown)}")
        self.parameters.model_validate(dict(case.params))


class Detection:
    """Base of every detection. Subclasses set the class attributes; nothing is instantiated."""

    id: ClassVar[str]
    title: ClassVar[str]
    severity: ClassVar[Severity]
    family: ClassVar[str]
    description: ClassVar[str]
    false_positives: ClassVar[tuple[str, ...]]
    attack: ClassVar[tuple[str, ...]]
    references: ClassVar[tuple[str, ...]] = ()
    parameters: ClassVar[type[Parameters]] = NoParameters
    sql: ClassVar[str]
    cases: ClassVar[tuple[Case, ...]]
    #: the source data the query decides on; None until declared (see the module docstring)
    needs: ClassVar[frozenset[Data] | None] = None

    @classmethod
    def meta(cls) -> DetectionMeta:
        """The validated metadata; raises DetectionMetadataError naming the class."""
        names = DetectionMeta.model_fields
        try:
            return DetectionMeta.model_validate({name: getattr(cls, name, None) for name in names})
        except ValidationError as error:
            raise DetectionMetadataError(f"{cls.__module__}.{cls.__qualname__}: {error}") from error

    @classmethod
    def sql_parameters(cls) -> frozenset[str]:
        """The names the SQL binds, so the runner passes exactly those."""
        return frozenset(PARAMETER.findall(cls.sql))

    @classmethod
    def resolve(cls, overrides: Mapping[str, Any] | None = None) -> Parameters:
        """The parameters with ``overrides`` applied over the defaults, validated."""
        return cls.parameters.model_validate(dict(overrides or {}))
