"""The alert commands as operators run them: `regaudit alerts test` and a standalone `regaudit alerts dispatch`
routing the findings of `regaudit analyze` by severity."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta

from regaudit.analytics.cases import load_rows
from regaudit.analytics.fixtures import DIGEST_A, DIGEST_B, access, activity, burst, tag_move
from regaudit.ingest import store
from tests.analytics.alerts.receivers import HttpReceiver
from tests.ingest import processes

SECRET = "commands-secret"


def regaudit(args: list[str], env: dict) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*processes.REGAUDIT, *args], env=env, capture_output=True, text=True, timeout=120)


def config(tmp_path, url: str) -> dict:
    toml = tmp_path / "regaudit.toml"
    toml.write_text(
        "[alerts]\n"
        '[[alerts.sinks]]\nname = "hook"\ntype = "webhook"\n'
        f'url = "{url}"\nsecret = "{SECRET}"\nmin_severity = "high"\n'
        '[[alerts.sinks]]\nname = "everything"\ntype = "stdout"\nmin_severity = "low"\n'
    )
    return processes.regaudit_env(tmp_path / "audit.duckdb", REGAUDIT_CONFIG=str(toml))


def test_alerts_test_sends_one_sample_and_logs_the_attempt(tmp_path):
    with HttpReceiver(SECRET.encode()) as receiver:
        env = config(tmp_path, receiver.url)
        done = regaudit(["alerts", "test", "--sink", "hook"], env)
        assert done.returncode == 0, done.stderr
        (arrival,) = receiver.arrivals
    assert arrival.body["origin"] == "test"
    assert "outcome=delivered" in done.stdout
    with store.reader(tmp_path / "audit.duckdb") as con:
        assert con.execute("SELECT sink, attempt, outcome FROM alerts").fetchall() == [("hook", 1, "delivered")]


def test_alerts_test_reports_a_sink_that_is_down_and_an_unknown_sink(tmp_path):
    env = config(tmp_path, f"http://127.0.0.1:{processes.free_port()}/alerts")
    down = regaudit(["alerts", "test", "--sink", "hook"], env)
    assert down.returncode == 75
    assert "outcome=failed" in down.stdout
    unknown = regaudit(["alerts", "test", "--sink", "pager"], env)
    assert unknown.returncode == 2
    assert "no sink named 'pager' (sinks: hook, everything)" in unknown.stderr


def test_standalone_dispatch_routes_analyze_findings_by_severity(tmp_path):
    now = datetime.now(UTC)
    with store.writer(tmp_path / "audit.duckdb") as con:
        load_rows(con, [
            tag_move(now - timedelta(hours=1), tag="v1.4.2", digest=DIGEST_B, previous_digest=DIGEST_A),
            tag_move(now - timedelta(hours=2), tag="latest", digest=DIGEST_A, valid_to_at=now - timedelta(hours=1)),
            tag_move(now - timedelta(hours=1), tag="latest", digest=DIGEST_B, previous_digest=DIGEST_A,
                     moved_by="bob"),
            activity(now - timedelta(hours=1), action="pull", actor=None, repository="team/secret"),
            *burst(access, now - timedelta(hours=1), 30, client_addr="203.0.113.9", status=401, remote_user="alice"),
        ])  # fmt: skip
    with HttpReceiver(SECRET.encode()) as receiver:
        env = config(tmp_path, receiver.url)
        analyzed = regaudit(["analyze"], env)
        assert analyzed.returncode == 0, analyzed.stderr
        done = regaudit(["alerts", "dispatch", "--until-idle", "1"], env)
        assert done.returncode == 0, done.stderr
        again = regaudit(["alerts", "dispatch", "--until-idle", "1"], env)
        assert again.stdout.strip() == "nothing to deliver"
    everything = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    with store.reader(tmp_path / "audit.duckdb") as con:
        findings = con.execute("SELECT severity, count(*) FROM findings WHERE status = 'open' GROUP BY ALL").fetchall()
    assert len(everything) == sum(count for _, count in findings)
    high = sorted(a.body["detection_id"] for a in receiver.arrivals)
    expected = sorted(a["detection_id"] for a in everything if a["severity"] in ("high", "critical"))
    assert high == expected
    assert "tag.release_overwrite" in high
    assert "tag.mutable_overwrite" not in high
