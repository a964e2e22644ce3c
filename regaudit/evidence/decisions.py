"""People's decisions on findings as audited records: who acknowledged, suppressed or reopened which finding,
when, from which status, and why.

A decision is one row of ``finding_decisions`` and one chain entry of kind ``decision`` appended in the same
transaction; the entry's ``detail`` is the row in canonical JSON (sorted keys, no spaces, times in UTC ISO 8601
with microseconds), so the entry hash covers every field. Rows are never updated or deleted. The finding's
``status``, ``status_reason``, ``status_by`` and ``status_at`` are the last decision's, written beside the finding
for the pages and reports that read it.

``problems`` (run by ``regaudit verify``) finds: a decision row edited, deleted, or inserted without its entry;
a finding whose status is not its last decision's (edited in place, or decided before decisions were recorded:
``regaudit verify --seal`` records those, ``recorded_by = 'verify --seal'``, trusting what they hold); decisions
of a finding no longer in ``findings``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb

from regaudit.evidence import chain
from regaudit.evidence.canonical import utc_iso

FIELDS = ("seq", "finding_id", "decided_at", "decided_by", "old_status", "new_status", "reason", "recorded_by")
NO_COUNTS: dict[str, Any] = {
    "events_count": 0, "events_digest": None, "access_count": 0, "access_digest": None,
    "dead_letters_count": 0, "dead_letters_digest": None,
}  # fmt: skip


@dataclass(frozen=True)
class Decision:
    """One row of ``finding_decisions``; ``seq`` is the chain entry that seals it."""

    seq: int
    finding_id: str
    decided_at: datetime
    decided_by: str
    old_status: str
    new_status: str
    reason: str | None
    recorded_by: str

    def detail(self) -> str:
        """The canonical JSON the chain entry carries (everything but seq, which is the entry's own)."""
        fields = asdict(self)
        del fields["seq"]
        fields["decided_at"] = utc_iso(self.decided_at)
        return json.dumps({"type": "finding_decision", **fields}, sort_keys=True, separators=(",", ":"))


def record(
    con: duckdb.DuckDBPyConnection,
    finding_id: str,
    old_status: str,
    new_status: str,
    reason: str | None,
    by: str,
    at: datetime,
    recorded_by: str = "set_status",
) -> Decision:
    """Append the decision to the chain and to ``finding_decisions`` (inside the caller's transaction)."""
    draft = Decision(0, finding_id, at, by, old_status, new_status, reason, recorded_by)
    entry = chain.append(con, "decision", None, NO_COUNTS, detail=draft.detail(), committed_at=at)
    decision = Decision(entry.seq, finding_id, at, by, old_status, new_status, reason, recorded_by)
    con.execute(
        f"INSERT INTO finding_decisions ({', '.join(FIELDS)}) VALUES ({', '.join('$' + f for f in FIELDS)})",  # noqa: S608
        asdict(decision),
    )
    return decision


def stored(con: duckdb.DuckDBPyConnection) -> list[Decision]:
    """Every decision row, by seq."""
    rows = con.execute(f"SELECT {', '.join(FIELDS)} FROM finding_decisions ORDER BY seq").fetchall()  # noqa: S608
    return [Decision(*row) for row in rows]


_UNRECORDED = """
SELECT f.finding_id, f.status, f.status_reason, f.status_by, f.status_at
FROM findings f
WHERE (f.status <> 'open' OR f.status_by IS NOT NULL)
  AND NOT EXISTS (SELECT 1 FROM finding_decisions d WHERE d.finding_id = f.finding_id)
ORDER BY f.status_at NULLS LAST, f.finding_id
"""


def seal_unrecorded(con: duckdb.DuckDBPyConnection, now: datetime) -> list[Decision]:
    """Record the statuses set before decisions were recorded, trusting what they hold (``verify --seal``)."""
    return [
        record(con, fid, "open", status, reason, by or "unknown", at or now, recorded_by="verify --seal")
        for fid, status, reason, by, at in con.execute(_UNRECORDED).fetchall()
    ]


def problems(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Decisions that do not match their chain entries, and findings whose status is not their last decision's."""
    entries = {
        int(seq): str(detail or "")
        for seq, detail in con.execute("SELECT seq, detail FROM chain WHERE kind = 'decision' ORDER BY seq").fetchall()
    }
    rows = stored(con)
    found = list(_sealing(entries, rows))
    found += _history(rows)
    found += _statuses(con, rows)
    return found


def _sealing(entries: dict[int, str], rows: Sequence[Decision]) -> Iterator[str]:
    by_seq = {row.seq: row for row in rows}
    for seq, detail in entries.items():
        row = by_seq.get(seq)
        if row is None:
            yield f"decision (chain entry {seq}): {_summary(detail)}: its record was deleted from finding_decisions"
        elif row.detail() != detail:
            changed = _diff(detail, row)
            yield f"decision (chain entry {seq}) on finding {row.finding_id}: its record was changed ({changed})"
    for row in rows:
        if row.seq not in entries:
            yield (
                f"decision on finding {row.finding_id} ({row.new_status} by {row.decided_by}): no chain entry {row.seq}"
                " of kind decision seals it (inserted directly)"
            )


def _summary(detail: str) -> str:
    try:
        sealed = json.loads(detail)
    except ValueError:
        return "unreadable"
    return f"{sealed.get('new_status')} of finding {sealed.get('finding_id')} by {sealed.get('decided_by')}"


def _diff(detail: str, row: Decision) -> str:
    sealed: dict[str, Any] = json.loads(detail)
    now: dict[str, Any] = json.loads(row.detail())
    return "; ".join(
        f"{k} is {now.get(k)!r}, sealed {sealed.get(k)!r}" for k in sorted(now) if now.get(k) != sealed.get(k)
    )


def _history(rows: Sequence[Decision]) -> Iterator[str]:
    """Each decision starts from the status the one before left (a reordered or hidden decision shows here)."""
    last: dict[str, str] = {}
    for row in rows:
        before = last.get(row.finding_id, "open")
        if row.old_status != before:
            yield (
                f"decision (chain entry {row.seq}) on finding {row.finding_id}: starts from {row.old_status!r}, the"
                f" decision before left it {before!r}"
            )
        last[row.finding_id] = row.new_status


def _statuses(con: duckdb.DuckDBPyConnection, rows: Sequence[Decision]) -> Iterator[str]:
    latest = {row.finding_id: row for row in rows}
    current = {
        str(fid): (status, reason, by, at)
        for fid, status, reason, by, at in con.execute(
            "SELECT finding_id, status, status_reason, status_by, status_at FROM findings"
        ).fetchall()
    }
    for fid, (status, reason, by, at) in sorted(current.items()):
        decision = latest.get(fid)
        expected = ("open", None, None, None) if decision is None else (
            decision.new_status, decision.reason, decision.decided_by, decision.decided_at)  # fmt: skip
        if (status, reason, by, _utc(at)) != (expected[0], expected[1], expected[2], _utc(expected[3])):
            yield _status_problem(fid, (status, reason, by), decision)
    for fid in sorted(set(latest) - set(current)):
        yield f"finding {fid}: has recorded decisions but is not in findings (deleted?)"


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC)


def _status_problem(finding: str, now: tuple[Any, Any, Any], decision: Decision | None) -> str:
    status, reason, by = now
    shown = f"{status!r}" + (f" by {by}" if by else "") + (f" ({reason})" if reason else "")
    if decision is None:
        return (
            f"finding {finding}: status {shown} but no recorded decision says so (edited directly, or set before"
            " decisions were recorded: `regaudit verify --seal` records it if you trust it)"
        )
    return (
        f"finding {finding}: status {shown}, its last recorded decision (chain entry {decision.seq}) says"
        f" {decision.new_status!r} by {decision.decided_by} at {utc_iso(decision.decided_at)}"
    )
