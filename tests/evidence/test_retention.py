"""Retention: purge removes whole sealed batches per table past retention, leaves a signed checkpoint in the chain,
and the chain still verifies."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from regaudit.cli import main
from regaudit.evidence import chain, retention, signing
from regaudit.evidence.verify import verify
from regaudit.ingest import store
from tests.evidence.chain_seed import seeded_store

LATER = datetime(2027, 6, 1, tzinfo=UTC)  # the samples were captured on 2026-11-26
POLICY = {"registry_events": 100, "access_log": 30, "dead_letters": 30, "image_activity": 400}


@pytest.fixture
def db(tmp_path):
    return seeded_store(tmp_path / "audit.duckdb")


@pytest.fixture
def key(tmp_path):
    return signing.generate_key(tmp_path / "signing.pem")


def purge(db, key, older_than=timedelta(0), policy=POLICY, now=LATER):
    with store.writer(db) as con:
        return retention.purge(con, retention.plan(con, policy, older_than, now), key)


def count(db, table):
    with store.reader(db) as con:
        return con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]


def test_purge_removes_tables_past_their_retention_and_the_chain_still_verifies(db, key):
    entry = purge(db, key)
    assert (count(db, "registry_events"), count(db, "access_log")) == (0, 0)
    assert count(db, "image_activity") > 0  # kept 400 days
    with store.reader(db) as con:
        result = verify(con, key.public_key())
    assert result.ok, result.problems
    assert (result.signatures_checked, result.head.seq, entry.kind) == (1, 3, "purge")


def test_the_checkpoint_records_what_was_removed_and_the_chain_hash_at_the_cut(db, key):
    with store.reader(db) as con:
        sealed = {e.batch_id: e for e in chain.entries(con)}
    entry = purge(db, key)
    detail = json.loads(entry.detail)
    events = detail["tables"]["registry_events"]
    assert (events["batches"], events["rows_count"], events["retention_days"]) == ([[1, 1]], 18, 100)
    assert events["through"] == {"batch_id": 1, "seq": 1, "hash": sealed[1].batch_hash}
    assert detail["head_before"] == {"seq": 2, "hash": sealed[2].batch_hash}
    assert detail["signer"] == signing.fingerprint(key.public_key())
    assert (entry.events_count, entry.access_count) == (18, 30)
    assert signing.is_valid(key.public_key(), bytes.fromhex(entry.signature), entry.batch_hash.encode())


def test_a_table_is_never_cut_below_its_retention(db, key):
    policy = {**POLICY, "registry_events": 10_000}
    purge(db, key, older_than=timedelta(days=1), policy=policy)
    assert count(db, "registry_events") == 18
    assert count(db, "access_log") == 0


def test_retention_zero_keeps_a_table_and_nothing_to_remove_records_nothing(db, key):
    assert purge(db, key, policy={"registry_events": 0, "access_log": 0}) is None
    with store.reader(db) as con:
        assert chain.head(con).kind == "batch"


def test_rows_put_back_into_a_purged_batch_fail_verify(db, key, tmp_path):
    copy = tmp_path / "copy.duckdb"
    con = duckdb.connect(str(copy))
    con.execute(f"ATTACH '{db}' AS original (READ_ONLY)")
    con.execute("CREATE TABLE kept AS SELECT * FROM original.registry_events")
    con.close()
    purge(db, key)
    con = duckdb.connect(str(db))
    con.execute(f"ATTACH '{copy}' AS copy (READ_ONLY)")
    con.execute("INSERT INTO registry_events SELECT * FROM copy.kept LIMIT 1")
    con.close()
    with store.reader(db) as con:
        result = verify(con, key.public_key())
    assert result.first.message == "batch 1: registry_events holds 1 rows a purge removed (inserted since)"


def test_a_forged_checkpoint_fails_verify(db, key, tmp_path):
    purge(db, key)
    other = signing.generate_key(tmp_path / "other.pem")
    with store.reader(db) as con:
        assert not verify(con, other.public_key()).ok
    con = duckdb.connect(str(db))
    con.execute(
        "UPDATE chain SET detail = replace(detail, '\"rows_count\":18', '\"rows_count\":17') WHERE kind = 'purge'"
    )
    con.close()
    with store.reader(db) as con:
        assert "purge checkpoint (entry 3): chain entry 3 was edited" in verify(con).first.message


def test_purge_command_then_verify_command(db, tmp_path, capsys, monkeypatch):
    key_path = tmp_path / "signing.pem"
    signing.generate_key(key_path)
    monkeypatch.setenv("REGAUDIT_REPORTS__SIGNING_KEY_PATH", str(key_path))
    monkeypatch.setenv("REGAUDIT_RETENTION__ACCESS_LOG_DAYS", "30")
    assert main(["purge", "--db", str(db), "--older-than", "90d", "--now", "2027-06-01", "--dry-run"]) == 0
    assert "dry run: nothing removed" in capsys.readouterr().out
    assert count(db, "access_log") == 30
    assert main(["purge", "--db", str(db), "--older-than", "90d", "--now", "2027-06-01"]) == 0
    out = capsys.readouterr().out
    assert "registry_events  cut 2026-04-27 00:00Z (kept 400d at least): 0 rows" in out
    assert "purged 30 rows; signed checkpoint is chain entry 3" in out
    assert (count(db, "registry_events"), count(db, "access_log")) == (18, 0)
    assert main(["verify", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "chain ok: 3 entries" in out
    assert "purge checkpoints: 1 signatures checked" in out


def test_purge_without_a_signing_key_is_refused(db, capsys):
    assert main(["purge", "--db", str(db), "--older-than", "1d"]) == 2
    assert count(db, "registry_events") == 18
