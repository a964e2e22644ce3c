"""An alert's facts are read from the evidence its finding cites: around the findings' windows first, then anywhere."""

from __future__ import annotations

from datetime import timedelta

from regaudit.analytics.alerts.evidence import EVIDENCE_MARGIN, evidence_bounds, lookup
from regaudit.ingest import store
from tests.ingest.test_derive import T0, event, line, write


def test_evidence_is_found_near_the_windows_and_outside_them_alike(tmp_path):
    db = tmp_path / "audit.duckdb"
    write(db, [
        event(60, "push", "team/app", "mallory", "PUT", tag="v1", target="sha256:" + "a" * 64),
        event(7200, "pull", "team/app", "alice", "GET", tag="v1", target="sha256:" + "a" * 64),
        line(120, "GET", "/v2/team/secret/manifests/v1", 401, "mallory"),
    ])  # fmt: skip
    with store.reader(db) as con:
        activity = [
            f"image_activity:{row[0]}"
            for row in con.execute(
                "SELECT activity_id FROM image_activity WHERE source = 'registry' ORDER BY occurred_at"
            ).fetchall()
        ]
        pushes = [f"tag_history:{row[0]}" for row in con.execute("SELECT event_id FROM tag_history").fetchall()]
        lines = [f"access_log:{row[0]}" for row in con.execute("SELECT line_key FROM access_log").fetchall()]
        refs = [*activity, *pushes, *lines, "image_activity:ev:main:no-such-event", "credentials:ci"]
        anywhere = lookup(con, refs)
        around = lookup(con, refs, (T0, T0 + timedelta(minutes=5)))  # the pull two hours after: in the margin
        later = lookup(con, refs, (T0 + timedelta(hours=2), T0 + timedelta(hours=3)))  # the push before it
        elsewhere = lookup(con, refs, (T0 + timedelta(days=40), T0 + timedelta(days=41)))
    assert set(anywhere) == {*activity, *pushes, *lines}
    assert around == anywhere
    assert later == anywhere
    assert elsewhere == anywhere
    assert anywhere[activity[0]].actor == "mallory"
    assert anywhere[activity[0]].received_at is not None  # joined to its event by registry, time and id
    assert anywhere[pushes[0]].received_at is not None


def test_evidence_is_looked_for_in_the_window_then_either_margin_then_anywhere():
    start, end = T0, T0 + timedelta(hours=1)
    bounds = evidence_bounds(start, end)
    assert bounds[:3] == [(start, end), (start - EVIDENCE_MARGIN, start), (end, end + EVIDENCE_MARGIN)]
    assert bounds[3][0] < start - EVIDENCE_MARGIN
    assert bounds[3][1] > end + EVIDENCE_MARGIN
    assert evidence_bounds(None, end) == bounds[3:]
