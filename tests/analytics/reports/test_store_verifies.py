"""The simulated days of registry traffic, ingested, analyzed and triaged as in production, verify whole (chain,
decisions, derived tables rebuilt) with no false failure; a status changed in place shows in a report's chain check,
since findings.csv carries it."""

from __future__ import annotations

import json
import shutil
import subprocess

import duckdb

from regaudit.analytics.reports.engine import build_report
from regaudit.analytics.reports.scope import Period, Scope
from tests.ingest.processes import REGAUDIT, regaudit_env

PERIOD = Period.parse("2025-03-01..2025-03-08")


def test_the_simulated_store_verifies_with_its_decisions_and_rebuilt_derived_tables(report_store):
    done = subprocess.run(
        [*REGAUDIT, "verify"], env=regaudit_env(report_store), capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    with duckdb.connect(str(report_store), read_only=True) as con:
        activity = con.execute("SELECT count(*) FROM image_activity").fetchall()[0][0]
    assert f"derived tables ok: {activity} image_activity and" in done.stdout
    assert "2 finding decisions match the chain and the findings" in done.stdout


def test_a_finding_status_changed_in_place_fails_the_reports_chain_check(report_store, report_settings, tmp_path):
    db = shutil.copy(report_store, tmp_path / "store.duckdb")
    with duckdb.connect(str(db)) as con:
        con.execute(
            "UPDATE findings SET status = 'suppressed', status_reason = 'nothing to see', status_by = 'mallory'"
            " WHERE finding_id = (SELECT max(finding_id) FROM findings WHERE status = 'open')"
        )
    result = build_report(db, PERIOD, Scope(), tmp_path / "report", report_settings)
    assert result.chain_ok is False
    verification = json.loads((tmp_path / "report" / "manifest.json").read_text())["store"]["chain"]["verification"]
    assert (
        "status 'suppressed' by mallory (nothing to see) but no recorded decision says so"
        in (verification["first_problem"])
    )
