"""Issue 17's "Checked by": a 30-day simulated organisation with a Distribution registry and a Harbor instance,
through the real receivers into one store, analysed, and read through the dashboard's query functions.

The registry's notifications (``regaudit.simulator``) and the Harbor instance's webhooks (``simulator.harbor``,
Default and CloudEvents as Harbor renders them) go over HTTP to one ``regaudit webhook`` (``/events/main`` with a
bearer token, ``/events/harbor/harbor-prod`` with Harbor's bare auth header), through the session's Kafka broker,
and ``regaudit consume`` writes one DuckDB store; ``regaudit analyze`` then runs every detection with both
organisations' ``[org]`` settings. Harbor posts one event per request, as Harbor does; the registry's events go
in envelopes of ``ENVELOPE_EVENTS`` (the notification envelope holds a list; Distribution's own queue sends one
each, which would make this test minutes long for no different code path).

What must hold: both registries side by side on the overview (per registry pushes, pulls, identities), who pushed
and pulled what on Harbor equal to what the instance sent (per identity and action), and the detections that apply
to Harbor (``detections list --source harbor``) fire on the incidents the Harbor data can show, naming them.
"""

from __future__ import annotations

import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pandas as pd
import pytest

from regaudit.analytics.detection import Severity
from regaudit.analytics.evaluation import detects
from regaudit.analytics.findings import Hit
from regaudit.analytics.registry import default_registry
from regaudit.dashboard.queries import activity, findings, overview
from regaudit.dashboard.queries.common import TimeRange
from regaudit.ingest import store
from regaudit.schemas.sources import missing
from regaudit.simulator import Traffic, org_toml, simulate, write_credentials_csv
from regaudit.simulator.harbor import HarborPost, HarborTraffic, simulate_harbor
from tests.infra.fixtures import fresh_topics
from tests.infra.kafka import KafkaBroker
from tests.ingest import processes

pytestmark = [pytest.mark.kafka]
SEED = 3
SCALE = 0.1  # the smallest organisation the simulator builds: about 47,000 registry and 8,300 Harbor events
TOKEN = "organisation-e2e-token"  # noqa: S105 - the webhook's token for both senders
HARBOR = "harbor-prod"
REGISTRY = "main"
ENVELOPE_EVENTS = 250
#: the incident families whose every Harbor incident a finding must name: what Harbor's own rows decide
FIRING = ("anomalous_pull", "suspicious_push", "tag_overwrite")
SENDERS = 16  # concurrent Harbor webhook deliveries (a Harbor job service runs several workers)


@dataclass(frozen=True)
class Organisation:
    db: Path
    traffic: Traffic
    harbor: HarborTraffic

    def query(self, function, *args) -> pd.DataFrame:  # noqa: ANN001 - any dashboard query function
        with store.reader(self.db, timeout=10) as con:
            return function(con, *args)

    def harbor_findings(self) -> pd.DataFrame:
        """The findings about Harbor's events: about the Harbor instance, or citing its activity as evidence (a
        finding about an identity across registries names none), found as the findings page drills down."""
        with store.reader(self.db, timeout=10) as con:
            rows = activity.activity_page(con, activity.ActivityFilter(self.span), 500_000)
            ours = set(rows.loc[rows["registry"] == HARBOR, "activity_id"])
            listed = findings.findings_list(con, (), (), (), 100_000)
            cited = [
                bool(ours & set(findings.split_evidence(detail).get("image_activity", [])))
                for detail in (
                    findings.finding_detail(con, finding).iloc[0]["evidence"] for finding in listed["finding_id"]
                )
            ]
        return listed[(listed["registry"] == HARBOR) | pd.Series(cited, index=listed.index)]

    @property
    def span(self) -> TimeRange:
        return TimeRange(self.traffic.start, self.traffic.end + timedelta(days=1))


def merged_org(*orgs: dict[str, object]) -> dict[str, object]:
    """One ``[org]`` for both organisations: lists joined, the registry's scalars (hours, time zone) kept."""
    merged: dict[str, object] = {}
    for org in orgs:
        for key, value in org.items():
            if isinstance(value, list) and isinstance(merged.get(key), list):
                merged[key] = sorted({*merged[key], *value})  # type: ignore[misc]
            else:
                merged.setdefault(key, value)
    return merged


def post_registry(url: str, traffic: Traffic) -> None:
    events = [json.loads(notification.body)["events"][0] for notification in traffic.notifications]
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/vnd.docker.distribution.events.v1+json"}
    with httpx.Client(timeout=60) as client:
        for start in range(0, len(events), ENVELOPE_EVENTS):
            body = json.dumps({"events": events[start : start + ENVELOPE_EVENTS]})
            response = client.post(f"{url}/events/{REGISTRY}", content=body, headers=headers)
            assert response.status_code == 200, response.text


def post_harbor(url: str, posts: list[HarborPost]) -> None:
    def deliver(share: list[HarborPost]) -> None:
        with httpx.Client(timeout=60) as client:
            for post in share:
                headers = {"Authorization": TOKEN, "Content-Type": post.content_type}  # Harbor's auth header
                response = client.post(f"{url}/events/harbor/{HARBOR}", content=post.body, headers=headers)
                assert response.status_code == 200, response.text

    with ThreadPoolExecutor(SENDERS) as pool:
        list(pool.map(deliver, [posts[n::SENDERS] for n in range(SENDERS)]))


@pytest.fixture(scope="module")
def organisation(kafka_broker: KafkaBroker, tmp_path_factory: pytest.TempPathFactory) -> Organisation:
    """Both simulations through the running webhook and consumer (side by side, as operators run them), the
    inventories imported, then one analysis of the month with both organisations' settings."""
    workdir = tmp_path_factory.mktemp("organisation-e2e")
    db = workdir / "audit.duckdb"
    traffic, harbor = simulate(SEED, scale=SCALE), simulate_harbor(SEED, scale=SCALE)
    expected = len({json.loads(n.body)["events"][0]["id"] for n in traffic.notifications})
    expected += len({_event_key(post) for post in harbor.posts})  # each distinct event stored once
    env = processes.regaudit_env(db, kafka_broker.bootstrap, fresh_topics(kafka_broker, "organisation-e2e"))
    consumer = processes.start(["consume"], env, workdir / "consume.log")
    try:
        with processes.webhook(env, workdir / "webhook.log", [TOKEN]) as url, ThreadPoolExecutor(2) as pool:
            sent = [pool.submit(post_registry, url, traffic), pool.submit(post_harbor, url, harbor.posts)]
            for future in sent:
                future.result()
        processes.wait_for(lambda: _stored(db) == expected, 300, f"{expected} events stored", interval=1)
    finally:
        assert processes.stop(consumer) == 0, (workdir / "consume.log").read_text()[-2000:]
    for rows, name in ((traffic.credentials, "registry"), (harbor.credentials, "harbor")):
        inventory = workdir / f"{name}-credentials.csv"  # one import each: one command's files share imported_at
        write_credentials_csv(rows, inventory)
        imported = processes.start(["credentials", "import", str(inventory)], env, workdir / "import.log")
        assert imported.wait(120) == 0, (workdir / "import.log").read_text()[-2000:]
    config = workdir / "regaudit.toml"
    config.write_text(org_toml(merged_org(traffic.org, harbor.org)), encoding="utf-8")
    now, since = (traffic.end + timedelta(hours=1)).isoformat(), traffic.start.isoformat()
    analysis = processes.start(["--config", str(config), "analyze", "--now", now, "--since", since], env,
                               workdir / "analyze.log")  # fmt: skip
    assert analysis.wait(300) == 0, (workdir / "analyze.log").read_text()[-2000:]
    return Organisation(db, traffic, harbor)


def _stored(db: Path) -> int:
    """Rows in registry_events so far (0 while the consumer has not created the store or holds it)."""
    try:
        with store.reader(db, timeout=5) as con:
            return int(con.execute("SELECT count(*) FROM registry_events").fetchall()[0][0])
    except (duckdb.Error, OSError):
        return 0


def test_the_overview_shows_both_registries_side_by_side(organisation: Organisation) -> None:
    side = organisation.query(overview.registries, organisation.span).set_index("registry")
    assert list(side.loc[[REGISTRY, HARBOR], "registry_kind"]) == ["distribution", "harbor"]
    for name in (REGISTRY, HARBOR):
        assert side.loc[name, "pushes_count"] > 0
        assert side.loc[name, "pulls_count"] > 0
        assert side.loc[name, "identities_count"] > 10


def test_who_pushed_and_pulled_what_on_harbor_is_what_harbor_sent(organisation: Organisation) -> None:
    sent = Counter()
    for key in {_event_key(post) for post in organisation.harbor.posts}:  # Harbor's retries collapse: keyed
        sent[(key[2] or "(anonymous)", {"PUSH_ARTIFACT": "push", "PULL_ARTIFACT": "pull"}.get(key[0], "delete"))] += 1
    rows = organisation.query(activity.activity_page, activity.ActivityFilter(organisation.span), 500_000)
    rows = rows[(rows["registry"] == HARBOR)]
    stored = Counter(zip(rows["identity"].where(rows["identity"].notna(), None), rows["action"], strict=True))
    assert stored == sent


def test_detections_fire_on_the_harbor_incidents(organisation: Organisation) -> None:
    harbor = organisation.harbor_findings()
    registry = default_registry()
    assert not [d for d in set(harbor["detection_id"]) if missing(registry.get(d).needs or frozenset(), ["harbor"])]
    hits = [_hit(row) for row in harbor.itertuples()]
    now = organisation.traffic.end
    labels = organisation.harbor.labels
    found = {(label.kind, label.subject) for label in labels if any(detects(hit, label, now) for hit in hits)}
    assert {label.family for label in labels} >= set(FIRING)
    missed = [
        (label.kind, label.subject)
        for label in labels
        if label.family in FIRING and (label.kind, label.subject) not in found
    ]
    assert missed == []


def _hit(row: Any) -> Hit:
    """A stored finding as the simulator's scorer reads one (``analytics.evaluation.detects``)."""
    return Hit(row.detection_id, Severity(row.severity), row.subject, row.window_start_at, row.window_end_at,
               row.summary, (), {}, row.registry, _text(row.repository), _text(row.tag), _text(row.digest),
               _text(row.identity), _text(row.client_addr))  # fmt: skip


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _event_key(post: HarborPost) -> tuple[str, int, str, str, str | None]:
    """What Harbor's event id is a digest of: type, second, operator, artifact and (CloudEvents) request id."""
    document = json.loads(post.body)
    if "specversion" in document:
        kind = {"harbor.artifact.pushed": "PUSH_ARTIFACT", "harbor.artifact.pulled": "PULL_ARTIFACT"}
        data, moment = document["data"], document["time"]
        return (kind.get(document["type"], "DELETE_ARTIFACT"), moment, document["operator"],
                json.dumps(data), document["requestid"])  # fmt: skip
    data = document["event_data"]
    return document["type"], document["occur_at"], document["operator"], json.dumps(data), None
