"""``regaudit consume``'s ``/metrics`` and ``/healthz``, scraped over HTTP from the real process on a real broker."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.ingest import processes
from tests.ingest.poisoned_regaudit import MARKER
from tests.ingest.test_pipeline_kafka import count, produce, synthetic_events
from tests.ingest.test_poison_kafka import POISONED, overflowing, stored

pytestmark = [pytest.mark.kafka]
REPO = str(Path(__file__).resolve().parents[2])
GOOD = 300
SAMPLE = re.compile(r"^(?P<name>[a-z_]+)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)$")


def scrape(url: str) -> dict[str, float] | None:
    """``name{labels}`` to value from the exposition, or none while the server is not up yet."""
    try:
        answer = httpx.get(url + "/metrics", timeout=5)
    except httpx.TransportError:
        return None
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for line in answer.text.splitlines():
        if line.startswith("#"):
            continue
        match = SAMPLE.match(line)
        assert match, line
        key = match["name"] + (f"{{{match['labels']}}}" if match["labels"] else "")
        samples[key] = float(match["value"])
    return samples


def test_the_consumers_metrics_count_a_poisoned_batch_stored_around_its_isolated_record(
    kafka_broker, kafka_topics, tmp_path
):
    db = tmp_path / "audit.duckdb"
    good = synthetic_events(GOOD, "m")
    poison = overflowing(good[0], "2026-11-26T19:30:00Z", f"{MARKER}metrics")  # valid, breaks the store write
    produce(kafka_broker.bootstrap, kafka_topics.events, [*good[:150], poison, b"not json", *good[150:]])
    env = processes.regaudit_env(db, kafka_broker.bootstrap, kafka_topics, PYTHONPATH=REPO)
    log = tmp_path / "consume.log"
    port = processes.free_port()
    url = f"http://127.0.0.1:{port}"

    consumer = processes.start(["consume", "--metrics-port", str(port)], env, log, program=POISONED)

    def caught_up() -> tuple[str, dict[str, float]] | None:
        if consumer.poll() is not None:
            return "exited", {}
        metrics = scrape(url)
        if metrics and metrics.get('regaudit_consumer_stored_rows_total{table="registry_events"}') == GOOD:
            return "stored", metrics
        return None

    try:
        state, metrics = processes.wait_for(caught_up, 180, "the consumer's /metrics to count every event stored")
        assert state == "stored", log.read_text()[-3000:]  # before: no --metrics-port flag, no /metrics
        health = httpx.get(url + "/healthz", timeout=5)
        assert consumer.poll() is None, log.read_text()[-3000:]  # still running
    finally:
        assert processes.stop(consumer) == 0, log.read_text()[-3000:]

    assert metrics['regaudit_isolated_records_total{error="PoisonError"}'] == 1
    assert metrics["regaudit_isolated_batches_total"] >= 1
    assert metrics["regaudit_consumer_records_total"] == GOOD + 2
    assert metrics['regaudit_consumer_dead_letters_total{source="events"}'] == 1  # the line that is not JSON
    assert metrics['regaudit_consumer_stored_rows_total{table="dead_letters"}'] == 2  # it and the isolated one
    assert metrics["regaudit_consumer_batches_total"] >= 1
    assert metrics["regaudit_consumer_offset_commit_failures_total"] == 0
    lags = {k: v for k, v in metrics.items() if k.startswith("regaudit_consumer_lag_records{")}
    assert f'regaudit_consumer_lag_records{{topic="{kafka_topics.events}",partition="0"}}' in lags
    assert set(lags.values()) == {0}  # every partition of the three topics read to its end
    assert metrics["regaudit_consumer_last_commit_timestamp_seconds"] > 0
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert health.json()["last_commit_at"] is not None
    assert stored(db) == (GOOD, GOOD)
    assert count(db, "SELECT count(*) FROM dead_letters") == (2,)
