"""The Prometheus text every ``/metrics`` writes, the consumer's counters, and the server ``regaudit consume`` runs."""

from __future__ import annotations

import socket

import httpx
import pytest

from regaudit.ingest.consumer_metrics import ConsumerMetrics
from regaudit.ingest.metrics import CONTENT_TYPE, MetricsServer, Sample, by_label, family, text
from regaudit.ingest.sinks import isolation
from regaudit.ingest.sinks.duckdb import WriteResult
from regaudit.settings import ConsumerSettings
from tests.deploy.compose import load_compose


def test_a_family_has_help_and_type_lines_and_escaped_label_values():
    lines = family(
        "regaudit_x_total",
        "counter",
        "Things\\counted\nacross lines.",
        [Sample(3, {"topic": 'a"b\\c\nd', "partition": 2}), Sample(0.25, suffix="_sum")],
    )
    assert lines == [
        "# HELP regaudit_x_total Things\\\\counted\\nacross lines.",
        "# TYPE regaudit_x_total counter",
        'regaudit_x_total{topic="a\\"b\\\\c\\nd",partition="2"} 3',
        "regaudit_x_total_sum 0.25",
    ]


def test_a_bare_number_is_one_sample_and_labels_come_in_a_stable_order():
    assert family("g", "gauge", "A gauge.", 7.0)[-1] == "g 7"
    assert [s.labels for s in by_label("code", {503: 1, 200: 4})] == [{"code": 200}, {"code": 503}]
    assert text(["a 1"], ["b 2", "c 3"]) == "a 1\nb 2\nc 3\n"


def test_the_consumer_renders_its_batches_lag_and_the_process_wide_isolated_records():
    clock = iter([1_800_000_000.5, 1_800_000_010.5, 1_800_000_020.5])
    metrics = ConsumerMetrics(clock=lambda: next(clock))
    metrics.observe_dead_letters(["events", "receiver", "events"])
    metrics.observe_batch(WriteResult(7, 10, 2, 4, 1), 16, True, {("t.events", 1): 4, ("t.events", 0): 0})
    metrics.observe_batch(WriteResult(8, 0, 0, 0), 1, False, None)  # commit failed, lag unknown: the last stays
    metrics.observe_pending(3)
    rendered = metrics.render()
    for line in [
        "regaudit_consumer_records_total 17",
        "regaudit_consumer_batches_total 2",
        'regaudit_consumer_stored_rows_total{table="registry_events"} 10',
        'regaudit_consumer_stored_rows_total{table="access_log"} 2',
        'regaudit_consumer_stored_rows_total{table="dead_letters"} 4',
        'regaudit_consumer_dead_letters_total{source="events"} 2',
        'regaudit_consumer_dead_letters_total{source="receiver"} 1',
        "regaudit_consumer_offset_commit_failures_total 1",
        "regaudit_consumer_last_commit_timestamp_seconds 1800000000.5",
        'regaudit_consumer_lag_records{topic="t.events",partition="0"} 0',
        'regaudit_consumer_lag_records{topic="t.events",partition="1"} 4',
        "# TYPE regaudit_consumer_lag_records gauge",
        "regaudit_consumer_derive_pending_ranges 3",
    ]:
        assert line in rendered.splitlines(), line
    assert rendered.endswith(isolation.COUNTERS.render())  # the same counters the webhook shows, not a copy
    assert metrics.health() == (
        200,
        {"status": "ok", "last_commit_at": "2027-01-15T08:00:00.500000+00:00", "seconds_since_last_commit": 10.0},
    )
    metrics.stop()
    assert metrics.health()[0] == 503


def test_before_the_first_commit_the_timestamp_has_no_sample():
    metrics = ConsumerMetrics()
    samples = [line for line in metrics.render().splitlines() if not line.startswith("#")]
    assert not [line for line in samples if line.startswith("regaudit_consumer_last_commit_timestamp_seconds")]
    assert metrics.health() == (200, {"status": "ok", "last_commit_at": None, "seconds_since_last_commit": None})


def test_the_server_answers_metrics_and_healthz_and_nothing_else():
    server = MetricsServer("127.0.0.1", 0, lambda: "regaudit_up 1\n", lambda: (503, {"status": "stopping"}))
    assert server.start()
    try:
        base = f"http://127.0.0.1:{server.port}"
        scraped = httpx.get(base + "/metrics")
        assert (scraped.status_code, scraped.text, scraped.headers["content-type"]) == (
            200,
            "regaudit_up 1\n",
            CONTENT_TYPE,
        )
        health = httpx.get(base + "/healthz")
        assert (health.status_code, health.json()) == (503, {"status": "stopping"})
        assert httpx.get(base + "/docs").status_code == 404
        assert httpx.post(base + "/metrics").status_code == 501
    finally:
        server.stop()
    with pytest.raises(httpx.TransportError):
        httpx.get(base + "/metrics")


def test_a_port_already_taken_is_logged_and_left_out(caplog):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = MetricsServer("127.0.0.1", port, str, lambda: (200, {}))
        assert not server.start()
    assert f"cannot listen on 127.0.0.1:{port}" in caplog.text
    assert server.port is None
    server.stop()


def test_the_compose_health_check_of_consume_probes_the_default_metrics_address():
    settings = ConsumerSettings()
    probe = " ".join(load_compose()["services"]["consume"]["healthcheck"]["test"])
    assert f"http://{settings.metrics_host}:{settings.metrics_port}/healthz" in probe
