"""Streaming rules: each rule fires inside the ingest batch that brought the push or delete, and only then."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from regaudit.analytics.runner import analyze
from regaudit.ingest import store
from tests.analytics.alerts.events import ago, configured, delete, event, ingest, outbox, push

WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


@pytest.fixture
def db(tmp_path):
    return tmp_path / "audit.duckdb"


def only(detection: str, **sections):
    alerts = sections.pop("alerts", {})
    return {"alerts": {"stream_detections": [detection], **alerts}, **sections}


def ci_history(days: int = 10, count: int = 5, repository: str = "team/app") -> list[dict]:
    return [
        push(ago(days=days - n), actor="ci-bot", repository=repository, seed=f"ci{n}", addr="10.8.0.5")
        for n in range(count)
    ]


def test_first_push_by_an_identity_to_an_established_repository_alerts(db):
    settings = configured(db, **only("push.first_to_repository"))
    ingest(db, settings, ci_history())
    assert outbox(db) == []  # history older than a day is left to analyze
    ingest(db, settings, [push(ago(minutes=1), actor="alice", tag="hotfix", seed="h")])
    ingest(db, settings, [push(ago(seconds=30), actor="ci-bot", seed="ci9", addr="10.8.0.5")])
    (alert,) = outbox(db)
    assert (alert["detection_id"], alert["actor"], alert["tag"], alert["client_addr"]) == (
        "push.first_to_repository", "alice", "hotfix", "192.168.1.20",
    )  # fmt: skip


def test_a_person_pushing_to_a_ci_only_repository_alerts_but_ci_does_not(db):
    settings = configured(db, **only("push.human_to_ci_repository", org={"ci_identities": ["ci-bot"]}))
    ingest(db, settings, ci_history())
    ingest(db, settings, [push(ago(seconds=20), actor="ci-bot", seed="ci-now", addr="10.8.0.5")])
    assert outbox(db) == []
    ingest(db, settings, [push(ago(seconds=10), actor="alice", seed="x")])
    (alert,) = outbox(db)
    assert alert["severity"] == "high"
    assert "only CI pushed to before" in alert["summary"]


def test_off_hours_pushes_by_people_alert_and_pushes_within_hours_do_not(db):
    local = datetime.now(ZoneInfo("Asia/Tokyo"))
    today = WEEKDAYS[local.weekday()]
    off = {"org": {"timezone": "Asia/Tokyo", "business_days": [d for d in WEEKDAYS if d != today]}}
    settings = configured(db, **only("push.off_hours", **off))
    # known for a month (a pull each), never pushing off-hours: their off-hours push to a shared repository is news
    ingest(db, settings, [event("pull", ago(days=30), actor=name, seed=f"p-{name}") for name in ("alice", "ci-bot")])
    ingest(db, settings, [push(ago(seconds=5), actor="alice"), push(ago(seconds=5), actor="ci-bot", seed="c")])
    assert sorted(a["actor"] for a in outbox(db)) == ["alice", "ci-bot"]  # ci-bot is not a CI identity here
    assert {a["severity"] for a in outbox(db)} == {"medium"}

    hours = f"{(local - timedelta(hours=2)):%H:%M}-{(local + timedelta(hours=2)):%H:%M}"
    inside = {"org": {"timezone": "Asia/Tokyo", "business_days": WEEKDAYS, "business_hours": hours}}
    other = db.with_name("inside.duckdb")
    ingest(other, configured(other, **only("push.off_hours", **inside)), [push(ago(seconds=5), actor="alice")])
    assert outbox(other) == []


def test_off_hours_pushes_are_graded_by_repository_class(db):
    """A protected repository is high even for an identity first seen today; one's own sandbox is never news, and
    a shared repository waits until the identity's habits are learnt."""
    today = WEEKDAYS[datetime.now(ZoneInfo("Asia/Tokyo")).weekday()]
    org = {"timezone": "Asia/Tokyo", "business_days": [d for d in WEEKDAYS if d != today]}
    settings = configured(db, **only("push.off_hours", org={**org, "protected_repositories": ["prod/*"]}))
    ingest(db, settings, [push(ago(seconds=5), actor="eve", repository=name, seed=name)
                          for name in ("prod/api", "sandbox/eve", "team/app")])  # fmt: skip
    (alert,) = outbox(db)
    assert (alert["repository"], alert["severity"]) == ("prod/api", "high")


def test_pushes_from_outside_the_ci_networks_alert(db):
    org = {"ci_identities": ["ci-bot"], "ci_networks": ["10.8.0.0/16"]}
    settings = configured(db, **only("push.outside_ci_network", org=org))
    ingest(db, settings, [push(ago(seconds=9), actor="ci-bot", addr="10.8.3.4", seed="ok")])
    assert outbox(db) == []
    ingest(db, settings, [push(ago(seconds=5), actor="ci-bot", addr="203.0.113.7", seed="laptop")])
    (alert,) = outbox(db)
    assert (alert["actor"], alert["client_addr"]) == ("ci-bot", "203.0.113.7")


def test_overwriting_a_release_tag_alerts_with_the_new_digest_and_who_moved_it(db):
    settings = configured(db, **only("tag.release_overwrite"))
    ingest(db, settings, [push(ago(minutes=3), actor="ci-bot", tag="v1.4.2", seed="A"),
                          push(ago(minutes=3), actor="ci-bot", tag="latest", seed="A")])  # fmt: skip
    assert outbox(db) == []
    ingest(db, settings, [push(ago(minutes=1), actor="mallory", tag="latest", seed="B")])
    assert outbox(db) == []  # latest is mutable
    ingest(db, settings, [push(ago(seconds=5), actor="mallory", tag="v1.4.2", seed="B")])
    (alert,) = outbox(db)
    assert (alert["detection_id"], alert["actor"], alert["tag"]) == ("tag.release_overwrite", "mallory", "v1.4.2")
    assert alert["digest"] == push(ago(), seed="B")["target"]["digest"]


def test_deletes_in_protected_repositories_alert(db):
    settings = configured(db, **only("tag.protected_delete", org={"protected_repositories": ["prod/*"]}))
    ingest(db, settings, [delete(ago(seconds=9), repository="sandbox/x")])
    assert outbox(db) == []
    ingest(db, settings, [delete(ago(seconds=5), repository="prod/api", actor="bob")])
    (alert,) = outbox(db)
    assert (alert["action"], alert["repository"], alert["actor"]) == ("delete", "prod/api", "bob")


def test_an_alert_names_who_what_where_and_when_from_the_triggering_event(db):
    settings = configured(db, **only("push.human_to_ci_repository", org={"ci_identities": ["ci-bot"]}))
    ingest(db, settings, ci_history())
    moment = ago(seconds=3)
    result = ingest(db, settings, [push(moment, actor="alice", tag="hotfix", seed="h")])
    (alert,) = outbox(db)
    assert alert["origin"] == "stream"
    assert datetime.fromisoformat(alert["event_at"]) == moment
    assert datetime.fromisoformat(alert["received_at"]) <= datetime.now(UTC)
    assert alert["user_agent"] == "skopeo/1.9.3"
    assert alert["registry"] == "default"
    assert alert["false_positives"]
    assert alert["attack"]
    with store.reader(db) as con:
        batch = con.execute("SELECT batch_id FROM alert_outbox").fetchall()[0][0]
    assert batch == result.batch_id


def test_a_replayed_batch_queues_nothing_twice(db):
    settings = configured(db, **only("push.human_to_ci_repository", org={"ci_identities": ["ci-bot"]}))
    ingest(db, settings, ci_history())
    events = [push(ago(seconds=3), actor="alice", seed="h")]
    ingest(db, settings, events)
    ingest(db, settings, events)
    assert len(outbox(db)) == 1


def test_stream_findings_are_the_ones_analyze_computes_so_nothing_alerts_twice(db):
    settings = configured(db, **only("push.human_to_ci_repository", org={"ci_identities": ["ci-bot"]}))
    ingest(db, settings, ci_history())
    ingest(db, settings, [push(ago(seconds=3), actor="alice", seed="h")])
    (alert,) = outbox(db)
    report = analyze(db, settings.org, settings.analytics, include=["push.human_to_ci_repository"])
    assert report.outcome.new == ()
    assert report.outcome.refreshed == (alert["finding_id"],)


def test_a_suppressed_finding_does_not_alert_again(db):
    off = {"org": {"business_days": [], "business_hours": "08:00-09:00"}}
    settings = configured(db, **only("push.off_hours", **off))
    ingest(db, settings, [event("pull", ago(days=30), actor="alice", seed="known")])  # learnt: a month known
    ingest(db, settings, [push(ago(seconds=9), actor="alice", seed="1")])
    (first,) = outbox(db)
    with store.writer(db) as con:
        con.execute("UPDATE findings SET status = 'suppressed', status_reason = 'on call' WHERE finding_id = ?",
                    [first["finding_id"]])  # fmt: skip
    ingest(db, settings, [push(ago(seconds=5), actor="alice", seed="2")])
    assert len(outbox(db)) == 1


def test_old_events_and_stores_without_sinks_queue_nothing(db):
    off = {"org": {"business_days": [], "business_hours": "08:00-09:00"}}
    settings = configured(db, **only("push.off_hours", **off))
    ingest(db, settings, [event("pull", ago(days=30), actor="alice", seed="known")])  # learnt: a month known
    ingest(db, settings, [push(ago(days=2), actor="alice")])
    assert outbox(db) == []
    quiet = configured(db, alerts={"sinks": []}, **off)
    ingest(db, quiet, [push(ago(seconds=5), actor="alice", seed="z")])
    assert outbox(db) == []
    with store.reader(db) as con:
        assert con.execute("SELECT count(*) FROM findings").fetchall() == [(0,)]
