"""Harbor webhooks through the real processes: `regaudit webhook` (`/events/harbor/<instance>`) ▶ the real Kafka
broker ▶ `regaudit consume` ▶ DuckDB, beside a Distribution registry's notifications in the same store."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from regaudit.ingest import store
from tests.ingest import processes
from tests.samples import SAMPLES, posts

pytestmark = [pytest.mark.kafka]
TOKEN = "harbor-token-0123456789"  # noqa: S105 - the webhook refuses tokens under 16 characters
FIXTURES = Path(__file__).parents[1] / "fixtures" / "harbor"
CLOUDEVENTS = "application/cloudevents+json"
#: what one Harbor instance sends, in the order of the documentation's own session (PROVENANCE.md)
HARBOR_POSTS = [
    ("artifact-pushed.default.json", "application/json"),
    ("artifact-pulled.cloudevents.repaired.json", CLOUDEVENTS),
    ("scanning-completed.default.json", "application/json"),
    ("artifact-deleted.cloudevents.json", CLOUDEVENTS),
    ("replication-status-changed.default.json", "application/json"),
    ("busybox-pulled.default.json", "application/json"),
    ("artifact-pushed.cloudevents.json", CLOUDEVENTS),  # not JSON as published: a dead letter
]


def post_harbor(url: str, instance: str) -> list[int]:
    codes = []
    with httpx.Client(timeout=30) as client:
        for name, content_type in HARBOR_POSTS:
            headers = {"Content-Type": content_type, "Authorization": TOKEN}  # Harbor's auth header, verbatim
            response = client.post(f"{url}/events/harbor/{instance}", content=(FIXTURES / name).read_bytes(),
                                   headers=headers)  # fmt: skip
            codes.append(response.status_code)
    return codes


def query(db, sql):
    with store.reader(db, timeout=10) as con:
        return con.execute(sql).fetchall()


def test_harbor_webhooks_land_in_the_store_beside_a_distribution_registry(kafka_broker, kafka_topics, tmp_path):
    db = tmp_path / "audit.duckdb"
    env = processes.regaudit_env(db, kafka_broker.bootstrap, kafka_topics)
    first = posts(SAMPLES / "distribution-2.8.2-htpasswd.events.jsonl")[2]
    with processes.webhook(env, tmp_path / "webhook.log", [TOKEN]) as url:
        assert post_harbor(url, "harbor-prod") == [200] * len(HARBOR_POSTS)
        assert post_harbor(url, "harbor-prod") == [200] * len(HARBOR_POSTS)  # Harbor's retries: stored once
        distribution = httpx.post(f"{url}/events/main", content=json.dumps(first["body"]),
                                  headers={"Authorization": f"Bearer {TOKEN}",
                                           "Content-Type": first["headers"]["Content-Type"]})  # fmt: skip
        assert distribution.status_code == 200
    consumer = processes.start(["consume", "--until-idle", "3"], env, tmp_path / "consume.log")
    assert consumer.wait(120) == 0, (tmp_path / "consume.log").read_text()

    kinds = query(db, "SELECT registry, registry_kind, count(*) FROM registry_events GROUP BY ALL ORDER BY 1")
    assert kinds == [("harbor-prod", "harbor", 6), ("main", "distribution", len(first["body"]["events"]))]
    harbor = query(
        db,
        "SELECT action, actor, repository, tag, digest, client_addr, counts_as_pull FROM image_activity"
        " WHERE registry = 'harbor-prod' ORDER BY occurred_at, action",
    )
    alpine = "sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4"
    robot = "robot$harbor+wHSYCuGD-Trivy-8e2e7505-d1e6-11ed-9e71-0242ac130009"
    assert harbor == [
        ("pull", "admin", "library/busybox", None,
         "sha256:dde8e930c7b6a490f728e66292bc9bce42efc9bbb5278bae40e4f30f6e00fe8c", None, True),
        ("push", "harbor-jobservice", "harbor/alpine", None, alpine, None, False),
        ("pull", robot, "harbor/alpine", None, alpine, None, True),
        ("delete", "harbor-jobservice", "harbor/alpine", "3.8",
         "sha256:2bb501e6173d9d006e56de5bce2720eb06396803300fe1687b58a7ff32bf4c14", None, False),
    ]  # fmt: skip
    dead = query(db, "SELECT source, reason FROM dead_letters")
    assert [(source, reason.startswith("not JSON")) for source, reason in dead] == [("receiver", True)]
