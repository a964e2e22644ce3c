"""The detection benchmark of issue 16: several simulator seeds, each scored as a backfill and live.

A *backfill* ingests the whole span, then analyses it once (``regaudit analyze --since <first day>``): what a
team that imports a month of history sees on day one. *Live* ingests the span in steps of ``cadence_hours``
and analyses after each step as of its end with the default lookback (``analyze`` from cron); the inventory is
imported once a day as it stood then. A finding reported by several live runs (same id) counts once; findings
whose windows differ from run to run count separately, as they would reach an analyst separately. Both are
scored the same way (``evaluation.score``) and give false alarms at severity medium and above per day per 100
identities.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from regaudit.analytics import runner
from regaudit.analytics.detection import Severity
from regaudit.analytics.evaluation import (
    Evaluation,
    LoadSummary,
    Score,
    batches,
    evaluate,
    import_inventory,
    records,
    score,
)
from regaudit.analytics.findings import Hit
from regaudit.analytics.settings import AnalyticsSettings, OrgSettings
from regaudit.ingest.normalize import Normalizer
from regaudit.ingest.sinks.duckdb import DuckDBSink
from regaudit.simulator import Simulation

MODES = ("backfill", "live")
DEFAULT_CADENCE_HOURS = 6


def evaluate_live(
    path: Path, seed: int, days: int = 30, scale: float = 1.0, cadence_hours: int = DEFAULT_CADENCE_HOURS
) -> Evaluation:
    """Ingest ``cadence_hours`` at a time into ``path`` (a fresh file), analyse after each step, and score."""
    simulation = Simulation(seed, days=days, scale=scale)
    org = OrgSettings.model_validate(simulation.org)
    started = time.perf_counter()
    normalizer, sink, counter = Normalizer(), DuckDBSink(path), itertools.count()
    found: dict[str, Hit] = {}
    events = access = runs = 0
    report: runner.RunReport | None = None
    try:
        for step, notes, lines in batches(simulation, cadence_hours):
            step_end = simulation.start + timedelta(hours=(step + 1) * cadence_hours)
            batch = normalizer.normalize(records(seed, counter, step_end, notes, lines))
            result = sink.write(batch, "simulator")
            events, access = events + result.events_count, access + result.access_count
            if runs == 0 or (step * cadence_hours) % 24 == 0:
                import_inventory(path, simulation, step_end)
            report = runner.analyze(path, org, AnalyticsSettings(), now=step_end)
            found.update((hit.finding_id, hit) for hit in report.hits)
            runs += 1
    finally:
        normalizer.close()
    if report is None:
        raise ValueError("the simulation produced no traffic")
    load = LoadSummary(events, access, len(simulation.credentials), time.perf_counter() - started)
    hits, labels = tuple(found.values()), simulation.labels
    return Evaluation(load, report, labels, score(hits, labels, simulation.end), hits,
                      len(simulation.identities), float(days), "live", runs)  # fmt: skip


@dataclass(frozen=True)
class Row:
    """One line of the benchmark table: a seed in a mode."""

    seed: int
    mode: str
    scores: list[Score]
    medium: Score
    false_alarms_per_day: float
    identities_count: int
    runs_count: int
    seconds: float


def run(
    folder: Path,
    seeds: Sequence[int],
    days: int = 30,
    scale: float = 1.0,
    modes: Sequence[str] = MODES,
    cadence_hours: int = DEFAULT_CADENCE_HOURS,
) -> list[tuple[Row, Evaluation]]:
    """Every seed in every mode, each in a fresh store under ``folder``, one after the other."""
    rows = []
    for seed, mode in itertools.product(seeds, modes):
        started = time.perf_counter()
        path = folder / f"seed{seed}-{mode}.duckdb"
        if mode == "live":
            evaluation = evaluate_live(path, seed, days, scale, cadence_hours)
        else:
            evaluation = evaluate(path, seed, days, scale)
        medium = score(evaluation.hits, evaluation.labels, evaluation.now, Severity.MEDIUM)[-1]
        row = Row(seed, mode, evaluation.scores, medium, evaluation.false_alarms_per_day(Severity.MEDIUM),
                  evaluation.identities_count, evaluation.runs_count, time.perf_counter() - started)  # fmt: skip
        rows.append((row, evaluation))
    return rows
