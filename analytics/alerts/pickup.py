"""Batch findings into the outbox: new open findings of ``regaudit analyze`` become alerts.

The dispatcher calls ``pick_up_findings`` in each cycle's transaction. A finding is picked up once: when it is
open, at least as severe as the least demanding sink wants, younger than ``give_up_after_hours``, and no alert
for it is queued yet (streaming rules queue theirs with the finding, so analyze's later run of the same
detection adds nothing). Acknowledged and suppressed findings never alert.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import duckdb

from regaudit.analytics.alerts.alert import Alert, alert_id
from regaudit.analytics.alerts.evidence import Facts, lookup
from regaudit.analytics.alerts.outbox import insert_alert
from regaudit.analytics.detection import FINDING_COLUMNS, Detection, Severity
from regaudit.analytics.errors import UnknownDetectionError
from regaudit.analytics.registry import DetectionRegistry

_NEW_FINDINGS = """
SELECT finding_id, detection_id, severity, subject, summary, window_start_at, window_end_at, evidence,
       registry, repository, tag, digest, identity, client_addr
FROM findings AS f
WHERE status = 'open' AND first_seen_at >= $oldest AND severity IN (SELECT unnest($severities::VARCHAR[]))
  AND NOT EXISTS (SELECT 1 FROM alert_outbox AS o WHERE o.finding_id = f.finding_id)
ORDER BY first_seen_at, finding_id
LIMIT $limit
"""


def severities_from(least: Severity) -> list[str]:
    return [severity.value for severity in Severity.at_least(least)]


def pick_up_findings(
    con: duckdb.DuckDBPyConnection,
    registry: DetectionRegistry,
    least: Severity,
    oldest: datetime,
    now: datetime,
    limit: int = 1000,
) -> int:
    """Queue an alert for each new open finding; returns how many were queued."""
    rows = con.execute(
        _NEW_FINDINGS, {"oldest": oldest, "severities": severities_from(least), "limit": limit}
    ).fetchall()
    if not rows:
        return 0
    firsts = [_first_ref(row[7]) for row in rows]
    facts = lookup(con, [ref for ref in firsts if ref], _windows(rows))
    queued = 0
    for row, first in zip(rows, firsts, strict=True):
        queued += insert_alert(con, _alert(row, facts.get(first or "", Facts()), registry, now), None)
    return queued


def _windows(rows: Sequence[Sequence[Any]]) -> tuple[datetime, datetime] | None:
    """From the earliest window start to the latest window end of these findings, if any has both."""
    windows = [(row[5], row[6]) for row in rows if row[5] is not None and row[6] is not None]
    return (min(start for start, _ in windows), max(end for _, end in windows)) if windows else None


def _first_ref(evidence: str | None) -> str | None:
    ids = json.loads(evidence).get("ids") if evidence else None
    return str(ids[0]) if ids else None


def _evidence_count(evidence: str | None) -> int:
    return int(json.loads(evidence).get("ids_count", 0)) if evidence else 0


def _alert(row: Sequence[Any], facts: Facts, registry: DetectionRegistry, now: datetime) -> Alert:
    finding, detection_id, severity, subject, summary, start, end, evidence = row[:8]
    detection = _detection(registry, str(detection_id))
    return Alert(
        alert_id=alert_id("analyze", str(finding)),
        finding_id=str(finding),
        detection_id=str(detection_id),
        title=detection.title if detection else str(detection_id),
        severity=Severity(severity),
        origin="analyze",
        subject=str(subject),
        summary=str(summary),
        created_at=now,
        window_start_at=_utc(start),
        window_end_at=_utc(end),
        evidence_count=_evidence_count(evidence),
        about=dict(zip(FINDING_COLUMNS, row[8:], strict=True)),
        false_positives=detection.false_positives if detection else (),
        attack=detection.attack if detection else (),
        **facts.fields(),
    )


def _detection(registry: DetectionRegistry, detection_id: str) -> type[Detection] | None:
    try:
        return registry.get(detection_id)
    except UnknownDetectionError:  # a finding of a detection since removed still alerts, with less text
        return None


def _utc(value: object) -> datetime | None:
    return value.astimezone(UTC) if isinstance(value, datetime) else None
