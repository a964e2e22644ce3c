"""``analyze``: run the selected detections over a store and keep their findings.

Two phases, after the concurrency rule of DESIGN.md section 3: every detection is computed on one read-only
connection, which is closed before the write connection is opened for the one transaction that upserts the
findings. The consumer can therefore keep writing while detections compute. A store at an older schema
version is upgraded first by a short write (as any writer would), then read.

A finding has its detection's severity unless the query returns a ``severity`` column (a ``Severity`` name, or
NULL for the detection's): the push detections grade a push by the class of its repository that way.

Each detection's query gets exactly the named parameters it binds: its own (defaults, overridden by
``analytics.thresholds``) and the context (``$now``, ``$since`` and the organisation). One ``key=value``
line is logged per detection run and one per analysis.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

import duckdb
from pydantic import ValidationError

from regaudit.analytics import findings, functions
from regaudit.analytics.context import AnalysisContext
from regaudit.analytics.detection import FINDING_COLUMNS, REQUIRED_COLUMNS, Detection, Parameters, Severity
from regaudit.analytics.errors import DetectionError, UnknownDetectionError
from regaudit.analytics.findings import Hit
from regaudit.analytics.registry import DetectionRegistry, default_registry
from regaudit.analytics.settings import AnalyticsSettings, OrgSettings
from regaudit.errors import StoreSchemaError
from regaudit.ingest import store

log = logging.getLogger(__name__)

#: An optional column a detection returns to set one finding's severity (NULL: the detection's own).
SEVERITY_COLUMN = "severity"
VIEWS_SQL = resources.files("regaudit.analytics").joinpath("views.sql").read_text(encoding="utf-8")


@dataclass(frozen=True)
class RunReport:
    """What one analysis computed and what the upsert did with it."""

    context: AnalysisContext
    detections: tuple[str, ...]
    hits: tuple[Hit, ...]
    outcome: findings.UpsertOutcome
    compute_seconds: float
    write_seconds: float

    def summary(self) -> str:
        return (
            f"detections={len(self.detections)} findings={len(self.hits)} new={len(self.outcome.new)}"
            f" refreshed={len(self.outcome.refreshed)} suppressed={len(self.outcome.suppressed)}"
            f" compute_seconds={self.compute_seconds:.3f} write_seconds={self.write_seconds:.3f}"
        )


#: identity_days sums every identity's accepted uses per day (from the daily rollups since schema 13: 0.2 s at 10M
#: events, 3.4 s from the rows before), and four detections read it through identity_history: a run computes it
#: once, on its read-only connection, and the view then reads that table. Same rows, since the run's reads see one
#: snapshot.
SHARED_DAYS = re.compile(r"\bidentity_(?:days|history)\b")
ONCE_PER_RUN = """
CREATE TEMP TABLE identity_days_of_run AS SELECT * FROM identity_days;
CREATE OR REPLACE TEMP VIEW identity_days AS SELECT * FROM identity_days_of_run;
"""


def prepare(con: duckdb.DuckDBPyConnection) -> None:
    """UTC session, the shared functions and views: what every detection query may rely on."""
    con.execute("SET TimeZone = 'UTC'")
    functions.register(con)
    con.execute(VIEWS_SQL)


def resolve_parameters(
    detections: Sequence[type[Detection]],
    thresholds: Mapping[str, Mapping[str, object]],
    registry: DetectionRegistry,
) -> dict[str, Parameters]:
    """Each detection's parameters with the configured overrides; unknown ids or names are errors."""
    for detection_id in thresholds:
        if detection_id not in registry:
            raise UnknownDetectionError(f"analytics.thresholds names no detection {detection_id!r}")
    resolved = {}
    for detection in detections:
        try:
            resolved[detection.id] = detection.resolve(thresholds.get(detection.id))
        except ValidationError as error:
            raise DetectionError(f"analytics.thresholds for {detection.id}: {error}") from error
    return resolved


def evaluate(
    con: duckdb.DuckDBPyConnection,
    detection: type[Detection],
    params: Parameters,
    context: AnalysisContext,
    log_level: int = logging.INFO,
) -> list[Hit]:
    """Run one detection's query on a prepared connection and turn its rows into hits (streaming rules log the
    run at DEBUG, since they run on every ingest batch)."""
    started = time.perf_counter()
    bindings = {**context.bindings(), **params.model_dump()}
    cursor = con.execute(detection.sql, {name: bindings[name] for name in detection.sql_parameters()})
    columns = [column[0] for column in cursor.description or ()]
    if missing := [c for c in REQUIRED_COLUMNS if c not in columns]:
        raise DetectionError(f"{detection.id}: query returns no column {missing}")
    hits = [_hit(detection, dict(zip(columns, row, strict=True))) for row in cursor.fetchall()]
    log.log(log_level, "detection=%s findings=%d seconds=%.3f", detection.id, len(hits), time.perf_counter() - started)
    return hits


def _severity(detection: type[Detection], row: dict[str, object]) -> Severity:
    """The row's own ``severity`` column when it returns one (e.g. by repository class), else the detection's."""
    value = row.get(SEVERITY_COLUMN)
    if value is None:
        return detection.severity
    try:
        return Severity(str(value))
    except ValueError as error:
        raise DetectionError(f"{detection.id}: severity {value!r} is none of {[s.value for s in Severity]}") from error


def _hit(detection: type[Detection], row: dict[str, object]) -> Hit:
    values = {name: value for name, value in row.items() if name not in (*REQUIRED_COLUMNS, SEVERITY_COLUMN)}
    evidence = row["evidence_ids"]
    return Hit(
        detection_id=detection.id,
        severity=_severity(detection, row),
        subject=str(row["subject"]),
        window_start_at=_utc(row["window_start_at"]),
        window_end_at=_utc(row["window_end_at"]),
        summary=str(row["summary"]),
        evidence_ids=tuple(str(ref) for ref in evidence) if isinstance(evidence, list | tuple) else (),
        values=values,
        **{name: None if row[name] is None else str(row[name]) for name in FINDING_COLUMNS},
    )


def _utc(value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise DetectionError(f"window bounds must be TIMESTAMPTZ, got {value!r}")
    return value.astimezone(UTC)


def _compute(
    path: Path,
    lock_timeout: float,
    detections: Sequence[type[Detection]],
    parameters: Mapping[str, Parameters],
    context: AnalysisContext,
    memory_limit: str | None = None,
) -> list[Hit]:
    hits: list[Hit] = []
    config = {"memory_limit": memory_limit} if memory_limit else None  # a connection option: no SQL to build
    with store.reader(path, lock_timeout, config) as con:
        prepare(con)
        if any(SHARED_DAYS.search(detection.sql) for detection in detections):
            con.execute(ONCE_PER_RUN)
        for detection in detections:
            hits.extend(evaluate(con, detection, parameters[detection.id], context))
    return hits


def _wall_clock() -> datetime:
    return datetime.now(UTC)


def analyze(
    path: Path,
    org: OrgSettings,
    analytics: AnalyticsSettings,
    *,
    now: datetime | None = None,
    since: datetime | None = None,
    include: Sequence[str] = (),
    registry: DetectionRegistry | None = None,
    lock_timeout: float = 30.0,
    clock: Callable[[], datetime] = _wall_clock,
) -> RunReport:
    """Compute the selected detections read-only, then upsert their findings in one short write."""
    registry = registry or default_registry()
    selected = registry.select(include or analytics.detections, analytics.disabled)
    parameters = resolve_parameters(selected, analytics.thresholds, registry)
    context = AnalysisContext.ending(now or clock(), timedelta(hours=analytics.lookback_hours), org)
    if since is not None:
        context = AnalysisContext(now=context.now, since=since.astimezone(UTC), org=org)
    started = time.perf_counter()
    try:
        hits = _compute(path, lock_timeout, selected, parameters, context, analytics.memory_limit)
    except StoreSchemaError:
        with store.writer(path, lock_timeout):  # an older store is upgraded; a newer one is refused here
            pass
        hits = _compute(path, lock_timeout, selected, parameters, context, analytics.memory_limit)
    computed = time.perf_counter()
    with store.writer(path, lock_timeout) as con, store.transaction(con):
        outcome = findings.upsert(con, hits, clock(), analytics.max_evidence_ids)
    report = RunReport(
        context=context,
        detections=tuple(d.id for d in selected),
        hits=tuple(hits),
        outcome=outcome,
        compute_seconds=computed - started,
        write_seconds=time.perf_counter() - computed,
    )
    log.info("analyze %s", report.summary())
    return report
