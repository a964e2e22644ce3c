"""Running a detection's own cases: each case's rows go into a fresh DuckDB store file, then the real runner
analyses it with that detection alone. The corpus test and ``regaudit detections test`` both use this.
"""

from __future__ import annotations

import logging
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import duckdb

from regaudit.analytics.detection import Case, Detection, Row
from regaudit.analytics.findings import Hit
from regaudit.analytics.registry import DetectionRegistry
from regaudit.analytics.runner import analyze
from regaudit.analytics.settings import AnalyticsSettings, OrgSettings
from regaudit.ingest import rollups, store, tag_heads

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CaseResult:
    detection_id: str
    case: Case
    hits: tuple[Hit, ...]

    @property
    def passed(self) -> bool:
        subjects = {hit.subject for hit in self.hits}
        return (
            len(self.hits) == self.case.expect
            and set(self.case.subjects) <= subjects
            and all(any(_names(hit, about) for hit in self.hits) for about in self.case.about)
        )

    def explain(self) -> str:
        got = ", ".join(f"{hit.subject} {_known(hit)} [{hit.summary}]" for hit in self.hits) or "nothing"
        expected = f"expected {self.case.expect}, got {len(self.hits)}"
        return f"{self.detection_id} / {self.case.name}: {expected}: {got}"


def _names(hit: Hit, about: Mapping[str, object]) -> bool:
    return all(hit.about[name] == value for name, value in about.items())


def _known(hit: Hit) -> dict[str, str]:
    return {name: value for name, value in hit.about.items() if value is not None}


def load_rows(con: duckdb.DuckDBPyConnection, rows: Iterable[Row]) -> int:
    """Insert fixture rows table by table, binding every value; returns the number of rows."""
    by_table: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_table[row.table].append(row)
    count = 0
    for table, table_rows in by_table.items():
        known = {name for (name,) in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = $table", {"table": table}
        ).fetchall()}  # fmt: skip
        for row in table_rows:
            if unknown := set(row.values) - known:
                raise ValueError(f"{table} has no columns {sorted(unknown)}")
            columns = ", ".join(f'"{name}"' for name in row.values)
            marks = ", ".join("?" for _ in row.values)
            con.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", list(row.values.values()))  # noqa: S608 - names checked above
            count += 1
    # written here, not by batches, which keep the daily rollups; an older store's upgrade builds them from the rows
    if by_table.keys() & ROLLED_UP and store.schema_version(con) == store.SCHEMA_VERSION:
        rollups.rebuild(con, rollups.ROLLUP_VERSION if "image_activity" in by_table else rollups.FEEDS_VERSION)
    if "tag_history" in by_table and store.schema_version(con) == store.SCHEMA_VERSION:
        tag_heads.rebuild(con)  # each tag's latest interval, which the batches keep beside tag_history
    return count


#: the tables the store's daily rollups sum (``ingest/rollups.sql``, ``ingest/feed_rollups.sql``)
ROLLED_UP = frozenset({"image_activity", "registry_events", "access_log"})


def run_case(detection: type[Detection], case: Case, path: Path) -> CaseResult:
    """Load ``case`` into the store at ``path`` (fresh or empty) and analyse it with ``detection`` alone."""
    with store.writer(path) as con:
        load_rows(con, case.rows)
    analytics = AnalyticsSettings.model_validate({"thresholds": {detection.id: dict(case.params)}})
    report = analyze(
        path,
        OrgSettings.model_validate(dict(case.org)),
        analytics,
        now=case.now,
        include=[detection.id],
        registry=DetectionRegistry([detection]),
    )
    return CaseResult(detection.id, case, report.hits)


def run_all(registry: Iterable[type[Detection]]) -> list[CaseResult]:
    """Every case of every detection, each in its own temporary store."""
    results = []
    with tempfile.TemporaryDirectory(prefix="regaudit-cases-") as folder:
        for number, (detection, case) in enumerate((d, c) for d in registry for c in d.cases):
            results.append(run_case(detection, case, Path(folder) / f"case-{number}.duckdb"))
    return results
