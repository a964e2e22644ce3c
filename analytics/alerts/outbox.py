"""The outbox tables (``ingest/alerts_outbox.sql``): queueing alerts, claiming them per sink, logging outcomes.

Every function here runs inside a transaction its caller holds, so one dispatcher cycle is one short write:
take the lease, log the outcomes the sinks reported, pick up new analyze findings, expire what is too old and
hand each idle sink what is due. ``alerts`` (store schema 1) is the log: one row per send attempt (``attempt``
1, 2...) and one per decision without a send (``attempt`` 0: filtered, deduplicated, expired).

States in ``alert_deliveries``: ``pending`` until a final one of ``delivered``, ``rejected``, ``filtered``,
``deduplicated`` or ``expired``. A failed attempt keeps the alert pending with a later ``next_attempt_at``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import duckdb

from regaudit.analytics.alerts.alert import Alert

OutcomeName = Literal["delivered", "failed", "rejected", "filtered", "deduplicated", "expired"]
LEASE = "dispatcher"

_INSERT_ALERT = """
INSERT INTO alert_outbox (alert_id, finding_id, detection_id, severity, origin, created_at, event_at, received_at,
                          batch_id, body)
VALUES ($alert_id, $finding_id, $detection_id, $severity, $origin, $created_at, $event_at, $received_at,
        $batch_id, CAST($body AS JSON))
ON CONFLICT DO NOTHING
RETURNING alert_id
"""
_TAKE_LEASE = """
INSERT INTO alert_dispatcher_lease VALUES ($name, $owner, $until)
ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
WHERE alert_dispatcher_lease.owner = excluded.owner OR alert_dispatcher_lease.expires_at <= $now
"""
_LOG = """
INSERT INTO alerts VALUES ($alert_id, $finding_id, $sink, $attempt, $at, $outcome, $detail) ON CONFLICT DO NOTHING
"""
_STATE = """
UPDATE alert_deliveries SET state = $state, attempts = greatest(attempts, $attempt), next_attempt_at = $next_at,
                            updated_at = $at
WHERE alert_id = $alert_id AND sink = $sink AND state = 'pending'
"""
_ENROL = """
INSERT INTO alert_deliveries
SELECT o.alert_id, $sink, o.finding_id, 'pending', 0, least(o.created_at, $now), $now
FROM alert_outbox AS o
WHERE o.created_at >= $oldest
  AND NOT EXISTS (SELECT 1 FROM alert_deliveries AS d WHERE d.alert_id = o.alert_id AND d.sink = $sink)
"""
_EXPIRE = """
UPDATE alert_deliveries SET state = 'expired', updated_at = $now
WHERE sink = $sink AND state = 'pending'
  AND alert_id IN (SELECT alert_id FROM alert_outbox WHERE created_at < $oldest)
RETURNING alert_id, finding_id
"""
_DUE = """
SELECT o.body, d.attempts,
       (SELECT max(x.updated_at) FROM alert_deliveries AS x
        WHERE x.sink = d.sink AND x.finding_id = d.finding_id AND x.state = 'delivered') AS last_delivered_at
FROM alert_deliveries AS d
JOIN alert_outbox AS o USING (alert_id)
WHERE d.sink = $sink AND d.state = 'pending' AND d.next_attempt_at <= $now
ORDER BY o.created_at, o.alert_id
LIMIT $limit
"""


@dataclass(frozen=True)
class Due:
    """An alert a sink should get now, with its attempts so far and the last delivery of its finding there."""

    alert: Alert
    attempts: int
    last_delivered_at: datetime | None


@dataclass(frozen=True)
class Outcome:
    """What became of one alert at one sink: a send attempt (``attempt`` >= 1) or a decision (``attempt`` 0)."""

    alert_id: str
    finding_id: str
    sink: str
    attempt: int
    at: datetime
    outcome: OutcomeName
    detail: str | None = None
    next_attempt_at: datetime | None = None

    @property
    def state(self) -> str:
        return "pending" if self.outcome == "failed" else self.outcome


def insert_alert(con: duckdb.DuckDBPyConnection, alert: Alert, batch_id: int | None) -> int:
    """Queue one alert (inside the caller's transaction); 1 if it was new, 0 if it was there already."""
    inserted = con.execute(
        _INSERT_ALERT,
        {
            "alert_id": alert.alert_id,
            "finding_id": alert.finding_id,
            "detection_id": alert.detection_id,
            "severity": alert.severity.value,
            "origin": alert.origin,
            "created_at": alert.created_at,
            "event_at": alert.event_at,
            "received_at": alert.received_at,
            "batch_id": batch_id,
            "body": json.dumps(alert.model_dump(mode="json")),
        },
    ).fetchall()
    return len(inserted)


def take_lease(con: duckdb.DuckDBPyConnection, owner: str, now: datetime, until: datetime) -> bool:
    """Take or renew the dispatcher lease; False while another live dispatcher holds it."""
    con.execute(_TAKE_LEASE, {"name": LEASE, "owner": owner, "until": until, "now": now})
    holder = con.execute("SELECT owner FROM alert_dispatcher_lease WHERE name = $name", {"name": LEASE}).fetchall()
    return bool(holder) and holder[0][0] == owner


def release_lease(con: duckdb.DuckDBPyConnection, owner: str, now: datetime) -> None:
    con.execute(
        "UPDATE alert_dispatcher_lease SET expires_at = $now WHERE name = $name AND owner = $owner",
        {"now": now, "name": LEASE, "owner": owner},
    )


def record(con: duckdb.DuckDBPyConnection, outcomes: Sequence[Outcome]) -> None:
    """Log each outcome in ``alerts`` and move the delivery state on."""
    for item in outcomes:
        con.execute(
            _LOG,
            {
                "alert_id": item.alert_id,
                "finding_id": item.finding_id,
                "sink": item.sink,
                "attempt": item.attempt,
                "at": item.at,
                "outcome": item.outcome,
                "detail": item.detail,
            },
        )
        con.execute(
            _STATE,
            {
                "state": item.state,
                "attempt": item.attempt,
                "next_at": item.next_attempt_at or item.at,
                "at": item.at,
                "alert_id": item.alert_id,
                "sink": item.sink,
            },
        )


def expire(con: duckdb.DuckDBPyConnection, sink: str, now: datetime, oldest: datetime) -> list[Outcome]:
    """Pending alerts created before ``oldest`` are given up for ``sink``; the outcomes to log."""
    rows = con.execute(_EXPIRE, {"sink": sink, "now": now, "oldest": oldest}).fetchall()
    detail = "not delivered within alerts.give_up_after_hours"
    return [Outcome(str(a), str(f), sink, 0, now, "expired", detail) for a, f in rows]


def claim(con: duckdb.DuckDBPyConnection, sink: str, now: datetime, oldest: datetime, limit: int) -> list[Due]:
    """Enrol the outbox's recent alerts for ``sink`` and return the ones due now, oldest first."""
    con.execute(_ENROL, {"sink": sink, "now": now, "oldest": oldest})
    rows = con.execute(_DUE, {"sink": sink, "now": now, "limit": limit}).fetchall()
    return [Due(Alert.model_validate_json(body), int(attempts), last) for body, attempts, last in rows]
