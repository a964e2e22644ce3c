"""A purge entry is believed only with the trusted key's signature and only if it respected retention: forged,
foreign-signed and retention-breaking purges fail ``regaudit verify`` (the real command, as a process)."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from regaudit.evidence import chain, retention, signing
from regaudit.ingest import store
from tests.evidence.chain_seed import seeded_store
from tests.ingest.processes import REGAUDIT, regaudit_env

LATER = datetime(2027, 6, 1, tzinfo=UTC)  # the samples were captured on 2026-11-26
POLICY = {"registry_events": 100, "access_log": 30, "dead_letters": 30, "image_activity": 400}
#: the same policy, configured where verify runs
RETENTION = {
    "REGAUDIT_RETENTION__REGISTRY_EVENTS_DAYS": "100",
    "REGAUDIT_RETENTION__ACCESS_LOG_DAYS": "30",
}


@pytest.fixture
def db(tmp_path):
    return seeded_store(tmp_path / "audit.duckdb")


@pytest.fixture
def key(tmp_path):
    """The operator's key; its public half is the trusted key, kept apart from the private one."""
    return signing.generate_key(tmp_path / "keys" / "signing.pem")


@pytest.fixture
def trusted(tmp_path, key):
    return signing.public_path(tmp_path / "keys" / "signing.pem")


def run_verify(db, *args, **env):
    done = subprocess.run(
        [*REGAUDIT, "verify", *args], env=regaudit_env(db, **env), capture_output=True, text=True, timeout=120
    )
    return done.returncode, done.stdout + done.stderr


def head_hash(db):
    with store.reader(db) as con:
        return chain.head(con).batch_hash


def forge_purge(db, detail, signer=None):
    """What someone who can write the file does: delete batch 1's events and append a purge that explains it."""
    con = duckdb.connect(str(db))
    try:
        con.execute("DELETE FROM registry_events WHERE batch_id = 1")
        values = {f"{t}_count": 0 for t in ("events", "access", "dead_letters")}
        values |= {"events_count": 18, "events_digest": None, "access_digest": None, "dead_letters_digest": None}
        return chain.append(con, "purge", None, values, detail=json.dumps(detail), committed_at=LATER, signer=signer)
    finally:
        con.close()


def forged_detail(cut_at=LATER - timedelta(days=200), retention_days=100):
    return {
        "type": "purge",
        "purged_at": LATER.isoformat(),
        "tables": {
            "registry_events": {
                "batches": [[1, 1]],
                "rows_count": 18,
                "cut_at": cut_at.isoformat(),
                "retention_days": retention_days,
            }
        },
    }


def test_a_forged_unsigned_purge_fails_verify_without_a_key_even_with_an_anchor(db):
    anchored = head_hash(db)
    forge_purge(db, forged_detail())
    code, out = run_verify(db, "--anchor", anchored)
    assert code == 1, out
    assert "verify FAILED: purge checkpoint (entry 3): cannot be trusted without a public key" in out
    assert "chain.public_key_path" in out


def test_a_forged_unsigned_purge_fails_verify_with_the_configured_public_key(db, trusted):
    forge_purge(db, forged_detail())
    code, out = run_verify(db, REGAUDIT_CHAIN__PUBLIC_KEY_PATH=str(trusted))
    assert code == 1, out
    assert "verify FAILED: purge checkpoint (entry 3): is not signed" in out


def test_a_purge_signed_by_another_key_fails_verify(db, trusted, tmp_path):
    forger = signing.generate_key(tmp_path / "forger.pem")
    forge_purge(db, forged_detail(), signer=lambda digest: forger.sign(digest.encode()).hex())
    code, out = run_verify(db, "--public-key", str(trusted))
    assert code == 1, out
    assert "verify FAILED: purge checkpoint (entry 3): signature does not verify with the trusted key" in out


def test_a_real_purge_verifies_with_the_configured_public_key_alone(db, key, trusted):
    with store.writer(db) as con:
        assert retention.purge(con, retention.plan(con, POLICY, timedelta(0), LATER), key) is not None
    code, out = run_verify(db, REGAUDIT_CHAIN__PUBLIC_KEY_PATH=str(trusted), **RETENTION)
    assert code == 0, out
    assert "purge checkpoints: 1 signatures checked with the trusted key" in out


def test_a_signed_purge_that_cut_inside_its_own_retention_fails_verify(db, key, trusted):
    inside = forged_detail(cut_at=LATER - timedelta(days=2), retention_days=100)
    forge_purge(db, inside, signer=lambda digest: key.sign(digest.encode()).hex())
    code, out = run_verify(db, "--public-key", str(trusted))
    assert code == 1, out
    assert "purge checkpoint (entry 3): cut registry_events at 2027-05-30T00:00:00+00:00, inside its retention" in out


def test_a_signed_purge_below_the_configured_retention_fails_verify(db, key, trusted):
    with store.writer(db) as con:  # the signer's own policy kept access_log 1 day; the configured one says 30
        retention.purge(con, retention.plan(con, {**POLICY, "access_log": 1}, timedelta(0), LATER), key)
    code, out = run_verify(db, "--public-key", str(trusted), **RETENTION)
    assert code == 1, out
    assert "cut access_log at 2027-05-31T00:00:00+00:00, inside its retention of 30 days" in out


def test_a_signed_purge_of_a_table_kept_for_ever_fails_verify(db, key, trusted):
    with store.writer(db) as con:
        retention.purge(con, retention.plan(con, POLICY, timedelta(0), LATER), key)
    code, out = run_verify(
        db, "--public-key", str(trusted), **{**RETENTION, "REGAUDIT_RETENTION__ACCESS_LOG_DAYS": "0"}
    )
    assert code == 1, out
    assert "removed 30 rows of access_log, which has no retention (kept for ever)" in out
