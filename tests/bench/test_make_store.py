"""The benchmarks' synthetic store keeps up with the schema: its inserts are positional, so a new column breaks it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb

from regaudit.ingest import store

ROOT = Path(__file__).parents[2]


def test_make_store_builds_a_store_of_the_current_version(tmp_path):
    path = tmp_path / "bench.duckdb"
    subprocess.run(
        [sys.executable, str(ROOT / "bench" / "make_store.py"), str(path), "--events", "5000", "--days", "3"],
        check=True,
        capture_output=True,
        timeout=300,
    )
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM image_activity").fetchone() == (5000,)
        assert con.execute("SELECT count(*) FROM findings WHERE identity IS NOT NULL").fetchone() == (5000,)
    with store.reader(path) as con:  # refuses a store of another schema version
        assert con.execute("SELECT count(*) FROM counted_activity").fetchone() == (5000,)
