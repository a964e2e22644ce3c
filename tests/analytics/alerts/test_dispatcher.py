"""The dispatcher over a real store with in-memory sinks: once per sink, every outcome logged, a down sink catching
up, deduplication, rate limits, expiry, one dispatcher per store, and analyze's findings routed by severity."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from regaudit.analytics.alerts.alert import Alert, sample_alert
from regaudit.analytics.alerts.dispatcher import Dispatcher
from regaudit.analytics.alerts.outbox import insert_alert
from regaudit.analytics.cases import load_rows
from regaudit.analytics.detection import Severity
from regaudit.analytics.fixtures import DIGEST_A, DIGEST_B, activity, tag_move
from regaudit.analytics.runner import analyze
from regaudit.ingest import store
from tests.analytics.alerts.events import ago, configured, ingest, push
from tests.analytics.alerts.memory import MemorySink


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "audit.duckdb"


@pytest.fixture
def clock() -> Clock:
    return Clock()


def alert(clock: Clock, finding: str, severity: Severity = Severity.HIGH, detection: str = "push.off_hours") -> Alert:
    base = sample_alert(clock.now, "test")
    return base.model_copy(update={"alert_id": f"{finding}-{time.monotonic_ns()}", "finding_id": finding,
                                   "detection_id": detection, "severity": severity, "origin": "stream"})  # fmt: skip


def queue(db: Path, *alerts: Alert) -> None:
    with store.writer(db) as con:
        for item in alerts:
            insert_alert(con, item, None)


def dispatcher(db: Path, clock: Clock, sinks: dict[str, dict], **alerts: object) -> tuple[Dispatcher, dict]:
    settings = configured(db, alerts={"sinks": [{"name": n, "type": "stdout", **v} for n, v in sinks.items()],
                                      "retry_initial_seconds": 1, "retry_max_seconds": 8, **alerts})  # fmt: skip
    memory = {name: MemorySink(name) for name in sinks}
    found = Dispatcher(settings, sinks=memory, clock=clock)
    found.start_workers()
    return found, memory


def settle(found: Dispatcher, rounds: int = 20) -> None:
    """Cycle until nothing moves: every claimed alert sent and its outcome logged."""
    for _ in range(rounds):
        cycle = found.cycle()
        deadline = time.monotonic() + 10
        while any(worker.busy for worker in found.workers) and time.monotonic() < deadline:
            time.sleep(0.005)
        if not cycle.active and not found._results.qsize():
            return


def log(db: Path, sink: str | None = None) -> list[tuple]:
    with store.reader(db) as con:
        return con.execute(
            "SELECT alert_id, sink, attempt, outcome FROM alerts WHERE $sink IS NULL OR sink = $sink"
            " ORDER BY attempted_at, attempt",
            {"sink": sink},
        ).fetchall()


def test_each_alert_reaches_each_sink_once_and_every_delivery_is_logged(db, clock):
    found, memory = dispatcher(db, clock, {"a": {}, "b": {}})
    first, second = alert(clock, "f1"), alert(clock, "f2")
    queue(db, first, second)
    settle(found)
    settle(found)
    assert [a.alert_id for a in memory["a"].sent] == [first.alert_id, second.alert_id]
    assert [a.alert_id for a in memory["b"].sent] == [first.alert_id, second.alert_id]
    assert sorted(log(db)) == sorted((a.alert_id, s, 1, "delivered") for a in (first, second) for s in "ab")
    found.close()


def test_alerts_below_a_sinks_threshold_or_outside_its_detections_are_filtered_and_logged(db, clock):
    found, memory = dispatcher(db, clock, {"pager": {"min_severity": "high", "exclude": ["push.off_hours"]},
                                           "all": {"min_severity": "low"}})  # fmt: skip
    low, off_hours, overwrite = (alert(clock, "f1", Severity.LOW, "push.outside_ci_network"), alert(clock, "f2"),
                                 alert(clock, "f3", Severity.HIGH, "tag.release_overwrite"))  # fmt: skip
    queue(db, low, off_hours, overwrite)
    settle(found)
    assert [a.finding_id for a in memory["pager"].sent] == ["f3"]
    assert len(memory["all"].sent) == 3
    assert sorted(o for _, _, _, o in log(db, "pager")) == ["delivered", "filtered", "filtered"]
    found.close()


def test_the_same_finding_pages_once_within_its_window_and_again_after_it(db, clock):
    found, memory = dispatcher(db, clock, {"a": {}}, dedup_window_minutes=60)
    queue(db, alert(clock, "f1"), alert(clock, "f1"))
    settle(found)
    assert len(memory["a"].sent) == 1
    assert sorted(o for *_, o in log(db)) == ["deduplicated", "delivered"]
    clock.advance(minutes=61)
    queue(db, alert(clock, "f1"))
    settle(found)
    assert len(memory["a"].sent) == 2
    found.close()


def test_deduplication_survives_a_dispatcher_restart(db, clock):
    found, memory = dispatcher(db, clock, {"a": {}}, dedup_window_minutes=60)
    queue(db, alert(clock, "f1"))
    settle(found)
    found.close()
    clock.advance(minutes=1)
    again, memory = dispatcher(db, clock, {"a": {}}, dedup_window_minutes=60)
    queue(db, alert(clock, "f1"))
    settle(again)
    assert memory["a"].sent == []
    assert [o for *_, o in log(db)][-1] == "deduplicated"
    again.close()


def test_a_down_sink_is_probed_with_backoff_while_the_others_deliver_and_catches_up_when_back(db, clock):
    found, memory = dispatcher(db, clock, {"down": {}, "up": {}})
    memory["down"].down = True
    owed = [alert(clock, f"f{n}") for n in range(3)]
    queue(db, *owed)
    settle(found)
    assert len(memory["up"].sent) == 3
    assert memory["down"].attempts == 1  # the oldest alert probes; the others wait without attempts
    settle(found)
    assert memory["down"].attempts == 1  # resting: the backoff has not run out
    clock.advance(seconds=1)
    settle(found)
    assert memory["down"].attempts == 2
    memory["down"].down = False
    clock.advance(seconds=8)  # retry_max_seconds: the bound on noticing that the sink is back
    settle(found)
    assert [a.alert_id for a in memory["down"].sent] == [a.alert_id for a in owed]
    assert [(n, o) for a, _, n, o in log(db, "down") if a == owed[0].alert_id] == [
        (1, "failed"), (2, "failed"), (3, "delivered")]  # fmt: skip
    found.close()


def test_a_refusing_sink_logs_the_alert_as_rejected_and_never_retries_it(db, clock):
    found, memory = dispatcher(db, clock, {"a": {}})
    memory["a"].refuse = True
    queue(db, alert(clock, "f1"))
    settle(found)
    clock.advance(minutes=5)
    settle(found)
    assert memory["a"].attempts == 1
    assert [o for *_, o in log(db)] == ["rejected"]
    found.close()


def test_alerts_over_the_rate_limit_wait_their_turn(db, clock):
    found, memory = dispatcher(db, clock, {"slow": {"rate_limit_per_minute": 0.001, "rate_limit_burst": 2}})
    queue(db, *(alert(clock, f"f{n}") for n in range(4)))
    settle(found)
    assert len(memory["slow"].sent) == 2
    with store.reader(db) as con:
        states = con.execute("SELECT state, count(*) FROM alert_deliveries GROUP BY state ORDER BY state").fetchall()
    assert states == [("delivered", 2), ("pending", 2)]
    found.close()


def test_alerts_a_sink_never_took_are_expired_after_the_give_up_bound(db, clock):
    found, memory = dispatcher(db, clock, {"a": {}}, give_up_after_hours=1)
    memory["a"].down = True
    queue(db, alert(clock, "f1"))
    settle(found)
    clock.advance(hours=2)
    settle(found)
    assert [o for *_, o in log(db)] == ["failed", "expired"]
    found.close()


def test_only_one_dispatcher_delivers_from_a_store_at_a_time(db, clock):
    first, first_memory = dispatcher(db, clock, {"a": {}})
    second, second_memory = dispatcher(db, clock, {"a": {}})
    settle(first)
    queue(db, alert(clock, "f1"))
    settle(second)
    assert second_memory["a"].sent == []
    settle(first)
    assert len(first_memory["a"].sent) == 1
    first.close()  # releases the lease
    queue(db, alert(clock, "f2"))
    settle(second)
    assert [a.finding_id for a in second_memory["a"].sent] == ["f2"]
    second.close()


def test_new_analyze_findings_are_routed_by_severity_with_the_facts_of_their_evidence(db, clock):
    now = datetime.now(UTC)
    with store.writer(db) as con:
        load_rows(con, [
            tag_move(now - timedelta(hours=1), tag="v1.4.2", digest=DIGEST_B, previous_digest=DIGEST_A,
                     moved_by="mallory", client_addr="203.0.113.7"),
            activity(now - timedelta(hours=1), action="pull", actor=None, repository="team/secret"),
        ])  # fmt: skip
    settings = configured(db)
    analyze(db, settings.org, settings.analytics, include=["tag.release_overwrite", "pull.anonymous_private"])
    found, memory = dispatcher(db, clock, {"pager": {"min_severity": "high"}})
    settle(found)
    found_ids = {a.detection_id: a for a in memory["pager"].sent}
    assert set(found_ids) == {"tag.release_overwrite", "pull.anonymous_private"}
    overwrite = found_ids["tag.release_overwrite"]
    assert (overwrite.origin, overwrite.actor, overwrite.client_addr, overwrite.tag) == (
        "analyze", "mallory", "203.0.113.7", "v1.4.2")  # fmt: skip
    analyze(db, settings.org, settings.analytics, include=["tag.release_overwrite"])
    settle(found)
    assert len(memory["pager"].sent) == 2  # a refreshed finding is not new
    found.close()


def test_a_streamed_push_reaches_the_sink_through_the_outbox(db, clock):
    found, memory = dispatcher(db, clock, {"a": {"min_severity": "low"}},
                               stream_detections=["push.outside_ci_network"])  # fmt: skip
    settings = configured(db, org={"ci_identities": ["ci-bot"], "ci_networks": ["10.8.0.0/16"]},
                          alerts={"stream_detections": ["push.outside_ci_network"]})  # fmt: skip
    ingest(db, settings, [push(ago(seconds=2), actor="ci-bot", addr="203.0.113.7")])
    settle(found)
    (sent,) = memory["a"].sent
    assert (sent.detection_id, sent.actor, sent.client_addr) == ("push.outside_ci_network", "ci-bot", "203.0.113.7")
    found.close()
