"""Schema 19: image_activity keyed (occurred_at, activity_id), written again in time order by the upgrade."""

from __future__ import annotations

import random

import duckdb

from regaudit.ingest import store
from tests.ingest.test_derive import event, leaked_digests, line, multi_platform_pull_and_pushes, write

OLD_KEY = "PRIMARY KEY(activity_id)"
NEW_KEY = "PRIMARY KEY(occurred_at, activity_id)"


def records() -> list:
    """Event rows, blob-only rows and proxy-only rows (a refused pull the registry never reported)."""
    refused = line(400, "GET", "/v2/team/secret/manifests/v1", 401, "mallory")
    pushed = event(500, "push", "team/app", "ci", "PUT", tag="v2", target="sha256:" + "b" * 64)
    return [*leaked_digests(0), *multi_platform_pull_and_pushes(), refused, pushed]


def rows(db) -> tuple[list[tuple], int, str]:
    """Every image_activity row, counted_activity's row count and the table's key (any schema version)."""
    with duckdb.connect(str(db), read_only=True) as con:
        stored = con.execute("SELECT * FROM image_activity ORDER BY activity_id, occurred_at").fetchall()
        viewed = con.execute("SELECT count(*) FROM counted_activity").fetchall()[0][0]
        key = primary_key(con, "image_activity")
    return stored, viewed, key


def primary_key(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """A table's primary key as DuckDB writes it: ``PRIMARY KEY(a, b)``."""
    return con.execute(
        "SELECT constraint_text FROM duckdb_constraints()"
        " WHERE table_name = $table AND constraint_type = 'PRIMARY KEY'",
        {"table": table},
    ).fetchall()[0][0]


def as_version_18(db) -> None:
    """The store as schema 18 kept it: image_activity keyed by activity_id alone, its rows in no time order."""
    rekeyed(db, "image_activity", NEW_KEY, OLD_KEY, 18)


def rekeyed(db, table: str, key: str, old_key: str, version: int) -> None:
    """The table written again under the key an older schema gave it, its rows in random order, and the store
    marked as that version (what an upgrade finds)."""
    with store.writer(db) as con:
        found = con.execute("SELECT sql FROM duckdb_tables() WHERE table_name = $table", {"table": table})
        ddl = found.fetchall()[0][0]
        assert ddl.startswith(f"CREATE TABLE {table}(")
        assert ddl.endswith(f", {key});")
        con.execute(ddl.replace(f"{table}(", f"{table}_old(", 1).replace(key, old_key))
        con.execute(f"INSERT INTO {table}_old SELECT * FROM {table} ORDER BY random()")  # noqa: S608 - fixed names
        con.execute(f"DROP TABLE {table}")
        con.execute(f"ALTER TABLE {table}_old RENAME TO {table}")
        con.execute("UPDATE schema_meta SET value = $version WHERE key = 'schema_version'", {"version": str(version)})


def test_an_upgrade_from_schema_18_keeps_every_row_under_the_time_led_key(tmp_path):
    db = tmp_path / "audit.duckdb"
    batch = records()
    write(db, batch)
    before = rows(db)
    assert before[2] == NEW_KEY  # a new store
    as_version_18(db)
    assert rows(db) == (before[0], before[1], OLD_KEY)

    with store.writer(db) as con:  # the upgrade
        assert store.schema_version(con) == store.SCHEMA_VERSION
    assert rows(db) == before


def test_after_the_upgrade_a_replay_stores_nothing_twice_and_new_activity_is_stored(tmp_path):
    db = tmp_path / "audit.duckdb"
    batch = records()
    write(db, batch)
    as_version_18(db)
    write(db, random.Random(3).sample(batch, len(batch)))  # the upgrade, then the same records again
    stored, viewed, _ = rows(db)
    fresh = tmp_path / "fresh.duckdb"
    write(fresh, batch)
    assert (stored, viewed) == rows(fresh)[:2]

    write(db, [event(900, "pull", "team/app", "alice", "GET", tag="v2", target="sha256:" + "b" * 64)])
    assert len(rows(db)[0]) == len(stored) + 1
