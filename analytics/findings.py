"""Findings in the store: the deterministic id, the upsert that keeps a finding's status, and status changes.

A finding is one detection firing for one subject in one window. Its id hashes exactly those, so a re-run
updates the row (``last_seen_at``, summary, evidence) instead of adding one. The status (open, acknowledged,
suppressed) and its reason belong to people: the upsert never touches them, and suppressed findings are
reported as such so that nothing alerts on them again. A status changes only through ``set_status``, which records
the decision in the hash chain (``regaudit.ingest.decisions``).
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

from regaudit.analytics.detection import Severity
from regaudit.ingest import decisions

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
    """Finding ids by what the upsert did with them."""

    new: tuple[str, ...]
    refreshed: tuple[str, ...]
    suppressed: tuple[str, ...]


_COLUMNS = (
    "finding_id", "detection_id", "severity", "subject", "window_start_at", "window_end_at", "first_seen_at",
    "last_seen_at", "summary", "evidence",
)  # fmt: skip
_SCHEMA = pa.schema(
    [(name, pa.timestamp("us", tz="UTC") if name.endswith("_at") else pa.string()) for name in _COLUMNS]
)
_UPSERT = """
INSERT INTO findings (finding_id, detection_id, severity, subject, window_start_at, window_end_at,
                      first_seen_at, last_seen_at, summary, evidence, status)
SELECT finding_id, detection_id, severity, subject, window_start_at, window_end_at, first_seen_at,
       last_seen_at, summary, CAST(evidence AS JSON), 'open'
FROM staged_findings
ON CONFLICT (finding_id) DO UPDATE SET
    severity = excluded.severity,
    last_seen_at = excluded.last_seen_at,
    summary = excluded.summary,
    evidence = excluded.evidence
"""


def upsert(
    con: duckdb.DuckDBPyConnection, hits: Sequence[Hit], seen_at: datetime, max_evidence_ids: int
) -> UpsertOutcome:
    """Insert new findings, refresh the ones already stored, in one statement; statuses stay as they are."""
    unique = {hit.finding_id: hit for hit in hits}
    statuses = _statuses(con, list(unique))
    rows = [
        (fid, h.detection_id, h.severity.value, h.subject, h.window_start_at, h.window_end_at,
         seen_at, seen_at, h.summary, h.evidence_json(max_evidence_ids))
        for fid, h in unique.items()
    ]  # fmt: skip
    staged = pa.Table.from_pylist([dict(zip(_COLUMNS, row, strict=True)) for row in rows], schema=_SCHEMA)
    con.register("staged_findings", staged)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(_UPSERT)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("staged_findings")
    return UpsertOutcome(
        new=tuple(fid for fid in unique if fid not in statuses),
        refreshed=tuple(fid for fid in unique if statuses.get(fid) in ("open", "acknowledged")),
        suppressed=tuple(fid for fid in unique if statuses.get(fid) == "suppressed"),
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
    (``regaudit.ingest.decisions``: a row and a chain entry) and the finding's status its copy, in one transaction,
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
