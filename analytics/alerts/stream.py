"""Streaming rules: the push and delete detections that need no long baseline, run inside each ingest batch.

``queue_stream_alerts`` is a batch hook (``regaudit.ingest.hooks``): it runs in the batch's DuckDB transaction
after the canonical and derived rows are written. It evaluates the very SQL of the batch detections listed in
``alerts.stream_detections`` (unexpected identity, off-hours, outside CI networks, release tag overwrite,
protected delete), with the window of the batch's new pushes and deletes, keeps the hits whose evidence holds
one of those new rows, upserts their findings with ``regaudit analyze``'s own upsert (same ids, statuses kept),
and writes one alert per open finding into ``alert_outbox``. All of it commits or rolls back with the batch: an
alert is created exactly once, and a replayed batch adds no rows, so it finds nothing new. No network I/O happens
here; the dispatcher delivers.

A rule that raises fails the batch's transaction (DuckDB aborts it on any error), and the sink then isolates
the record it raised on as a dead letter and stores the rest (``regaudit.ingest.sinks.isolation``): a rule can
cost a record its row, never the batch. Event times lie in ``TIME_WINDOW`` (``regaudit.schemas.registry``), so
the window arithmetic below cannot overflow; at 9999-12-31 it did, and every replay of the batch failed.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import duckdb

from regaudit.analytics import findings, functions, runner
from regaudit.analytics.alerts.alert import Alert, alert_id
from regaudit.analytics.alerts.evidence import Facts, batch_actions, earliest
from regaudit.analytics.alerts.outbox import insert_alert
from regaudit.analytics.context import AnalysisContext
from regaudit.analytics.detection import Detection
from regaudit.analytics.findings import Hit
from regaudit.analytics.registry import default_registry

if TYPE_CHECKING:
    from regaudit.settings import Settings

log = logging.getLogger(__name__)


def queue_stream_alerts(con: duckdb.DuckDBPyConnection, batch_id: int, settings: Settings) -> None:
    """The batch hook: findings and outbox alerts for this batch's new pushes and deletes."""
    alerts = settings.alerts
    if not alerts.sinks or not alerts.stream_detections:
        return
    now = datetime.now(UTC)
    actions = batch_actions(con, batch_id, now - timedelta(minutes=alerts.stream_max_event_age_minutes))
    times = [facts.event_at for facts in actions.values() if facts.event_at is not None]
    if not times:
        return
    started = time.perf_counter()
    registry = default_registry()
    selected = registry.select(alerts.stream_detections, settings.analytics.disabled)
    parameters = runner.resolve_parameters(selected, settings.analytics.thresholds, registry)
    context = AnalysisContext(now=max(times) + timedelta(seconds=1), since=min(times), org=settings.org)
    hits: list[tuple[type[Detection], Hit, list[str]]] = []
    with prepared(con):
        for detection in selected:
            for hit in runner.evaluate(con, detection, parameters[detection.id], context, logging.DEBUG):
                if trigger := [ref for ref in hit.evidence_ids if ref in actions]:
                    hits.append((detection, hit, trigger))
    outcome = findings.upsert(con, [hit for _, hit, _ in hits], now, settings.analytics.max_evidence_ids)
    queued = 0
    for detection, hit, trigger in hits:
        if outcome.statuses[hit.finding_id] == "open":
            queued += insert_alert(
                con, stream_alert(detection, hit, trigger, earliest(trigger, actions), now), batch_id
            )
    log.info(
        "stream batch=%d detections=%d findings=%d alerts=%d seconds=%.3f",
        batch_id, len(selected), len(hits), queued, time.perf_counter() - started,
    )  # fmt: skip


@contextlib.contextmanager
def prepared(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """The detections' views and functions on the batch's connection, for the hook's duration only.

    The Python functions are removed again before the batch commits: DuckDB keeps them per database, not per
    connection, and one must never outlive the connection that registered it.
    """
    present = {
        str(name)
        for (name,) in con.execute(
            "SELECT DISTINCT function_name FROM duckdb_functions() WHERE function_name IN (SELECT unnest($names))",
            {"names": [entry[0] for entry in functions.FUNCTIONS]},
        ).fetchall()
    }
    added = []
    for name, function, argument_types, return_type in functions.FUNCTIONS:
        if name not in present:
            con.create_function(name, function, argument_types, return_type, null_handling="special")  # type: ignore[call-overload]
            added.append(name)
    try:
        con.execute(runner.VIEWS_SQL)
        yield
    finally:
        for name in added:
            con.remove_function(name)


def stream_alert(detection: type[Detection], hit: Hit, trigger: list[str], facts: Facts, now: datetime) -> Alert:
    """The alert for a streaming hit, named after the batch's rows that made it fire."""
    return Alert(
        alert_id=alert_id("stream", hit.finding_id, *sorted(trigger)),
        finding_id=hit.finding_id,
        detection_id=detection.id,
        title=detection.title,
        severity=hit.severity,
        origin="stream",
        subject=hit.subject,
        summary=hit.summary,
        created_at=now,
        window_start_at=hit.window_start_at,
        window_end_at=hit.window_end_at,
        evidence_count=len(hit.evidence_ids),
        about=hit.about,
        false_positives=detection.false_positives,
        attack=detection.attack,
        **facts.fields(),
    )
