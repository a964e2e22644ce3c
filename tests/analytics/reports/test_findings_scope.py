"""A report scoped to repositories or identities holds the findings about them, read from the findings' columns.

The report used to split each finding's subject on spaces and ``:``: ``kube-prod pulled team/app@sha256:...`` gave
the word ``team/app@sha256``, so a report scoped to ``team/app`` missed that finding.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from regaudit.analytics import runner
from regaudit.analytics.cases import load_rows
from regaudit.analytics.detections.push.unsigned_production_pull import UnsignedProductionPull
from regaudit.analytics.detections.tag.release_overwrite import ReleaseTagOverwrite
from regaudit.analytics.fixtures import DIGEST_A, DIGEST_B, at, event, pull, tag_move
from regaudit.analytics.reports.queries import extract
from regaudit.analytics.reports.scope import Period, Scope
from regaudit.analytics.reports.summaries import summarize
from regaudit.analytics.settings import AnalyticsSettings, OrgSettings
from regaudit.ingest import store

NOW = at("2025-05-10T18:00")
PERIOD = Period(at("2025-05-01T00:00"), at("2025-06-01T00:00"))
ROWS = (
    event("2025-05-09T09:00", digest=DIGEST_B),
    pull("2025-05-10T09:00", actor="kube-prod", digest=DIGEST_B),
    tag_move("2025-05-10T10:00", repository="team/web", tag="v2.0.0", digest=DIGEST_B, previous_digest=DIGEST_A),
)


@pytest.fixture(scope="module")
def analysed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Findings of the real detections: an unsigned pull of team/app by kube-prod, a release overwrite of team/web."""
    path = tmp_path_factory.mktemp("scope") / "store.duckdb"
    with store.writer(path) as con:
        load_rows(con, ROWS)
    detections = [UnsignedProductionPull.id, ReleaseTagOverwrite.id]
    org = OrgSettings.model_validate({"production_identities": ["kube-prod"]})
    report = runner.analyze(path, org, AnalyticsSettings(detections=detections), now=NOW, clock=lambda: NOW)
    assert {hit.detection_id for hit in report.hits} == set(detections)
    return path


def scoped(path: Path, scope: Scope) -> list[str]:
    with store.reader(path) as con:
        return sorted(str(d) for d in extract(con, PERIOD, scope).findings.column("detection_id").to_pylist())


def test_a_report_scoped_to_one_repository_includes_that_repositorys_findings(analysed: Path) -> None:
    assert scoped(analysed, Scope(repositories=("team/app",))) == [UnsignedProductionPull.id]
    assert scoped(analysed, Scope(repositories=("team/*",))) == [UnsignedProductionPull.id, ReleaseTagOverwrite.id]
    assert scoped(analysed, Scope(repositories=("team/web",))) == [ReleaseTagOverwrite.id]
    assert scoped(analysed, Scope(repositories=("other/*",))) == []


def test_a_report_scoped_to_one_identity_includes_the_findings_about_it(analysed: Path) -> None:
    assert scoped(analysed, Scope(identities=("kube-prod",))) == [UnsignedProductionPull.id]
    assert scoped(analysed, Scope(identities=("ci-*",))) == [ReleaseTagOverwrite.id]
    assert scoped(analysed, Scope(repositories=("team/web",), identities=("kube-prod",))) == sorted(
        [UnsignedProductionPull.id, ReleaseTagOverwrite.id]
    )


def test_the_repository_summary_counts_the_findings_about_each_repository(analysed: Path) -> None:
    with store.reader(analysed) as con:
        data = extract(con, PERIOD, Scope(repositories=("team/app",)))
    with duckdb.connect(":memory:") as con:
        con.register("activity", data.activity)
        con.register("findings", data.findings)
        repositories = summarize(con).repositories.to_pylist()
    assert [(row["repository"], row["findings_open"]) for row in repositories] == [("team/app", 1)]
