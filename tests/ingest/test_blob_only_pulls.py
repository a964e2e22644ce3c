"""Blob downloads with no manifest pull (layers fetched by digest: leaked digests, a CI cache) reach everything that
counts pulls: written through the real ingest path, they are in the dashboard's who pulled what and bytes pulled,
and pull.egress_baseline weighs their bytes (issue 16, cause 1: 45 GB fetched this way went unseen)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from regaudit.analytics.runner import analyze
from regaudit.analytics.settings import AnalyticsSettings, OrgSettings
from regaudit.dashboard.queries import activity, overview
from regaudit.dashboard.queries.common import TimeRange
from regaudit.ingest import store
from tests.ingest.test_derive import T0, blob, digest, event, write

GIB = 1 << 30
DAY = 86_400.0


def ordinary_days(days: int) -> list:
    """alice pulls team/app once a day, its one layer 1 GiB."""
    return [
        record
        for day in range(days)
        for record in (
            event(day * DAY, "pull", "team/app", "alice", "GET", tag="v1", target=digest("app")),
            blob(day * DAY + 5, "team/app", "alice", "layer", GIB),
        )
    ]


def by_digest(day: int, layers: int) -> list:
    """alice fetches ``layers`` 1 GiB layers of team/secret by digest, one a minute, and no manifest."""
    return [blob(day * DAY + 60 * i, "team/secret", "alice", f"secret{i}", GIB) for i in range(layers)]


def egress(db, day: int) -> list[str]:
    now = T0 + timedelta(days=day + 1)
    report = analyze(db, OrgSettings(), AnalyticsSettings(), now=now, since=now - timedelta(days=1),
                     include=["pull.egress_baseline"])  # fmt: skip
    return [hit.subject for hit in report.hits]


def test_layers_fetched_by_digest_are_pulls_in_who_pulled_what_and_bytes_pulled(db):
    write(db, [*ordinary_days(2), *by_digest(2, 50)])

    day = TimeRange(T0 + timedelta(days=2), T0 + timedelta(days=3))
    with store.reader(db) as con:
        rows = activity.activity_page(con, activity.ActivityFilter(day, actions=("pull",)), 100)
        totals = overview.activity_over_time(con, day, timedelta(hours=1)).iloc[-1]
    assert [(r.repository, r.blob_bytes, r.blob_only) for r in rows.itertuples()] == [("team/secret", 50 * GIB, True)]
    assert (totals["pulls_count"], totals["pulled_bytes"]) == (1, 50 * GIB)


def test_egress_fires_on_a_day_of_layers_fetched_by_digest(db):
    write(db, [*ordinary_days(10), *by_digest(10, 50)])

    assert egress(db, 10) == ["alice"]


def test_egress_stays_quiet_when_the_day_by_digest_is_like_the_others(db):
    write(db, [*ordinary_days(10), *by_digest(10, 1)])

    assert egress(db, 10) == []


def test_the_pulls_of_a_day_are_not_counted_again_by_their_blobs(db):
    write(db, ordinary_days(3))

    everything = TimeRange(T0, T0 + timedelta(days=3))
    with store.reader(db) as con:
        totals = overview.activity_over_time(con, everything, timedelta(days=1)).iloc[-1]
    assert (totals["pulls_count"], totals["pulled_bytes"]) == (3, 3 * GIB)


@pytest.fixture
def db(tmp_path):
    return tmp_path / "audit.duckdb"
