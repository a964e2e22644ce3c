"""Every source's real fixtures end to end (issue 17, deliverable 6): wire ▶ store ▶ analyze ▶ dashboard queries.

One pipeline of the real processes for all sources (``tests/e2e/sources.py``): ``regaudit webhook`` for the POSTs,
``regaudit ship-logs`` for the logs, ``regaudit poll`` and ``listen-syslog`` against real HTTP, S3 and syslog peers,
sources' own topics on the session's Kafka broker, ``regaudit consume`` (and ``import`` of a blob) into one
DuckDB store, then ``regaudit analyze``. Per source, the dashboard's query functions must show who pushed or pulled
what, and every finding about the source's registry must come from a detection that applies to it (``detections
list --source``): a detection that needs data the source lacks stays quiet on it rather than guessing.

The same store is issue 18's Checked by: Distribution, Harbor, ECR, ACR, Artifact Registry and Docker Hub side by
side in the overview, GHCR's rows among its feeds; with an identities mapping (``regaudit identities import``, on a
copy) tying one person's raw names on five of them, the identity page's queries show the person's activity on each
under each raw name; and ``regaudit detections list --source`` says for every source kind which detections apply and
what the others lack.
"""

from __future__ import annotations

import shutil
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from regaudit.analytics.registry import default_registry
from regaudit.cli import main
from regaudit.dashboard.queries import activity, findings, identity, overview
from regaudit.dashboard.queries.common import TimeRange
from regaudit.ingest import store
from regaudit.schemas.sources import CAPABILITIES, missing
from tests.e2e import sources_hosted as hosted
from tests.e2e.sources import DEFAULT_REGISTRY, SOURCES
from tests.e2e.wire import WEBHOOK_TOKEN, Wire, WireSource
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


# Issue 18's Checked by: one store holding every registry's fixtures, one person across them.
PERSON, PERSON_NAME = "dev-0042@corp.example", "Dev Example"
#: raw identities of the fixtures, each in its registry's own form, tied to one person by regaudit's CSV (README,
#: "One identity across registries"): scoped to a registry instance, or to every registry of a kind
PEOPLE_CSV = f"""raw_identity,person_id,display_name,registry,registry_kind
alice,{PERSON},{PERSON_NAME},{DEFAULT_REGISTRY},
admin,{PERSON},{PERSON_NAME},,harbor
{hosted.ECR_ARN},{PERSON},{PERSON_NAME},{hosted.ECR_REGISTRY},
{hosted.ACR_IDENTITY},{PERSON},{PERSON_NAME},,acr
{hosted.DOCKERHUB_ACTOR},{PERSON},{PERSON_NAME},{hosted.DOCKERHUB_REGISTRY},
"""
MANAGED_AND_HOSTED = {(DEFAULT_REGISTRY, "distribution"), ("harbor-prod", "harbor"), (hosted.ECR_REGISTRY, "ecr"),
                      (hosted.ACR_REGISTRY, "acr"), (hosted.GAR_REGISTRY, "gar"),
                      (hosted.DOCKERHUB_REGISTRY, "dockerhub")}  # fmt: skip


@pytest.fixture(scope="module")
def mapped(stored: Stored, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the one store with the identities mapping imported by ``regaudit identities import``."""
    workdir = tmp_path_factory.mktemp("sources-e2e-identities")
    db = workdir / "audit.duckdb"
    shutil.copy(stored.db, db)
    people = workdir / "people.csv"
    people.write_text(PEOPLE_CSV, encoding="utf-8")
    assert main(["identities", "import", str(people), "--db", str(db)]) == 0
    return db


def test_the_overview_lists_managed_and_hosted_registries_side_by_side(stored: Stored) -> None:
    listed = query(stored.db, overview.registries, EVERYTHING)
    assert set(zip(listed["registry"], listed["registry_kind"], strict=True)) >= MANAGED_AND_HOSTED
    rows = listed.set_index("registry")
    assert (rows.loc[hosted.ECR_REGISTRY, "pushes_count"], rows.loc[hosted.ECR_REGISTRY, "pulls_count"]) == (2, 1)
    assert rows.loc[hosted.ACR_REGISTRY, "refused_count"] == 1  # the resource log's 404 pull
    assert rows.loc[hosted.DOCKERHUB_REGISTRY, "pulls_count"] == 8  # the usage export's only: the audit log has none
    # GHCR's recorded events are organization events, no package's: stored as log entries, no activity to count
    feeds = query(stored.db, overview.feed_freshness).set_index("name")
    assert feeds.loc[hosted.GHCR_REGISTRY, "rows_count"] == 5


def test_the_identity_page_shows_one_person_across_registries_under_each_raw_identity(mapped: Path) -> None:
    assert PERSON in set(query(mapped, identity.identities)["identity"])
    names = query(mapped, identity.identity_names, PERSON)
    assert set(zip(names["registry"], names["registry_kind"], names["raw_identity"], strict=True)) == {
        (DEFAULT_REGISTRY, "distribution", "alice"),
        ("harbor-prod", "harbor", "admin"), ("harbor-audit", "harbor", "admin"), ("harbor-syslog", "harbor", "admin"),
        (hosted.ECR_REGISTRY, "ecr", hosted.ECR_ARN),
        (hosted.ACR_REGISTRY, "acr", hosted.ACR_IDENTITY),
        (hosted.DOCKERHUB_REGISTRY, "dockerhub", hosted.DOCKERHUB_ACTOR),
    }  # fmt: skip
    assert set(names["display_name"]) == {PERSON_NAME}
    repositories = query(mapped, identity.identity_repositories, PERSON)
    assert {("team/app", "distribution", "alice"), ("library/busybox", "harbor", "admin"),
            ("testrepo", "ecr", hosted.ECR_ARN), ("tipster-service", "acr", hosted.ACR_IDENTITY),
            ("example-org/example-repo", "dockerhub", hosted.DOCKERHUB_ACTOR)} <= set(
        zip(repositories["repository"], repositories["registry_kind"], repositories["raw_identity"], strict=True)
    )  # fmt: skip
    person = query(mapped, identity.identity_summary, PERSON).iloc[0]
    arn = query(mapped, identity.identity_summary, hosted.ECR_ARN).iloc[0]  # a raw name's page: its own rows
    assert (arn["pulls_count"], arn["pushes_count"], arn["refused_count"]) == (1, 1, 0)
    # Distribution's pull, Harbor admin's three (webhook, audit API, syslog), the ARN's and Hub's usage export's;
    # Hub's push and the ARN's; alice's refused requests at the proxy and ACR's refused pull
    counts = ["pulls_count", "pushes_count", "refused_count", "repositories_count"]
    assert tuple(person[counts]) == (6, 2, 3, 5)


@pytest.mark.parametrize("kind", sorted(CAPABILITIES))
def test_detections_list_says_for_every_source_kind_which_detections_apply(
    kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["detections", "list", "--source", kind]) == 0
    lines = capsys.readouterr().out.splitlines()
    registry = default_registry()
    listed = [line.split()[0] for line in lines if line.startswith("  ")]
    assert sorted(listed) == sorted(detection.id for detection in registry)  # every detection, once
    refused = {line.split()[0] for line in lines if line.startswith("  ") and "lacks" in line}
    assert refused == {d.id for d in registry if missing(d.needs or frozenset(), [kind])}
