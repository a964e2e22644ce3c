"""``regaudit analyze`` and ``regaudit detections test`` through the real entry point."""

from __future__ import annotations

import argparse
from datetime import timedelta
from pathlib import Path

import pytest

from regaudit.analytics.cases import load_rows
from regaudit.analytics.fixtures import access, burst, pull
from regaudit.arguments import duration
from regaudit.cli import main
from regaudit.ingest import store

NOW = "2025-05-10T18:00:00+00:00"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "store.duckdb"
    with store.writer(path) as con:
        load_rows(con, (
            pull("2025-05-10T09:00", actor=None, repository="team/secret"),
            *burst(access, "2025-05-10T03:00", 8, client_addr="203.0.113.77", status=401,
                   remote_user=lambda i: f"user{i}"),
        ))  # fmt: skip
    return path


def test_analyze_prints_new_findings_once_then_only_the_summary(db: Path, capsys) -> None:
    assert main(["analyze", "--db", str(db), "--now", NOW]) == 0
    first = capsys.readouterr().out
    assert "pull.anonymous_private" in first
    assert "proxy.password_spray" in first
    assert "new=2" in first

    assert main(["analyze", "--db", str(db), "--now", NOW, "--fail-on-findings"]) == 0
    second = capsys.readouterr().out
    assert "new=0 refreshed=2" in second
    assert "pull.anonymous_private" not in second


def test_analyze_runs_only_the_selected_detections(db: Path, capsys) -> None:
    assert main(["analyze", "--db", str(db), "--now", NOW, "--detections", "proxy", "--fail-on-findings"]) == 1
    out = capsys.readouterr().out
    assert "proxy.password_spray" in out
    assert "pull.anonymous_private" not in out
    assert "detections=5 " in out


def test_analyze_refuses_an_unknown_detection(db: Path) -> None:
    assert main(["analyze", "--db", str(db), "--detections", "pull.nope"]) == 2


def test_detections_test_runs_every_case(capsys) -> None:
    assert main(["detections", "test", "tag"]) == 0
    assert "cases passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("1.5h", 5400), ("1d", 86400), ("90d", 90 * 86400), ("12w", 84 * 86400)],
)
def test_every_accepts_durations(text: str, seconds: float) -> None:
    assert duration(text) == timedelta(seconds=seconds)


def test_every_refuses_a_bare_number() -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="duration"):
        duration("5")
