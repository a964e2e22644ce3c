"""JFrog Artifactory through the real processes: its webhook on `regaudit webhook` (`/events/artifactory/<instance>`)
and its request log followed by `regaudit ship-logs`, both ▶ the real Kafka broker ▶ `regaudit consume` ▶ DuckDB."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from regaudit.ingest import store
from tests.ingest import processes

pytestmark = [pytest.mark.kafka]
TOKEN = "jfrog-secret-0123456789"  # noqa: S105 - the webhook refuses tokens under 16 characters
FIXTURES = Path(__file__).parents[1] / "fixtures" / "artifactory"
LOGS = sorted(FIXTURES.glob("request-log.*.log"))


def query(db, sql):
    with store.reader(db, timeout=10) as con:
        return con.execute(sql).fetchall()


def test_artifactory_webhooks_and_request_log_land_in_the_store_through_kafka(kafka_broker, kafka_topics, tmp_path):
    db = tmp_path / "audit.duckdb"
    env = processes.regaudit_env(db, kafka_broker.bootstrap, kafka_topics)
    log = tmp_path / "artifactory-request.log"
    log.write_bytes(b"".join(path.read_bytes() for path in LOGS))
    with processes.webhook(env, tmp_path / "webhook.log", [TOKEN]) as url:
        headers = {"Content-Type": "application/json", "X-JFrog-Event-Auth": TOKEN}
        for name in ("docker-pushed.keel.json", "artifact-deployed.docs.json"):
            body = (FIXTURES / name).read_bytes()
            assert httpx.post(f"{url}/events/artifactory/rt-prod", content=body, headers=headers).status_code == 200
    shipper = processes.start(
        ["ship-logs", str(log), "--host", "rt-node-1", "--until-idle", "2", "--sink", "kafka"], env,
        tmp_path / "ship.log",
    )  # fmt: skip
    assert shipper.wait(120) == 0, (tmp_path / "ship.log").read_text()
    consumer = processes.start(["consume", "--until-idle", "3"], env, tmp_path / "consume.log")
    assert consumer.wait(120) == 0, (tmp_path / "consume.log").read_text()
    assert query(db, "SELECT registry, registry_kind, action, repository, tag FROM registry_events") == [
        ("rt-prod", "artifactory", "push", "docker-remote-cache/library/ubuntu", "latest")
    ]
    assert query(db, "SELECT reason FROM dead_letters") == [("not a Docker-domain JFrog event: domain 'artifact'",)]
    lines = query(db, "SELECT log_format, count(*), count(DISTINCT line_key) FILTER (WHERE line_key LIKE 'rt-node-1:%')"
                      " FROM access_log GROUP BY ALL")  # fmt: skip
    assert lines == [("artifactory", 13, 13)]  # each line once, keyed by the shipper's host and file position
