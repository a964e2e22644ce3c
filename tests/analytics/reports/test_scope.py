from __future__ import annotations

from datetime import UTC, datetime

import pytest

from regaudit.analytics.reports.scope import Period, Scope, last_days


def utc(*parts):
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2025-Q1", utc(2025, 1, 1), utc(2025, 4, 1)),
        ("2025q4", utc(2025, 10, 1), utc(2026, 1, 1)),
        ("2025-12", utc(2025, 12, 1), utc(2026, 1, 1)),
        ("2025-02", utc(2025, 2, 1), utc(2025, 3, 1)),
        ("2025-03-01..2025-03-05", utc(2025, 3, 1), utc(2025, 3, 5)),
        ("2025-03-01T12:00+02:00..2025-03-02", utc(2025, 3, 1, 10), utc(2025, 3, 2)),
    ],
)
def test_periods_parse_to_utc_with_the_end_excluded(text, start, end):
    assert (Period.parse(text).start, Period.parse(text).end) == (start, end)


def test_a_period_must_end_after_it_starts():
    with pytest.raises(ValueError, match="ends"):
        Period.parse("2025-03-05..2025-03-01")
    with pytest.raises(ValueError, match="not a period"):
        Period.parse("last quarter")


def test_last_days_are_whole_utc_days_before_today():
    period = last_days(7, utc(2025, 3, 10, 15, 30))
    assert (period.start, period.end) == (utc(2025, 3, 3), utc(2025, 3, 10))


def test_a_scope_is_sorted_deduplicated_and_refuses_unknown_actions():
    scope = Scope(repositories=("b/*", "a/*", "b/*"), actions=("push", "delete"))
    assert (scope.repositories, scope.actions) == (("a/*", "b/*"), ("delete", "push"))
    assert scope.label == "repositories a/*, b/*; identities all; actions delete, push"
    with pytest.raises(ValueError, match="unknown actions tag"):
        Scope(actions=("tag",))
