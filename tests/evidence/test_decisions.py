"""People's decisions on findings are audited records in the hash chain: ``regaudit verify`` (run as a process)
fails a status changed in place, a decision edited, deleted or inserted, and a finding deleted under its decisions;
statuses set before decisions were recorded are named, and ``verify --seal`` records them."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from regaudit.analytics import findings
from regaudit.analytics.detection import Severity
from regaudit.evidence import chain, decisions
from regaudit.ingest import store
from tests.evidence.chain_seed import seeded_store
from tests.ingest.processes import REGAUDIT, regaudit_env

AT = datetime(2026, 11, 27, 9, 30, 15, 123456, tzinfo=UTC)


def regaudit(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*REGAUDIT, *args], env=regaudit_env(db), capture_output=True, text=True, timeout=300, check=False
    )


def tamper(db: Path, sql: str) -> None:
    with duckdb.connect(str(db)) as con:
        con.execute(sql)


def hit(subject: str) -> findings.Hit:
    return findings.Hit("push.off_hours", Severity.MEDIUM, subject, None, None, f"{subject} pushed at night", ())


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """The captured samples, two findings, and an analyst's three decisions on the first."""
    path = seeded_store(tmp_path / "audit.duckdb")
    with store.writer(path) as con:
        findings.upsert(con, [hit("alice"), hit("bob")], AT, 10)
        findings.set_status(con, hit("alice").finding_id, "acknowledged", None, "ana", AT)
        findings.set_status(con, hit("alice").finding_id, "open", "reopened: happened again", "ana", AT)
        findings.set_status(con, hit("alice").finding_id, "suppressed", "nightly release job", "sam", AT)
    return path


def verify(db: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return regaudit(db, "verify", "--no-derived", *extra)


def test_each_decision_is_a_record_sealed_by_its_chain_entry_and_verify_passes(db):
    with store.reader(db) as con:
        rows = decisions.stored(con)
        sealed = {e.seq: e for e in chain.entries(con) if e.kind == "decision"}
        status = con.execute("SELECT status, status_reason, status_by FROM findings WHERE subject = 'alice'")
        assert status.fetchall() == [("suppressed", "nightly release job", "sam")]
    assert [(r.old_status, r.new_status, r.decided_by, r.reason) for r in rows] == [
        ("open", "acknowledged", "ana", None),
        ("acknowledged", "open", "ana", "reopened: happened again"),
        ("open", "suppressed", "sam", "nightly release job"),
    ]
    assert [r.seq for r in rows] == sorted(sealed)
    assert json.loads(sealed[rows[2].seq].detail) == {
        "type": "finding_decision", "finding_id": hit("alice").finding_id, "decided_at": "2026-11-27T09:30:15.123456Z",
        "decided_by": "sam", "old_status": "open", "new_status": "suppressed", "reason": "nightly release job",
        "recorded_by": "set_status",
    }  # fmt: skip
    done = verify(db)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 finding decisions match the chain and the findings" in done.stdout


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        (
            "UPDATE findings SET status = 'suppressed', status_reason = 'noise', status_by = 'mallory'"
            " WHERE subject = 'bob'",
            "status 'suppressed' by mallory (noise) but no recorded decision says so",
        ),
        (
            "UPDATE findings SET status = 'open', status_reason = NULL, status_by = NULL, status_at = NULL"
            " WHERE subject = 'alice'",
            "status 'open', its last recorded decision (chain entry 5) says 'suppressed' by sam",
        ),
        (
            "UPDATE finding_decisions SET decided_by = 'ana' WHERE new_status = 'suppressed';"
            " UPDATE findings SET status_by = 'ana' WHERE subject = 'alice'",
            "its record was changed (decided_by is 'ana', sealed 'sam')",
        ),
        (
            "DELETE FROM finding_decisions WHERE new_status = 'suppressed'",
            "suppressed of finding",
        ),
        (
            "INSERT INTO finding_decisions SELECT * REPLACE (seq + 100 AS seq, 'mallory' AS decided_by)"
            " FROM finding_decisions WHERE new_status = 'suppressed'",
            "no chain entry 105 of kind decision seals it (inserted directly)",
        ),
        (
            "DELETE FROM findings WHERE subject = 'alice'",
            "has recorded decisions but is not in findings (deleted?)",
        ),
        (
            "DELETE FROM finding_decisions WHERE seq = 4; DELETE FROM chain WHERE seq = 4",
            "chain entries 4..4 were removed",
        ),
    ],
    ids=[
        "status-set-in-place",
        "status-reset",
        "decision-edited",
        "decision-deleted",
        "decision-inserted",
        "finding-deleted",
        "decision-and-entry-deleted",
    ],  # fmt: skip
)
def test_a_decision_or_status_changed_by_any_other_way_fails_verify(db, sql, expected):
    tamper(db, sql)
    done = verify(db)
    assert done.returncode == 1, done.stdout + done.stderr
    assert expected in done.stdout


def test_statuses_set_before_decisions_were_recorded_are_named_then_recorded_by_seal(db):
    tamper(
        db,
        "UPDATE findings SET status = 'acknowledged', status_by = 'old-ui', status_at = '2026-01-02T03:04:05Z'"
        " WHERE subject = 'bob'",
    )  # as a store upgraded from schema 3 holds them
    done = verify(db)
    assert done.returncode == 1
    assert "`regaudit verify --seal` records it if you trust it" in done.stdout
    sealed = verify(db, "--seal")
    assert sealed.returncode == 0, sealed.stdout + sealed.stderr
    assert "recorded 1 finding statuses set before decisions were recorded" in sealed.stdout
    with store.reader(db) as con:
        last = decisions.stored(con)[-1]
    assert (last.new_status, last.decided_by, last.recorded_by) == ("acknowledged", "old-ui", "verify --seal")
    assert verify(db).returncode == 0


def test_set_status_records_nothing_for_an_unknown_finding(db):
    with store.writer(db) as con, pytest.raises(KeyError, match="no finding"):
        findings.set_status(con, "0" * 32, "acknowledged", None, "ana", AT)
    with store.reader(db) as con:
        assert len(decisions.stored(con)) == 3
        assert chain.head(con).kind == "decision"
        assert decisions.problems(con) == []
