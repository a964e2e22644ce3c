"""A simulated store for the report tests: the simulator's traffic through the real ingest path (envelope split,
Normalizer, DuckDBSink with the chain hook, one batch per simulated day), the inventory, detections and a few
finding statuses changed as an analyst would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from regaudit.analytics import runner
from regaudit.analytics.findings import set_status
from regaudit.analytics.settings import AnalyticsSettings, OrgSettings
from regaudit.ingest import store
from regaudit.ingest.hooks import load_hooks
from regaudit.ingest.normalize import Normalizer
from regaudit.ingest.records import RawRecord
from regaudit.ingest.sinks.duckdb import DuckDBSink
from regaudit.ingest.sources import credentials
from regaudit.ingest.sources.distribution.envelope import split_envelope
from regaudit.settings import Settings
from regaudit.simulator import Simulation

START = datetime(2025, 3, 3, tzinfo=UTC)
DAYS = 4


def _records(simulation: Simulation, day: int, chunks: list) -> list[RawRecord]:
    records: list[RawRecord] = []
    received = simulation.start + timedelta(days=day + 1)
    for chunk in chunks:
        for number, note in enumerate(chunk.notifications):
            origin = f"sim/{chunk.day}/{chunk.hour}/n{number}"
            post = split_envelope(note.body, origin=origin, received_at=note.posted_at, registry="default",
                                  content_type=None)  # fmt: skip
            records += [record for _, record in post.events] + post.dead_letters
        for number, line in enumerate(chunk.access_lines):
            origin = f"sim/{chunk.day}/{chunk.hour}/a{number}"
            records.append(RawRecord("access", line, origin, received, key=origin))
    return records


def simulated_store(path: Path, seed: int = 5, days: int = DAYS, scale: float = 0.3) -> Path:
    simulation = Simulation(seed, days=days, scale=scale, start=START)
    normalizer = Normalizer()
    sink = DuckDBSink(path, hooks=load_hooks(Settings(), ["regaudit.evidence.chain:seal_batch"]))
    try:
        by_day: dict[int, list] = {}
        for chunk in simulation.chunks():
            by_day.setdefault(chunk.day, []).append(chunk)
        for day, chunks in sorted(by_day.items()):
            sink.write(normalizer.normalize(_records(simulation, day, chunks)), "simulator")
    finally:
        normalizer.close()
    entries = [credentials.CredentialEntry.model_validate(row.to_dict()) for row in simulation.credentials]
    with store.writer(path) as con:
        credentials.store_import(con, entries, "simulator:inventory", simulation.end, carry_over=False)
    org = OrgSettings.model_validate(simulation.org)
    runner.analyze(path, org, AnalyticsSettings(), now=simulation.end, since=simulation.start)
    _triage(path, simulation.end)
    return path


def _triage(path: Path, at: datetime) -> None:
    """Acknowledge the first finding and suppress the second, so the report shows every status."""
    with store.writer(path) as con:
        ids = [row[0] for row in con.execute("SELECT finding_id FROM findings ORDER BY finding_id").fetchall()]
        if len(ids) >= 2:
            set_status(con, ids[0], "acknowledged", "looked at", "auditor-test", at)
            set_status(con, ids[1], "suppressed", "expected", "auditor-test", at)
