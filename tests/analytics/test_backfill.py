"""A backfill finds what live runs find, and a first run over imported history stays reviewable.

Issue 16: a team that imports a month of history and runs ``regaudit analyze --since <first day>`` once got
thousands of findings, because baselines judged identities before they had learnt them and read the whole
store instead of what came before each window. Here a simulated store (a real DuckDB file, loaded through
the ingest path) is analysed once as a backfill, and again as live runs every few hours would analyse it: each
run sees only what happened before its ``now`` and re-evaluates its lookback.
"""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from regaudit.analytics.evaluation import load_simulation
from regaudit.analytics.findings import Hit
from regaudit.analytics.runner import analyze
from regaudit.analytics.settings import AnalyticsSettings, OrgSettings
from regaudit.simulator import Simulation

pytestmark = pytest.mark.slow

DAYS = 14
LIVE_EVERY = timedelta(hours=6)
#: credential.never_used judges the inventory against the store's whole life: a live run in the store's first
#: days calls every credential unused that the backfill sees used later. Its owner decides how a young store
#: proves "never"; until then it is compared nowhere here.
NOT_COMPARED = frozenset({"credential.never_used"})
#: What one person can review: findings of every severity per day of history (before issue 16 the demo gave ~75).
REVIEWABLE_PER_DAY = 5.0


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Simulation, Path]:
    simulation = Simulation(3, days=DAYS, scale=0.3)
    path = tmp_path_factory.mktemp("backfill") / "store.duckdb"
    load_simulation(path, simulation)
    return simulation, path


def _copy(path: Path, tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copy(path, target)
    return target


def _by_id(hits: tuple[Hit, ...]) -> dict[str, Hit]:
    return {hit.finding_id: hit for hit in hits if hit.detection_id not in NOT_COMPARED}


def test_backfill_finds_what_live_runs_every_six_hours_find(simulated: tuple[Simulation, Path], tmp_path: Path) -> None:
    simulation, path = simulated
    org, analytics = OrgSettings(), AnalyticsSettings()
    backfill = _by_id(
        analyze(
            _copy(path, tmp_path, "backfill.duckdb"), org, analytics, now=simulation.end, since=simulation.start
        ).hits
    )
    live_path, live = _copy(path, tmp_path, "live.duckdb"), {}
    now = simulation.start + LIVE_EVERY
    while now <= simulation.end:
        for finding_id, hit in _by_id(analyze(live_path, org, analytics, now=now).hits).items():
            live.setdefault(finding_id, hit)
        now += LIVE_EVERY

    only_backfill = sorted(
        f"{h.detection_id} {h.subject} {h.window_start_at}" for k, h in backfill.items() if k not in live
    )
    only_live = sorted(
        f"{h.detection_id} {h.subject} {h.window_start_at}" for k, h in live.items() if k not in backfill
    )
    assert backfill, "the simulated store should raise some findings"
    assert only_backfill == []
    assert only_live == []


def test_first_backfill_over_imported_history_is_reviewable(simulated: tuple[Simulation, Path], tmp_path: Path) -> None:
    simulation, path = simulated
    report = analyze(
        _copy(path, tmp_path, "first.duckdb"),
        OrgSettings(),  # a team's first run: nothing configured yet
        AnalyticsSettings(),
        now=simulation.end,
        since=simulation.start,
    )
    by_detection = Counter(hit.detection_id for hit in report.hits)
    assert len(report.hits) <= REVIEWABLE_PER_DAY * DAYS, by_detection.most_common()
