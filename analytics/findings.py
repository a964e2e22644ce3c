"""Findings in the store: the deterministic id, the upsert that keeps a finding's status, and status changes.

A finding is one detection firing for one subject in one window. Its id hashes exactly those, so a re-run
updates the row (``last_seen_at``, summary, evidence, what it is about) instead of adding one. What it is about
(``FINDING_COLUMNS``: registry, repository, tag, digest, identity, client address) has columns of its own, so
nobody parses the subject. The status (open, acknowledged, suppressed) and its reason belong to people: the
upsert never touches them, and suppressed findings are reported as such so that nothing alerts on them again. A
status changes only through ``set_status``, which records the decision in the hash chain
(``regaudit.evidence.decisions``).

``upsert`` is the one way findings are written, by ``regaudit analyze`` and by the streaming rules alike. It runs
in its caller's transaction (the analysis's write, or the ingest batch a streaming rule fired in), so findings
commit or roll back with whatever else that transaction holds.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

import duckdb
import pyarrow as pa

from regaudit.analytics.detection import FINDING_COLUMNS, Severity
from regaudit.evidence import decisions

Status = Literal["open", "acknowledged", "suppressed"]
STATUSES: tuple[Status, ...] = ("open", "acknowledged", "suppressed")


def finding_id(
    detection_id: str, subject: str, window_start_at: datetime | None, window_end_at: datetime | None
) -> str:
    """sha256 over detection id, subject and window bounds (ISO, UTC), first 32 hex digits."""
    parts = [detection_id, subject, _iso(window_start_at), _iso(window_end_at)]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def _iso(moment: datetime | None) -> str:
    return "" if moment is None else moment.isoformat()


@dataclass(frozen=True)
class Hit:
    """One row a detection's SQL returned: a finding as computed, before it meets the store."""

    detection_id: str
    severity: Severity
    subject: str
    window_start_at: datetime | None
    window_end_at: datetime | None
    summary: str
    evidence_ids: tuple[str, ...]
    values: Mapping[str, object] = field(default_factory=dict)
    registry: str | None = None
    repository: str | None = None
    tag: str | None = None
    digest: str | None = None
    identity: str | None = None
    client_addr: str | None = None

    @property
    def about(self) -> dict[str, str | None]:
        """What the finding is about, by ``FINDING_COLUMNS`` name (None where it does not apply)."""
        return {name: getattr(self, name) for name in FINDING_COLUMNS}

    @property
    def finding_id(self) -> str:
        return finding_id(self.detection_id, self.subject, self.window_start_at, self.window_end_at)

    def evidence_json(self, max_ids: int) -> str:
        evidence = {
            "summary": self.summary,
            "ids": list(self.evidence_ids[:max_ids]),
            "ids_count": len(self.evidence_ids),
            "values": dict(self.values),
        }
        return json.dumps(evidence, sort_keys=True, default=_json_default)


def _json_default(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list | tuple | set):
        return list(value)
    return str(value)


@dataclass(frozen=True)
class UpsertOutcome:
    """Finding ids by what the upsert did with them, and each one's status after it."""

    new: tuple[str, ...]
    refreshed: tuple[str, ...]
    suppressed: tuple[str, ...]
    statuses: Mapping[str, str] = field(default_factory=dict)


_COLUMNS = (
    "finding_id", "detection_id", "severity", "subject", "window_start_at", "window_end_at", "first_seen_at",
    "last_seen_at", "summary", "evidence", *FINDING_COLUMNS,
)  # fmt: skip
_SCHEMA = pa.schema(
    [(name, pa.timestamp("us", tz="UTC") if name.endswith("_at") else pa.string()) for name in _COLUMNS]
)
_ABOUT = ", ".join(FINDING_COLUMNS)
_UPSERT = f"""
INSERT INTO findings (finding_id, detection_id, severity, subject, window_start_at, window_end_at,
                      first_seen_at, last_seen_at, summary, evidence, status, {_ABOUT})
SELECT finding_id, detection_id, severity, subject, window_start_at, window_end_at, first_seen_at,
       last_seen_at, summary, CAST(evidence AS JSON), 'open', {_ABOUT}
FROM staged_findings
ON CONFLICT (finding_id) DO UPDATE SET
    severity = excluded.severity,
    last_seen_at = excluded.last_seen_at,
    summary = excluded.summary,
    evidence = excluded.evidence,
    {", ".join(f"{name} = excluded.{name}" for name in FINDING_COLUMNS)}
"""  # noqa: S608 - column names from FINDING_COLUMNS; every value comes from the staged table


def upsert(
    con: duckdb.DuckDBPyConnection, hits: Sequence[Hit], seen_at: datetime, max_evidence_ids: int
) -> UpsertOutcome:
    """Insert new findings and refresh the ones already stored, in one statement of the caller's transaction;
    statuses stay as they are. A refresh also sets what the finding is about, so a finding stored before those
    columns existed gets them from the next run that sees it."""
    unique = {hit.finding_id: hit for hit in hits}
    if not unique:
        return UpsertOutcome(new=(), refreshed=(), suppressed=())
    statuses = _statuses(con, list(unique))
    rows = [
        (fid, h.detection_id, h.severity.value, h.subject, h.window_start_at, h.window_end_at,
         seen_at, seen_at, h.summary, h.evidence_json(max_evidence_ids), *h.about.values())
        for fid, h in unique.items()
    ]  # fmt: skip
    staged = pa.Table.from_pylist([dict(zip(_COLUMNS, row, strict=True)) for row in rows], schema=_SCHEMA)
    con.register("staged_findings", staged)
    try:
        con.execute(_UPSERT)
    finally:
        con.unregister("staged_findings")
    return UpsertOutcome(
        new=tuple(fid for fid in unique if fid not in statuses),
        refreshed=tuple(fid for fid in unique if statuses.get(fid) in ("open", "acknowledged")),
        suppressed=tuple(fid for fid in unique if statuses.get(fid) == "suppressed"),
        statuses={fid: statuses.get(fid, "open") for fid in unique},
    )


def _statuses(con: duckdb.DuckDBPyConnection, ids: list[str]) -> dict[str, str]:
    if not ids:
        return {}
    rows = con.execute(
        "SELECT finding_id, status FROM findings WHERE finding_id IN (SELECT unnest($ids::VARCHAR[]))",
        {"ids": ids},
    ).fetchall()
    return {str(fid): str(status) for fid, status in rows}


def set_status(
    con: duckdb.DuckDBPyConnection, finding: str, status: Status, reason: str | None, by: str, at: datetime
) -> decisions.Decision:
    """Acknowledge, suppress or reopen one finding; suppressing needs a reason. The decision is an audited record
    (``regaudit.evidence.decisions``: a row and a chain entry) and the finding's status its copy, in one transaction,
    so ``regaudit verify`` finds a status or decision changed by any other way."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}, not {status!r}")
    if status == "suppressed" and not reason:
        raise ValueError("suppressing a finding needs a reason")
    con.execute("BEGIN TRANSACTION")
    try:
        old = con.execute("SELECT status FROM findings WHERE finding_id = $finding", {"finding": finding}).fetchall()
        if not old:
            raise KeyError(f"no finding {finding!r}")
        decision = decisions.record(con, finding, str(old[0][0]), status, reason, by, at)
        con.execute(
            "UPDATE findings SET status = $status, status_reason = $reason, status_by = $by, status_at = $at"
            " WHERE finding_id = $finding",
            {"status": status, "reason": reason, "by": by, "at": at, "finding": finding},
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return decision
