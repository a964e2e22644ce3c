"""The hash chain: every batch sealed in its transaction; verify names the first batch changed, removed or inserted."""

from __future__ import annotations

import hashlib
import re
from importlib import resources

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from regaudit.cli import main
from regaudit.evidence import chain
from regaudit.evidence.canonical import AUDIT_TABLES, AuditTable, combine, row_text_sql
from regaudit.evidence.verify import verify
from regaudit.ingest import store
from regaudit.ingest.hooks import BATCH_HOOKS
from tests.evidence.chain_seed import HTPASSWD, NGINX_LOG, seeded_store, write
from tests.samples import access_records, event_records

SCHEMA_SQL = resources.files("regaudit.ingest").joinpath("schema.sql").read_text()


@pytest.fixture
def db(tmp_path):
    return seeded_store(tmp_path / "audit.duckdb")


def run_verify(db, *extra, capsys):
    code = main(["verify", "--db", str(db), *extra])
    return code, capsys.readouterr().out


def tamper(db, sql):
    con = duckdb.connect(str(db))
    try:
        con.execute(sql)
    finally:
        con.close()


def test_the_chain_hook_is_installed_first():
    assert BATCH_HOOKS[0] == "regaudit.evidence.chain:seal_batch"


@pytest.mark.parametrize("table", AUDIT_TABLES, ids=lambda t: t.name)
def test_the_canonical_form_covers_every_column_of_each_audit_table(table):
    body = re.search(rf"CREATE TABLE IF NOT EXISTS {table.name} \((.*?)\n\);", SCHEMA_SQL, re.S).group(1)
    columns = [line.split()[0] for line in body.strip().splitlines() if not line.strip().startswith("PRIMARY")]
    assert [name for name, _ in table.columns] == columns


def test_a_row_text_is_the_documented_encoding_of_each_value():
    """The text stored chains were sealed with, written out by hand from the module's rules: a change of the SQL
    that builds it (``row_text_sql``, ``row_parts``) must not change a byte of it, or every stored chain breaks."""
    table = AuditTable("t", "t", (("a", "text"), ("b", "text"), ("c", "text"), ("j", "json"), ("i", "int"),
                                  ("ts", "time"), ("f", "float"), ("x", "blob"), ("n", "int")))  # fmt: skip
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("CREATE TABLE t (a VARCHAR, b VARCHAR, c VARCHAR, j JSON, i BIGINT, ts TIMESTAMPTZ, f DOUBLE,"
                " x BLOB, n BIGINT)")  # fmt: skip
    con.execute("INSERT INTO t VALUES ('é|:-', '', NULL, '{\"k\": [1]}', -7, '2025-03-01 12:00:00.000001+00',"
                " 0.1, '\\x00\\xFF'::BLOB, NULL)")  # fmt: skip
    text = con.execute(f"SELECT {row_text_sql(table)} FROM t").fetchone()[0]
    assert text == '5:é|:-|0:|-|10:{"k": [1]}|-7|1740830400000001|0.1|00FF|-'


#: row digests that differ only in their first or last bytes, NUL among them (the least byte, which numpy's fixed-width
#: bytes compare without)
_DIGESTS = st.lists(
    st.binary(min_size=0, max_size=4).map(lambda tail: b"\x00" * (32 - len(tail)) + tail)
    | st.binary(min_size=0, max_size=4).map(lambda head: head + b"\x00" * (32 - len(head)))
    | st.binary(min_size=32, max_size=32),
    max_size=40,
)


@given(_DIGESTS)
def test_a_table_digest_is_the_sha256_of_its_row_digests_sorted_bytewise(digests):
    assert combine(digests) == hashlib.sha256(b"".join(sorted(digests))).hexdigest()


def test_every_batch_is_sealed_after_the_one_before(db):
    with store.reader(db) as con:
        entries = chain.entries(con)
        assert verify(con).ok
    assert [(e.seq, e.batch_id, e.events_count, e.access_count) for e in entries] == [(1, 1, 18, 0), (2, 2, 0, 30)]
    assert entries[0].previous_hash == chain.GENESIS
    assert entries[1].previous_hash == entries[0].batch_hash


def test_a_replayed_batch_is_sealed_with_no_rows_and_the_chain_still_verifies(db):
    write(db, event_records(HTPASSWD, "main"))
    with store.reader(db) as con:
        head = chain.head(con)
        assert verify(con).ok
    assert (head.seq, head.batch_id, head.events_count) == (3, 3, 0)


def test_verify_passes_and_prints_the_head_to_anchor(db, capsys):
    code, out = run_verify(db, capsys=capsys)
    with store.reader(db) as con:
        head = chain.head(con)
    assert code == 0
    assert "chain ok: 2 entries" in out
    assert head.batch_hash in out


def test_editing_a_row_fails_verify_and_names_its_batch(db, capsys):
    tamper(db, "UPDATE registry_events SET actor = 'mallory' WHERE action = 'push' AND tag IS NOT NULL")
    code, out = run_verify(db, capsys=capsys)
    assert code == 1
    assert "verify FAILED: batch 1: registry_events: its 18 rows differ" in out
    assert "rows were changed" in out


def test_deleting_a_row_fails_verify_and_names_its_batch(db, capsys):
    tamper(db, "DELETE FROM access_log WHERE line_key = (SELECT min(line_key) FROM access_log)")
    code, out = run_verify(db, capsys=capsys)
    assert code == 1
    assert "verify FAILED: batch 2: access_log holds 29 rows, the chain sealed 30: rows were deleted" in out


def test_inserting_a_row_into_a_sealed_batch_fails_verify_and_names_it(db, capsys):
    tamper(db, "INSERT INTO access_log SELECT * REPLACE ('forged' AS line_key) FROM access_log LIMIT 1")
    code, out = run_verify(db, capsys=capsys)
    assert code == 1
    assert "verify FAILED: batch 2: access_log holds 31 rows, the chain sealed 30: rows were inserted" in out


def test_inserting_a_row_under_a_new_batch_id_fails_verify_and_names_it(db, capsys):
    tamper(db, "INSERT INTO registry_events SELECT * REPLACE ('forged' AS event_id, 9 AS batch_id) "
               "FROM registry_events LIMIT 1")  # fmt: skip
    code, out = run_verify(db, capsys=capsys)
    assert code == 1
    assert "verify FAILED: batch 9: 1 rows in registry_events not covered by the chain" in out


def test_removing_a_batch_and_its_chain_entry_fails_verify(db, capsys):
    tamper(db, "DELETE FROM registry_events WHERE batch_id = 1; DELETE FROM chain WHERE seq = 1")
    code, out = run_verify(db, capsys=capsys)
    assert code == 1
    assert "chain entries 1..1 were removed" in out


def test_editing_a_chain_entry_fails_verify(db, capsys):
    tamper(db, "UPDATE chain SET access_count = 29 WHERE seq = 2")
    code, out = run_verify(db, capsys=capsys)
    assert code == 1
    assert "verify FAILED: batch 2: chain entry 2 was edited" in out


def test_a_rewritten_chain_no_longer_holds_an_anchored_head(db, capsys):
    with store.reader(db) as con:
        anchored = chain.head(con).batch_hash
    tamper(db, "UPDATE registry_events SET actor = 'mallory'; DELETE FROM chain")
    with store.writer(db) as con:
        chain.seal_unsealed(con)  # the forger reseals everything
    # the chain alone now agrees; the derived tables, still those of the true events, give this forger away, but
    # one who also re-derives them (or rewrites the whole store) is caught only by the anchor
    assert run_verify(db, "--no-derived", capsys=capsys)[0] == 0
    code, out = run_verify(db, capsys=capsys)
    assert code == 1
    assert "derived tables and decisions FAILED: image_activity:" in out
    code, out = run_verify(db, "--anchor", anchored, capsys=capsys)
    assert code == 1
    assert f"anchored head {anchored} is not in the chain" in out


def test_batches_written_without_the_hook_are_named_then_sealed_on_request(tmp_path, capsys):
    db = tmp_path / "hookless.duckdb"
    write(db, access_records(NGINX_LOG), hooks=False)
    code, out = run_verify(db, capsys=capsys)
    assert code == 1
    assert "batch 1: 30 rows in access_log not covered by the chain" in out
    code, out = run_verify(db, "--seal", capsys=capsys)
    assert code == 0
    assert "sealed 1 batches: 1" in out


def test_the_chain_head_is_an_anchor_document_the_alert_sinks_can_send(db):
    with store.reader(db) as con:
        head = chain.head(con)
    anchor = chain.anchor_document(head, str(db))
    assert anchor["type"] == "regaudit.chain_head"
    assert (anchor["seq"], anchor["batch_id"], anchor["hash"]) == (2, 2, head.batch_hash)
    assert anchor["check"] == f"regaudit verify --anchor {head.batch_hash}"
