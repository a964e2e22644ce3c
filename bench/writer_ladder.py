"""What keeping regaudit's tables costs at the least, step by step, against ``read_json`` (``--ladder``).

The import's target is a share of DuckDB's ``read_json`` into ``registry_events`` (the floor), which stores no
payload (``raw`` is ``'{}'``), validates nothing and derives nothing. This ladder times, on the same file in the
same run, each piece of work the store's tables ask for, done the cheapest way DuckDB offers: every statement once
over the whole file, on all cores, no batches, no Python per row, no second thread competing:

1. ``read_json``: the floor, as ``import_backfill`` measures it;
2. ``raw``: the same rows from the file's lines (one ``json_transform`` a line) with the line kept in ``raw``
   (zstd, JSON), as every stored event keeps its payload;
3. ``normalize``: ``registry_events`` as regaudit fills it instead, by its normalize SQL (the wire model's strict
   types, time window, dead letters' reasons), over the whole file in one statement;
4. ``image_activity``: the derive step that makes one row per image-level action (``activity_from_events``);
5. ``derive``: every other derive step (``ingest/derive.sql``) once, over the file's whole time range;
6. ``chain``: the hash chain's entry, the batch's rows read back and their digests (``evidence/chain.seal``).

Steps 3-6 run in one store, each its own statement(s), committed as it goes. Their sum is what a pipeline that
keeps regaudit's tables pays at the least for this file; ``floor / sum`` is the best ratio such a pipeline can
reach, whatever it does in between.
"""

from __future__ import annotations

import contextlib
import re
import resource
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from regaudit.evidence import chain
from regaudit.ingest import derive as derive_module
from regaudit.ingest import store
from regaudit.ingest.normalize import EVENT_COLUMNS, EVENTS_SQL
from regaudit.schemas.registry import EARLIEST_AT, LATEST_AT, RFC3339_PATTERN, TIME_WINDOW

#: the file's lines, one row each (as bench/ingest_access.py's floor reads an access log)
LINES = (
    "read_csv($path, columns = {'line': 'VARCHAR'}, delim = chr(1), quote = '', escape = '', header = false,"
    " auto_detect = false)"
)
RAW_INSERT = f"""
INSERT INTO registry_events (registry, event_id, event_at, action, target_kind, repository, tag, digest,
    media_type, size_bytes, from_repository, url, request_id, http_method, client_addr, request_host, user_agent,
    actor, source_addr, source_instance, envelope_type, received_at, origin, batch_id, raw)
SELECT 'bench', e.id, e."timestamp"::TIMESTAMPTZ, e.action,
       CASE WHEN e.target.mediaType = 'application/octet-stream' THEN 'blob' ELSE 'manifest' END,
       e.target.repository, e.target.tag, e.target.digest, e.target.mediaType, e.target.size, e.target.fromRepository,
       e.target.url, e.request.id, e.request.method, e.request.addr, e.request.host, e.request.useragent,
       e.actor.name, e.source.addr, e.source.instanceID, NULL, now(), 'bench', 1, line
FROM (SELECT line, json_transform(line, '{{"id": "VARCHAR", "timestamp": "VARCHAR", "action": "VARCHAR",
          "target": {{"mediaType": "VARCHAR", "digest": "VARCHAR", "size": "BIGINT", "repository": "VARCHAR",
                     "tag": "VARCHAR", "fromRepository": "VARCHAR", "url": "VARCHAR"}},
          "request": {{"id": "VARCHAR", "addr": "VARCHAR", "host": "VARCHAR", "method": "VARCHAR",
                      "useragent": "VARCHAR"}},
          "actor": {{"name": "VARCHAR"}}, "source": {{"addr": "VARCHAR", "instanceID": "VARCHAR"}}}}') AS e
      FROM {LINES})
"""  # noqa: S608 - fixed text; the path is bound
#: the file's lines as the records the normalizer reads (``normalize.BATCH_SCHEMA``), keyed as an import keys them
BATCH_CTE = f"""batch AS (
    SELECT 'event' AS kind, encode(line) AS value, NULL::VARCHAR AS text, 'bench:' || row_number() OVER () AS origin,
           now() AS received_at, NULL::VARCHAR AS registry, NULL::VARCHAR AS key, 'application/json' AS content_type,
           NULL::VARCHAR AS reason, NULL::VARCHAR AS registry_kind
    FROM {LINES}),
"""  # noqa: S608
_NAMES = ", ".join(EVENT_COLUMNS)
_EVENTS_FROM_FILE = EVENTS_SQL.replace("WITH src AS (", "WITH " + BATCH_CTE + "src AS (", 1)
assert _EVENTS_FROM_FILE != EVENTS_SQL, "normalize_events.sql no longer starts its query WITH src AS ("
NORMALIZED_INSERT = f"INSERT INTO registry_events ({_NAMES}, batch_id) SELECT {_NAMES}, 1 FROM ({_EVENTS_FROM_FILE}) WHERE reason IS NULL"  # noqa: S608, E501
NORMALIZE_PARAMS = {
    "default_registry": "default",
    "rfc3339": RFC3339_PATTERN,
    "earliest": EARLIEST_AT,
    "latest": LATEST_AT,
    "time_window": TIME_WINDOW,
}


def ladder(path: Path, work: Path, floor_sql: str) -> dict[str, Any]:
    """Wall and CPU seconds (this process, every DuckDB thread) of each step, and the best ratio they allow."""
    wall: dict[str, float] = {}
    cpu: dict[str, float] = {}
    derive_cpu: dict[str, float] = {}

    def step(name: str, run: Callable[[], object]) -> None:
        started, used = time.perf_counter(), _cpu()
        run()
        wall[name], cpu[name] = time.perf_counter() - started, _cpu() - used

    bound = {"path": str(path)}
    with _store(work / "ladder-floor.duckdb") as con:
        step("read_json", lambda: con.execute(floor_sql, bound))
    with _store(work / "ladder-raw.duckdb") as con:
        step("raw", lambda: con.execute(RAW_INSERT, bound))
    with _store(work / "ladder.duckdb") as con:
        step("normalize", lambda: con.execute(NORMALIZED_INSERT, NORMALIZE_PARAMS | bound))
        stored, lo, hi = con.execute("SELECT count(*), min(event_at), max(event_at) FROM registry_events").fetchall()[0]
        con.execute("INSERT INTO ingest_batches VALUES (1, now(), 'ladder', ?, 0, 0, NULL, NULL)", [stored])
        (activity,) = derive_module.statements(dict(derive_module.DERIVE_STEPS)["activity_from_events"])
        activity = activity.removesuffix(derive_module._CONFLICT)  # as the sink's first attempt inserts it
        step("image_activity", lambda: con.execute(activity, {"batch_id": 1}))
        step("derive", lambda: _derive(con, lo, hi, derive_cpu))
        step("chain", lambda: chain.seal(con, 1))
    kept = ("normalize", "image_activity", "derive", "chain")
    least = {"wall": sum(wall[name] for name in kept), "cpu": sum(cpu[name] for name in kept)}
    return {
        "ladder_stored": stored,
        "ladder_wall_seconds": {name: round(seconds, 2) for name, seconds in wall.items()},
        "ladder_cpu_seconds": {name: round(seconds, 2) for name, seconds in cpu.items()},
        "ladder_derive_cpu_seconds": derive_cpu,
        "ladder_least_wall_seconds": round(least["wall"], 2),
        "ladder_least_cpu_seconds": round(least["cpu"], 2),
        # the best a pipeline keeping regaudit's tables can reach against the floor, by wall and by CPU
        "ladder_best_ratio_wall": round(wall["read_json"] / least["wall"], 3),
        "ladder_best_ratio_cpu": round(cpu["read_json"] / least["cpu"], 3),
    }


def _derive(con: duckdb.DuckDBPyConnection, lo: datetime, hi: datetime, steps: dict[str, float]) -> None:
    """Every derive step but ``activity_from_events``, as the sink's first attempt runs them for batch 1, in one
    transaction, over one time range from the file's first event to its last (each statement once: over the
    file's days as ranges, each statement's fixed cost, 30 times over, was most of it); CPU seconds per step
    into ``steps``, so that a step whose cost grows faster than its rows shows."""
    params: dict[str, Any] = {"batch_id": 1, "default_registry": "default", "earliest": lo}
    params["gap_grace_seconds"] = derive_module.GAP_GRACE_SECONDS
    con.execute("BEGIN TRANSACTION")
    for name, sql in derive_module.DERIVE_STEPS:
        if name == "activity_from_events":
            continue
        used = _cpu()
        for statement in derive_module.statements(sql):
            if name in derive_module.NEW_ROWS_ONLY:
                statement = statement.removesuffix(derive_module._CONFLICT)  # noqa: PLW2901 - as the sink's first attempt
            names = set(re.findall(r"\$(\w+)", statement))
            bound = params | {"lo": lo, "hi": hi}
            con.execute(statement, {key: bound[key] for key in names})
        steps[name] = round(_cpu() - used, 2)
    con.execute("COMMIT")


def _store(path: Path) -> contextlib.closing[duckdb.DuckDBPyConnection]:
    """A new store with regaudit's schema, opened as the floor's is (``common.empty_store``: DuckDB's own row group
    size, not the writers' smaller one, which costs more to compress, so as to bound from below); its checkpoint
    on close is not timed (nor is the floor's: ``common.timed_statement``)."""
    with store.writer(path):
        pass
    return contextlib.closing(duckdb.connect(str(path)))


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
