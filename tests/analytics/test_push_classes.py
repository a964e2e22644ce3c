"""Push findings graded by repository class (protected, CI-only, shared, personal) and the identity's own habits,
learnt before they judge: a backfill over a fresh store finds what daily live runs find, and no flood."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from regaudit.analytics import runner
from regaudit.analytics.cases import load_rows
from regaudit.analytics.detection import Row, Severity
from regaudit.analytics.fixtures import at, pull, push
from regaudit.analytics.settings import AnalyticsSettings, OrgSettings
from regaudit.ingest import store

START = at("2025-04-01T00:00")  # a Tuesday
ORG = OrgSettings(ci_identities=["ci-bot"], protected_repositories=["prod/*"])


def days(count: int, start: datetime = START) -> list[datetime]:
    return [start + timedelta(days=n) for n in range(count)]


def office(actor: str, count: int, **values: object) -> list[Row]:
    """A push at 10:00 UTC on each weekday of the first ``count`` days."""
    return [push(day + timedelta(hours=10), actor=actor, **values) for day in days(count) if day.isoweekday() <= 5]


def graded(path: Path, rows: Iterable[Row], now: datetime, since: datetime | None = None) -> dict[str, Severity]:
    with store.writer(path) as con:
        load_rows(con, rows)
    report = runner.analyze(path, ORG, AnalyticsSettings(), now=now, since=since, include=["push.off_hours"])
    return {hit.subject: hit.severity for hit in report.hits}


def test_severity_follows_the_repository_class(tmp_path: Path) -> None:
    night = START + timedelta(days=29, hours=1)  # a Wednesday, 01:00 UTC
    rows = [
        *office("alice", 29),
        *(push(day + timedelta(hours=9), repository="team/built") for day in days(29)),
        push(night, actor="alice", repository="prod/api"),
        push(night, actor="alice", repository="team/built"),
        push(night, actor="alice", repository="team/web"),
        push(night, actor="alice", repository="sandbox/alice"),
        push(night, actor="alice", repository="alice/tools"),
    ]
    assert graded(tmp_path / "s.duckdb", rows, night + timedelta(hours=12)) == {
        "alice to prod/api": Severity.HIGH,
        "alice to team/built": Severity.HIGH,
        "alice to team/web": Severity.MEDIUM,
    }


def test_a_habit_lowers_a_protected_push_and_silences_a_shared_one(tmp_path: Path) -> None:
    saturdays = [day + timedelta(hours=11) for day in days(28) if day.isoweekday() == 6]
    rows = [
        *office("rel", 28),
        *(push(moment, actor="rel", repository="prod/api") for moment in saturdays),
        *office("wendy", 28),
        *(push(moment, actor="wendy") for moment in saturdays),
    ]
    last = saturdays[-1]
    found = graded(tmp_path / "s.duckdb", rows, last + timedelta(hours=1), since=last - timedelta(hours=1))
    assert found == {"rel to prod/api": Severity.LOW}


@pytest.mark.parametrize(("office_days", "expected"), [(0, {}), (20, {"bob to team/app": Severity.MEDIUM})])
def test_one_earlier_night_is_a_habit_only_for_someone_who_rarely_pushes(
    tmp_path: Path, office_days: int, expected: dict[str, Severity]
) -> None:
    """A monthly job that always runs at night is not news; a colleague's one late night weeks ago is no habit."""
    rows = [
        pull(START, actor="bob"),
        *office("bob", office_days),
        push(START + timedelta(days=1, hours=2), actor="bob"),
        push(START + timedelta(days=30, hours=2), actor="bob"),
    ]
    assert graded(tmp_path / "s.duckdb", rows, START + timedelta(days=30, hours=12)) == expected


def month() -> list[Row]:
    """Five weeks from a store's first day: a nightly robot nobody listed as CI, a weekend worker on a shared
    repository, office pushers, and two office pushers' night pushes on days 9 and 30 (the only unusual ones:
    by day 9 the store has known trent for a week and seen him push only in office hours)."""
    return [
        *(push(day + timedelta(hours=2), actor="nightly", repository="team/nightly") for day in days(35)),
        *office("wendy", 35, repository="team/web"),
        *(push(d + timedelta(hours=12), actor="wendy", repository="team/web") for d in days(35) if d.isoweekday() == 6),
        *office("mallory", 35, repository="team/api"),
        push(START + timedelta(days=30, hours=23), actor="mallory", repository="team/api"),
        *office("trent", 9, repository="team/api"),
        push(START + timedelta(days=9, hours=22), actor="trent", repository="team/api"),
    ]


def stored_findings(path: Path) -> set[tuple[object, ...]]:
    with store.reader(path) as con:
        return set(con.execute("SELECT subject, window_start_at, severity FROM findings").fetchall())


def test_a_backfill_learns_first_and_finds_what_daily_live_runs_find(tmp_path: Path) -> None:
    backfill, live = tmp_path / "backfill.duckdb", tmp_path / "live.duckdb"
    with store.writer(backfill) as con:
        load_rows(con, month())
    shutil.copy(backfill, live)
    end = START + timedelta(days=35)
    runner.analyze(backfill, ORG, AnalyticsSettings(), now=end, since=START, include=["push.off_hours"])
    for day in days(35, START + timedelta(days=1)):
        runner.analyze(live, ORG, AnalyticsSettings(lookback_hours=48), now=day, include=["push.off_hours"])
    expected = {
        ("trent to team/api", START + timedelta(days=9), "medium"),
        ("mallory to team/api", START + timedelta(days=30), "medium"),
    }
    assert stored_findings(backfill) == expected
    assert stored_findings(live) == expected
