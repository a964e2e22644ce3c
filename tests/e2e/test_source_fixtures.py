"""Every source's real fixtures end to end (issue 17, deliverable 6): wire ▶ store ▶ analyze ▶ dashboard queries.

One pipeline of the real processes for all sources (``tests/e2e/sources.py``): ``regaudit webhook`` for the POSTs,
``regaudit ship-logs`` for the logs, the session's Kafka broker, ``regaudit consume`` into one DuckDB store, then
``regaudit analyze``. Per source, the dashboard's query functions must show who pushed or pulled what, and every
finding about the source's registry must come from a detection that applies to it (``detections list --source``):
a detection that needs data the source lacks stays quiet on it rather than guessing.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from regaudit.analytics.registry import default_registry
from regaudit.dashboard.queries import activity, findings, overview
from regaudit.dashboard.queries.common import TimeRange
from regaudit.ingest import store
from regaudit.schemas.sources import missing
from tests.e2e.sources import SOURCES, WEBHOOK_TOKEN, Wire, WireSource
from tests.infra.fixtures import fresh_topics
from tests.infra.kafka import KafkaBroker
from tests.ingest import processes
from tests.ingest.moto_server import moto_endpoint

__all__ = ["moto_endpoint"]  # the session's S3 server, for ECR's trail
pytestmark = [pytest.mark.kafka]
EVERYTHING = TimeRange(datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


@dataclass(frozen=True)
class Stored:
    db: Path
    workdir: Path


@pytest.fixture(scope="module")
def stored(kafka_broker: KafkaBroker, moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Stored:
    """Every source's fixtures sent through the real receivers into one store, then analysed once."""
    workdir = tmp_path_factory.mktemp("sources-e2e")
    db = workdir / "audit.duckdb"
    topics = fresh_topics(kafka_broker, "sources-e2e")
    env = processes.regaudit_env(db, kafka_broker.bootstrap, topics, AWS_ENDPOINT_URL=moto_endpoint)  # ECR's S3
    for source in SOURCES:
        env |= source.settings(topics.events)
    shippers = []

    def ship(log: Path) -> None:
        argv = ["ship-logs", str(log), "--state", str(log) + ".pos", "--host", "edge-e2e", "--until-idle", "1"]
        shippers.append(processes.start(argv, env, workdir / f"ship-{log.name}.log"))

    with ExitStack() as stack:
        url = stack.enter_context(processes.webhook(env, workdir / "webhook.log", [WEBHOOK_TOKEN]))
        for source in SOURCES:
            source.send(Wire(url, workdir, ship, env))
        for shipper in shippers:
            assert shipper.wait(60) == 0
    consumer = processes.start(["consume", "--until-idle", "3"], env, workdir / "consume.log")
    assert consumer.wait(120) == 0, (workdir / "consume.log").read_text()[-2000:]
    analysis = processes.start(["analyze", "--since", "2000-01-01T00:00:00+00:00"], env, workdir / "analyze.log")
    assert analysis.wait(120) == 0, (workdir / "analyze.log").read_text()[-2000:]
    return Stored(db, workdir)


def query(db: Path, function, *args) -> pd.DataFrame:  # noqa: ANN001 - any dashboard query function
    with store.reader(db, timeout=10) as con:
        return function(con, *args)


@pytest.mark.parametrize("source", SOURCES, ids=[source.kind for source in SOURCES])
def test_the_activity_explorer_shows_who_pushed_or_pulled_what(stored: Stored, source: WireSource) -> None:
    rows = query(stored.db, activity.activity_page, activity.ActivityFilter(EVERYTHING), 10_000)
    rows = rows[rows["registry"] == source.registry]
    seen = {(r.identity, r.action, r.repository, r.tag if isinstance(r.tag, str) else None, r.source)
            for r in rows.itertuples()}  # fmt: skip
    assert source.activity <= seen, f"{source.kind}: missing {sorted(source.activity - seen, key=str)}"


@pytest.mark.parametrize("source", SOURCES, ids=[source.kind for source in SOURCES])
def test_findings_on_a_source_come_only_from_detections_that_apply_to_it(stored: Stored, source: WireSource) -> None:
    listed = query(stored.db, findings.findings_list)
    about = listed[listed["registry"] == source.registry]
    registry = default_registry()
    kinds = [s.kind for s in SOURCES if s.registry == source.registry]  # a registry and the proxy in front of it
    wrong = [d for d in set(about["detection_id"]) if missing(registry.get(d).needs or frozenset(), kinds)]
    assert wrong == []


def test_the_overview_lists_every_registry(stored: Stored) -> None:
    feeds = query(stored.db, overview.feed_freshness)
    names = set(feeds.loc[feeds["feed"] == "notifications", "name"])
    assert {source.registry for source in SOURCES if source.kind != "nginx"} <= names
