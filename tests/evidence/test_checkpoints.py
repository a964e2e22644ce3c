"""Signed chain checkpoints kept outside the store: a complete rewrite of the store (rows edited, ``chain`` deleted,
``verify --seal``) fails ``regaudit verify`` against the exported series, naming the first checkpoint it no longer
matches; the series cannot be cut, edited or forged unnoticed. Real DuckDB files, the real commands as processes,
the real Kafka broker for the topic destination."""

from __future__ import annotations

import json
import subprocess

import duckdb
import pytest

from regaudit.evidence import chain, checkpoints, signing
from regaudit.ingest import store
from tests.evidence.chain_seed import HTPASSWD, seeded_store, write
from tests.ingest.processes import REGAUDIT, regaudit_env
from tests.samples import event_records


@pytest.fixture
def db(tmp_path):
    (tmp_path / "store").mkdir()
    return seeded_store(tmp_path / "store" / "audit.duckdb")


@pytest.fixture
def keys(tmp_path):
    """(private, public) key files: the private one where `regaudit checkpoint` runs, the public one with verify."""
    private = tmp_path / "keys" / "signing.pem"
    signing.generate_key(private)
    return private, signing.public_path(private)


@pytest.fixture
def series_file(tmp_path):
    return tmp_path / "offsite" / "checkpoints.jsonl"  # another volume than the store's in production


def regaudit(db, *args, **env):
    done = subprocess.run([*REGAUDIT, *args], env=regaudit_env(db, **env), capture_output=True, text=True, timeout=120)
    return done.returncode, done.stdout + done.stderr


def checkpoint(db, keys, series_file, **env):
    return regaudit(
        db,
        "checkpoint",
        REGAUDIT_REPORTS__SIGNING_KEY_PATH=str(keys[0]),
        REGAUDIT_CHAIN__CHECKPOINTS_PATH=str(series_file),
        **env,
    )


def lines(path):
    return path.read_text().splitlines()


def rewrite_everything(db):
    """Someone who can write the file: edit rows, drop the chain, then let regaudit re-seal it all."""
    con = duckdb.connect(str(db))
    try:
        # columns the derived tables do not use, so the rewrite is consistent everywhere but in the checkpoints
        con.execute(
            "UPDATE registry_events SET request_host = 'elsewhere.example', source_addr = '192.0.2.66';"
            " DELETE FROM chain"
        )
    finally:
        con.close()
    code, out = regaudit(db, "verify", "--seal")
    assert code == 0, out  # the rewrite is consistent on its own: this is what checkpoints are for
    assert "sealed 2 batches: 1, 2" in out or "sealed 3 batches: 1, 2, 3" in out


@pytest.fixture
def checkpointed(db, keys, series_file):
    """Two checkpoints: after the two seeded batches, then after a third batch."""
    assert checkpoint(db, keys, series_file)[0] == 0
    write(db, event_records(HTPASSWD, "replica-2"))
    code, out = checkpoint(db, keys, series_file)
    assert code == 0, out
    return db


def test_each_checkpoint_is_signed_and_names_the_head_and_the_checkpoint_before(checkpointed, keys, series_file):
    first, second = (json.loads(line) for line in lines(series_file))
    with store.reader(checkpointed) as con:
        head = chain.head(con)
    public = signing.load_public_key(keys[1])
    assert (first["sequence"], second["sequence"]) == (1, 2)
    assert (first["chain"]["seq"], second["chain"]["seq"]) == (2, 3)
    assert (second["chain"]["hash"], second["chain"]["last_batch_id"]) == (head.batch_hash, 3)
    assert first["previous"] == chain.GENESIS
    assert second["previous"] == checkpoints.digest(first)
    assert first["store_id"] == "audit.duckdb"
    assert checkpoints.signature_ok(first, public)
    assert checkpoints.signature_ok(second, public)


def test_verify_passes_against_the_series_of_an_untouched_store(checkpointed, keys, series_file):
    code, out = regaudit(checkpointed, "verify", "--checkpoints", str(series_file), "--public-key", str(keys[1]))
    assert code == 0, out
    assert "checkpoints: 2 checked; the newest, 2 of" in out
    assert "signed chain entry 3; 0 entries since are not checkpointed yet" in out


def test_a_complete_rewrite_fails_verify_at_the_first_checkpoint_it_no_longer_matches(checkpointed, keys, series_file):
    rewrite_everything(checkpointed)
    first = json.loads(lines(series_file)[0])
    code, out = regaudit(checkpointed, "verify", "--public-key", str(keys[1]))
    assert code == 0, out  # without the series, nothing can tell
    code, out = regaudit(
        checkpointed, "verify", "--public-key", str(keys[1]), REGAUDIT_CHAIN__CHECKPOINTS_PATH=str(series_file)
    )
    assert code == 1, out
    assert (
        f"verify FAILED: checkpoint 1 of {first['created_at']}: chain entry 2 no longer has the checkpointed hash"
        f" {first['chain']['hash']}: the chain was rewritten since" in out
    )
    assert "also: checkpoint 2 of" in out


def test_checkpoint_refuses_to_sign_a_rewritten_chain(checkpointed, keys, series_file):
    rewrite_everything(checkpointed)
    code, out = checkpoint(checkpointed, keys, series_file)
    assert code == 1, out
    assert "checkpoint refused: checkpoint 2 signed chain entry 3" in out
    assert "which is no longer in the chain: it was rewritten" in out
    assert len(lines(series_file)) == 2


def test_a_chain_cut_back_below_a_checkpoint_fails_verify(checkpointed, keys, series_file):
    con = duckdb.connect(str(checkpointed))
    con.execute("DELETE FROM registry_events WHERE batch_id = 3; DELETE FROM chain WHERE seq = 3")
    con.close()
    code, out = regaudit(checkpointed, "verify", "--checkpoints", str(series_file), "--public-key", str(keys[1]))
    assert code == 1, out
    assert "verify FAILED: checkpoint 2 of" in out
    assert "chain entry 3 is gone from the chain" in out


def test_a_checkpoint_removed_from_the_series_fails_verify(checkpointed, keys, series_file):
    assert checkpoint(checkpointed, keys, series_file)[0] == 0
    kept = lines(series_file)
    series_file.write_text("\n".join([kept[0], kept[2]]) + "\n")
    code, out = regaudit(checkpointed, "verify", "--checkpoints", str(series_file), "--public-key", str(keys[1]))
    assert code == 1, out
    assert "expected checkpoint 2: checkpoints 2..2 are missing (the series was cut or edited)" in out


@pytest.mark.parametrize("forger", ["edited", "other key"])
def test_an_edited_or_foreign_checkpoint_fails_verify(checkpointed, keys, series_file, tmp_path, forger):
    documents = [json.loads(line) for line in lines(series_file)]
    if forger == "edited":
        documents[1]["chain"]["hash"] = "f" * 64
    else:
        other = signing.generate_key(tmp_path / "other.pem")
        body = {k: v for k, v in documents[1].items() if k != "signature"}
        documents[1]["signature"] = other.sign(checkpoints.canonical(body).encode()).hex()
    series_file.write_text("".join(checkpoints.canonical(d) + "\n" for d in documents))
    code, out = regaudit(checkpointed, "verify", "--checkpoints", str(series_file), "--public-key", str(keys[1]))
    assert code == 1, out
    assert "checkpoint 2 of" in out
    assert "its signature does not verify with the trusted key (forged?)" in out


def test_checkpoints_without_a_trusted_key_do_not_verify(checkpointed, series_file):
    code, out = regaudit(checkpointed, "verify", "--checkpoints", str(series_file))
    assert code == 1, out
    assert "checkpoints: cannot be checked without a trusted public key" in out


def test_a_configured_series_that_is_missing_is_an_error_not_a_pass(db, keys, tmp_path):
    missing = tmp_path / "offsite" / "none.jsonl"
    code, out = regaudit(db, "verify", "--public-key", str(keys[1]), REGAUDIT_CHAIN__CHECKPOINTS_PATH=str(missing))
    assert code == 2, out
    assert "no checkpoint file" in out


def test_checkpoint_needs_a_destination_and_a_key(db, keys):
    code, out = regaudit(db, "checkpoint", REGAUDIT_REPORTS__SIGNING_KEY_PATH=str(keys[0]))
    assert code == 2, out
    assert "no checkpoint destination" in out


def test_checkpoints_and_a_rewritten_chain_go_to_the_alert_sinks(db, keys, series_file):
    sinks = {
        "REGAUDIT_ALERTS__SINKS": json.dumps([{"name": "siem", "type": "stdout", "min_severity": "high"}]),
        "REGAUDIT_CHAIN__CHECKPOINT_SINKS": json.dumps(["siem"]),
    }
    code, out = checkpoint(db, keys, series_file, **sinks)
    assert code == 0, out
    (alert,) = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert (alert["detection_id"], alert["severity"], alert["origin"]) == ("chain.checkpoint", "low", "checkpoint")
    assert alert["summary"] == lines(series_file)[0]  # the signed line itself: the SIEM holds a verifiable copy
    rewrite_everything(db)
    code, out = checkpoint(db, keys, series_file, **sinks)
    assert code == 1, out
    (alert,) = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert (alert["detection_id"], alert["severity"]) == ("chain.rewritten", "critical")
    assert "checkpoint 1 signed chain entry 2" in alert["summary"]
    assert "no longer in the chain" in alert["summary"]


def test_checkpoint_refuses_a_sink_that_is_not_configured(db, keys, series_file):
    code, out = checkpoint(db, keys, series_file, REGAUDIT_CHAIN__CHECKPOINT_SINKS='["siem"]')
    assert code == 2, out
    assert "chain.checkpoint_sinks: no sink named siem" in out


def test_checkpoints_go_to_a_kafka_topic_and_verify_reads_them_back(kafka_broker, kafka_topics, db, keys, series_file):
    kafka = {
        "REGAUDIT_KAFKA__BOOTSTRAP_SERVERS": kafka_broker.bootstrap,
        "REGAUDIT_CHAIN__CHECKPOINTS_TOPIC": kafka_topics.alerts,
    }
    assert checkpoint(db, keys, series_file, **kafka)[0] == 0
    write(db, event_records(HTPASSWD, "replica-3"))
    code, out = checkpoint(db, keys, series_file, **kafka)
    assert code == 0, out
    assert f"-> {series_file}, kafka topic {kafka_topics.alerts}" in out
    code, out = regaudit(db, "verify", "--checkpoints-from-kafka", "--public-key", str(keys[1]), **kafka)
    assert code == 0, out
    assert "checkpoints: 2 checked" in out
    rewrite_everything(db)
    code, out = regaudit(db, "verify", "--checkpoints-from-kafka", "--public-key", str(keys[1]), **kafka)
    assert code == 1, out
    assert "verify FAILED: checkpoint 1 of" in out
    assert "the chain was rewritten since" in out


def test_a_topic_that_was_away_is_given_the_checkpoints_it_missed(kafka_broker, kafka_topics, db, keys, series_file):
    from tests.ingest.processes import free_port

    away = {
        "REGAUDIT_KAFKA__BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",  # nothing listens there
        "REGAUDIT_KAFKA__REQUEST_TIMEOUT_SECONDS": "2",
        "REGAUDIT_CHAIN__CHECKPOINTS_TOPIC": kafka_topics.alerts,
    }
    code, out = checkpoint(db, keys, series_file, **away)
    assert code == 75, out
    assert len(lines(series_file)) == 1  # the file, the series of record, has it
    back = {**away, "REGAUDIT_KAFKA__BOOTSTRAP_SERVERS": kafka_broker.bootstrap}
    code, out = checkpoint(db, keys, series_file, **back)
    assert code == 0, out
    code, out = regaudit(db, "verify", "--checkpoints-from-kafka", "--public-key", str(keys[1]), **back)
    assert code == 0, out
    assert "checkpoints: 2 checked" in out


def test_a_copy_under_another_name_is_checked_with_the_store_id_of_its_series(checkpointed, keys, series_file):
    copy = checkpointed.with_name("copy.duckdb")
    copy.write_bytes(checkpointed.read_bytes())
    args = ("verify", "--checkpoints", str(series_file), "--public-key", str(keys[1]))
    code, out = regaudit(copy, *args)
    assert code == 1, out
    assert "none of store 'copy.duckdb'" in out
    assert "it holds audit.duckdb: set chain.store_id" in out
    code, out = regaudit(copy, *args, REGAUDIT_CHAIN__STORE_ID="audit.duckdb")
    assert code == 0, out


def test_a_series_whose_newest_checkpoint_is_too_old_fails_verify_when_asked(db, keys, series_file):
    from datetime import UTC, datetime, timedelta

    from regaudit.evidence.checkpoint_destinations import CheckpointFile

    written_at = datetime.now(UTC) - timedelta(hours=5)  # a writer that stopped five hours ago
    with store.reader(db) as con:
        document = checkpoints.build(con, "audit.duckdb", None, signing.load_private_key(keys[0]), written_at)
    CheckpointFile(series_file).append(document)
    args = ("verify", "--checkpoints", str(series_file), "--public-key", str(keys[1]))
    assert regaudit(db, *args)[0] == 0
    code, out = regaudit(db, *args, "--max-checkpoint-age", "2h")
    assert code == 1, out
    assert "verify FAILED: checkpoints: the newest, 1 of" in out
    assert "more than 2:00:00: the checkpoint writer stopped" in out
