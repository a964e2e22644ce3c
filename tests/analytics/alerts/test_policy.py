"""Delivery discipline: routing, deduplication and rate limit, each on its own (backoff: tests/test_backoff.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from regaudit.analytics.alerts.alert import sample_alert
from regaudit.analytics.alerts.policy import Deduplicator, Route, TokenBucket
from regaudit.analytics.alerts.settings import SinkSettings
from regaudit.analytics.detection import Severity
from regaudit.analytics.errors import UnknownDetectionError
from regaudit.analytics.registry import default_registry

NOW = datetime(2026, 5, 10, 14, 0, tzinfo=UTC)


def alert(detection: str = "push.off_hours", severity: Severity = Severity.MEDIUM, origin: str = "stream"):
    return sample_alert(NOW, "test").model_copy(update={"detection_id": detection, "severity": severity,
                                                         "origin": origin})  # fmt: skip


def sink(**values) -> SinkSettings:
    return SinkSettings.model_validate({"name": "s", "type": "stdout", **values})


def test_rate_limit_lets_a_burst_through_then_one_per_interval():
    now = [0.0]
    bucket = TokenBucket(rate_per_minute=30, burst=2, clock=lambda: now[0])
    assert [bucket.take(), bucket.take()] == [0.0, 0.0]
    assert bucket.take() == pytest.approx(2.0)
    now[0] = 1.0
    assert bucket.take() == pytest.approx(1.0)
    now[0] = 2.0
    assert bucket.take() == 0.0
    now[0] = 1000.0
    assert [bucket.take(), bucket.take(), bucket.take() > 0] == [0.0, 0.0, True]  # never more than the burst


def test_deduplication_holds_a_finding_for_its_window_only():
    dedup = Deduplicator(timedelta(minutes=60))
    assert not dedup.duplicate("f1", NOW)
    dedup.delivered("f1", NOW)
    assert dedup.duplicate("f1", NOW + timedelta(minutes=59))
    assert not dedup.duplicate("f1", NOW + timedelta(minutes=61))
    assert not dedup.duplicate("f2", NOW)


def test_deduplication_remembers_what_the_store_says_was_delivered_before_a_restart():
    dedup = Deduplicator(timedelta(minutes=60))
    assert dedup.duplicate("f1", NOW, stored=NOW - timedelta(minutes=5))
    assert not dedup.duplicate("f1", NOW, stored=NOW - timedelta(hours=2))


def test_route_applies_the_severity_threshold_and_the_detection_lists():
    registry = default_registry()
    route = Route.of(sink(min_severity="high", include=["push"], exclude=["push.off_hours"]), registry)
    assert route.takes(alert("push.outside_ci_network", Severity.HIGH))
    assert not route.takes(alert("push.outside_ci_network", Severity.MEDIUM))
    assert not route.takes(alert("push.off_hours", Severity.HIGH))
    assert not route.takes(alert("tag.release_overwrite", Severity.HIGH))
    assert route.takes(alert("regaudit.test", Severity.LOW, origin="test"))


def test_route_without_lists_takes_every_detection_and_a_typo_fails_at_start():
    registry = default_registry()
    assert Route.of(sink(min_severity="low"), registry).takes(alert("tag.mutable_overwrite", Severity.LOW))
    with pytest.raises(UnknownDetectionError, match="push.of_hours"):
        Route.of(sink(exclude=["push.of_hours"]), registry)
