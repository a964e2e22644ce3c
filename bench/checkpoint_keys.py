"""What DuckDB's checkpoint writes per 25,000-row batch as a table keyed like registry_events grows, by its key.

DuckDB 2.0 stores a primary key as an ART index in fixed-size buffers and, at a checkpoint, writes every buffer
an insert changed, whole (``FixedSizeBuffer::Serialize``, src/execution/index/fixed_size_buffer.cpp). Keys that
arrive in random order, as Distribution's event ids (UUIDs) do, change nearly every buffer of the index, so each
checkpoint rewrites nearly all of it. This measures that on a table of 20 text columns and ``--rows`` rows with
random UUID ids, for three keys:

- ``id``: PRIMARY KEY (registry, event_id), as registry_events has it;
- ``time``: PRIMARY KEY (registry, event_at, event_id), a batch's keys next to each other at the end of the index;
- ``none``: no key, a replay skipped by a NOT EXISTS bounded by the batch's own time range (the row groups before
  it are pruned by their min/max).

Each round opens the file as regaudit's writer does (ROW_GROUP_SIZE 16384, one thread), inserts a batch after the
table's last time, writes the same batch again (a replay: nothing new), and closes the file, which checkpoints.
CPU and wall seconds and the bytes this process wrote (/proc/self/io) per step; the rows are checked to be unique.

    .venv/bin/python bench/checkpoint_keys.py --rows 1000000 10000000

The 10M build takes a few minutes and 1.7 GB of temporary disk (one table at a time). With ``--store COPY`` (a copy
of a store: it is written), the same per table of the store instead: 25,000 copies of a table's last rows with new
keys (UUIDs where the key is an event's id), 40 days later, one transaction, then the CHECKPOINT, twice a table.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import record  # noqa: E402

BATCH = 25_000
KEYS = {
    "id": ", PRIMARY KEY (registry, event_id)",
    "time": ", PRIMARY KEY (registry, event_at, event_id)",
    "none": "",
}
COLUMNS = ", ".join(f"c{n} VARCHAR" for n in range(20))
VALUES = ", ".join(f"'v' || (i % {7 * (n + 1)})" for n in range(20))
#: row i's time: 0.1 s apart, so 10M rows span 11.6 days
ROW = (
    "'default' AS registry, {id} AS event_id, TIMESTAMPTZ '2026-01-01' + to_microseconds(i * 100000) AS event_at,"
    " i AS n, " + VALUES
)


def build(path: Path, rows: int, key: str) -> None:
    con = duckdb.connect(":memory:")
    try:
        con.execute("ATTACH $path AS s (ROW_GROUP_SIZE 16384)", {"path": str(path)})
        con.execute("USE s")
        con.execute(
            f"CREATE TABLE t (registry VARCHAR NOT NULL, event_id VARCHAR NOT NULL, event_at TIMESTAMPTZ NOT NULL,"
            f" n BIGINT, {COLUMNS}{KEYS[key]})"
        )
        for first in range(0, rows, 2_000_000):
            last = min(rows, first + 2_000_000)
            con.execute(f"INSERT INTO t SELECT {ROW.format(id='uuid()::VARCHAR')} FROM range({first}, {last}) r(i)")  # noqa: S608
        con.execute("CHECKPOINT")
    finally:
        con.close()


def write_batch(con: duckdb.DuckDBPyConnection, first: int, key: str) -> None:
    """One transaction: the batch's rows (ids fixed by ``first``, so writing it again is a replay)."""
    con.execute("BEGIN")
    batch_id = "md5('k' || i)::UUID::VARCHAR"
    con.execute(
        f"CREATE TEMP TABLE incoming AS SELECT {ROW.format(id=batch_id)} FROM range({first}, {first + BATCH}) r(i)"  # noqa: S608
    )
    if key == "none":
        con.execute("""
            INSERT INTO t SELECT * FROM incoming AS i WHERE NOT EXISTS (
                SELECT 1 FROM t WHERE t.registry = i.registry AND t.event_id = i.event_id AND t.event_at = i.event_at
                  AND t.event_at BETWEEN (SELECT min(event_at) FROM incoming) AND (SELECT max(event_at) FROM incoming))
        """)
    else:
        con.execute("INSERT INTO t SELECT * FROM incoming ON CONFLICT DO NOTHING")
    con.execute("DROP TABLE incoming")
    con.execute("COMMIT")


def written() -> int:
    with Path("/proc/self/io").open(encoding="ascii") as stats:
        return next(int(line.split(":")[1]) for line in stats if line.startswith("write_bytes"))


def timed(step: Callable[[], object]) -> dict[str, float]:
    wall, cpu, before = time.perf_counter(), time.process_time(), written()
    step()
    return {
        "cpu_seconds": round(time.process_time() - cpu, 3),
        "wall_seconds": round(time.perf_counter() - wall, 3),
        "written_mb": round((written() - before) / 1e6, 1),
    }


def rounds(path: Path, rows: int, key: str, count: int) -> list[dict[str, object]]:
    results: list[dict[str, object]] = []
    for number in range(count):
        first = rows + 1000 + number * BATCH
        con = duckdb.connect(":memory:")
        con.execute("SET threads = 1")
        con.execute("ATTACH $path AS s (ROW_GROUP_SIZE 16384)", {"path": str(path)})
        con.execute("USE s")
        insert = timed(lambda: write_batch(con, first, key))  # noqa: B023 - called at once
        replay = timed(lambda: write_batch(con, first, key))  # noqa: B023
        checkpoint = timed(con.close)
        with contextlib.closing(duckdb.connect(str(path), read_only=True)) as check:
            stored, distinct = check.execute("SELECT count(*), count(DISTINCT event_id) FROM t").fetchall()[0]
        if stored != distinct or stored != rows + (number + 1) * BATCH:
            raise SystemExit(f"{key}: {stored} rows, {distinct} distinct ids after round {number}")
        results.append({"insert": insert, "replay": replay, "close_checkpoint": checkpoint})
    return results


#: table -> its key and time columns as a copied row gets them (a UUID where the key holds an event id)
STORE_KEYS = {
    "registry_events": {"event_id": "uuid()::VARCHAR", "event_at": "event_at + INTERVAL 40 DAY"},
    "image_activity": {"activity_id": "'ev:default:' || uuid()", "occurred_at": "occurred_at + INTERVAL 40 DAY"},
    "access_log": {"line_key": "'nginx-9:/var/log/nginx/access.log:' || ({base} + row_number() OVER ())",
                   "request_at": "request_at + INTERVAL 40 DAY"},
    "tag_history": {"event_id": "uuid()::VARCHAR", "valid_from_at": "valid_from_at + INTERVAL 40 DAY"},
    "daily_identity_repositories": {},
}  # fmt: skip


def store_tables(path: Path, count: int) -> list[dict[str, object]]:
    """Per table of a store (a copy: it is written), ``count`` appends of 25,000 rows, each checkpointed."""
    results: list[dict[str, object]] = []
    for table, keys in STORE_KEYS.items():
        for number in range(count):
            con = duckdb.connect(":memory:")
            con.execute("SET threads = 1")
            con.execute("ATTACH $path AS s (ROW_GROUP_SIZE 16384)", {"path": str(path)})
            con.execute("USE s")
            names = [row[0] for row in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE database_name = 's' AND table_name = $t"
                " ORDER BY column_index", {"t": table}).fetchall()]  # fmt: skip
            base = 10**9 * (number + 1)
            chosen = ", ".join(f"{keys[n].format(base=base)} AS {n}" if n in keys else n for n in names)
            stored = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]  # noqa: S608 - fixed names
            last = f"(SELECT * FROM {table} LIMIT {BATCH} OFFSET {max(0, stored - BATCH)})"  # noqa: S608
            sql = f"INSERT INTO {table} ({', '.join(names)}) SELECT {chosen} FROM {last}"  # noqa: S608
            insert = timed(lambda: con.execute(sql))  # noqa: B023 - called at once
            checkpoint = timed(lambda: con.execute("CHECKPOINT"))  # noqa: B023
            con.close()
            results.append({"table": table, "rows": stored, "insert": insert, "checkpoint": checkpoint})
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000], help="stored rows")
    parser.add_argument("--rounds", type=int, default=2, help="batches per table, each on a fresh connection")
    parser.add_argument("--keys", nargs="+", choices=list(KEYS), default=list(KEYS))
    parser.add_argument("--store", type=Path, help="a copy of a store (written): measure its tables instead")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    if args.store:
        tables = store_tables(args.store, args.rounds)
        record("checkpoint_keys", {"store": str(args.store), "batch_rows": BATCH, "tables": tables,
                                   "load_average": [round(load, 1), round(os.getloadavg()[0], 1)]})  # fmt: skip
        return
    tables: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="regaudit-checkpoint-") as tmp:
        for rows in args.rows:
            for key in args.keys:
                path = Path(tmp) / f"{key}-{rows}.duckdb"
                started = time.perf_counter()
                build(path, rows, key)
                built = round(time.perf_counter() - started, 1)
                size = path.stat().st_size
                tables.append({"rows": rows, "key": key, "build_seconds": built, "file_bytes": size,
                               "rounds": rounds(path, rows, key, args.rounds)})  # fmt: skip
                path.unlink()
    record(
        "checkpoint_keys",
        {"batch_rows": BATCH, "load_average": [round(load, 1), round(os.getloadavg()[0], 1)], "tables": tables},
    )


if __name__ == "__main__":
    main()
