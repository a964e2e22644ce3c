"""The DuckDB store: opening it under the concurrency rule, and its schema version with in-place upgrades.

DuckDB lets one process write a file, or several read it, never both (DESIGN.md section 3). Every part of
regaudit therefore holds the file only briefly: writers open it read-write for one batch and close it, readers
open it read-only per query. Whoever finds the file locked retries with a short backoff for at most
``lock_timeout_seconds``, then raises ``StoreLocked`` (transient).

Upgrades: ``MIGRATIONS`` maps each schema version to the statements that reach it from the one before. A file
at version N is brought to the newest version in one transaction when a writer opens it; a file newer than this
program is refused (``StoreSchemaError``).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import duckdb

from regaudit.backoff import Backoff
from regaudit.errors import StoreLocked, StoreSchemaError
from regaudit.ingest import rollups, tag_heads
from regaudit.ingest.derive import derive_step

log = logging.getLogger(__name__)

#: version -> statements that upgrade the version below it. Version 1 is the whole schema.sql.
MIGRATIONS: dict[int, str] = {
    1: resources.files("regaudit.ingest").joinpath("schema.sql").read_text(encoding="utf-8"),
    2: resources.files("regaudit.ingest").joinpath("alerts_outbox.sql").read_text(encoding="utf-8"),
    3: resources.files("regaudit.ingest").joinpath("chain.sql").read_text(encoding="utf-8"),
    4: resources.files("regaudit.ingest").joinpath("decisions.sql").read_text(encoding="utf-8"),
    5: resources.files("regaudit.ingest").joinpath("findings_about.sql").read_text(encoding="utf-8"),
    6: resources.files("regaudit.ingest").joinpath("counting.sql").read_text(encoding="utf-8"),
    7: resources.files("regaudit.ingest").joinpath("blob_only.sql").read_text(encoding="utf-8"),
    8: resources.files("regaudit.ingest").joinpath("registry_kind.sql").read_text(encoding="utf-8"),
    9: resources.files("regaudit.ingest").joinpath("outcome.sql").read_text(encoding="utf-8"),
    10: resources.files("regaudit.ingest").joinpath("identities.sql").read_text(encoding="utf-8"),
    11: resources.files("regaudit.ingest").joinpath("rollups.sql").read_text(encoding="utf-8"),
    12: resources.files("regaudit.ingest").joinpath("feed_rollups.sql").read_text(encoding="utf-8"),
    13: resources.files("regaudit.ingest").joinpath("client_rollups.sql").read_text(encoding="utf-8"),
    14: resources.files("regaudit.ingest").joinpath("page_rollups.sql").read_text(encoding="utf-8"),
    15: resources.files("regaudit.ingest").joinpath("action_rollups.sql").read_text(encoding="utf-8"),
    16: resources.files("regaudit.ingest").joinpath("repository_rollups.sql").read_text(encoding="utf-8"),
    17: resources.files("regaudit.ingest").joinpath("digest_rollups.sql").read_text(encoding="utf-8"),
    18: resources.files("regaudit.ingest").joinpath("tag_heads.sql").read_text(encoding="utf-8"),
    19: resources.files("regaudit.ingest").joinpath("activity_key.sql").read_text(encoding="utf-8"),
    20: resources.files("regaudit.ingest").joinpath("event_key.sql").read_text(encoding="utf-8"),
    21: resources.files("regaudit.ingest").joinpath("derive_pending.sql").read_text(encoding="utf-8"),
}
SCHEMA_VERSION = max(MIGRATIONS)

#: Rows per row group in files this process writes. DuckDB's default (122,880) is larger than an ingest batch, so
#: every commit would recompress the same partly filled row group again (measured: twice the work, a third larger
#: file); with row groups well under a batch, a commit compresses its rows about once. DuckDB keeps no size in the
#: file: it applies to what this connection writes, and readers read either.
WRITER_ROW_GROUP_SIZE = 16_384

#: DuckDB's words for "another process (or, for "Unique file handle conflict", another connection of this
#: process) holds the file": transient, retried until the lock timeout.
_LOCK_MARKERS = (
    "Could not set lock",
    "Conflicting lock",
    "database is locked",
    "lock on file",
    "Unique file handle conflict",
)


def _is_lock_error(error: duckdb.Error) -> bool:
    return any(marker in str(error) for marker in _LOCK_MARKERS)


def _open(
    path: Path, read_only: bool, timeout: float, config: dict[str, str] | None = None
) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + timeout
    # At most 20 ms between attempts: a consumer working off a backlog frees the file for a few ms between
    # batches, and readers backing off to 0.25 s waited up to 2.6 s for a 10 ms gap every 200 ms.
    backoff = Backoff(0.005, 0.02)
    while True:
        try:
            if read_only:
                return duckdb.connect(str(path), read_only=True, config={**(config or {})})
            return _connect_writer(path)
        except duckdb.Error as error:
            if not _is_lock_error(error) or time.monotonic() >= deadline:
                if _is_lock_error(error):
                    raise StoreLocked(f"{path}: held by another process for over {timeout:.0f}s") from error
                raise
            ask_for_turn(path)
            time.sleep(backoff.failed())


def waiting_marker(path: Path) -> Path:
    """The file whose time says someone waits for the store (``<store>.waiting``, beside it)."""
    return path.with_name(path.name + ".waiting")


def ask_for_turn(path: Path) -> None:
    """Tell a writer holding the file across batches that someone waits for it: it gives the file back after
    its batch in hand (``regaudit.ingest.sinks.held``). Best effort: on a read-only mount the waiter waits out
    the hold instead."""
    with contextlib.suppress(OSError):
        waiting_marker(path).touch()


def _connect_writer(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-write connection whose default catalog is the file, attached with the writer's row group size.

    What a statement cannot hold in memory (an upgrade's sort of a whole table) spills next to the file, where
    DuckDB puts it for a file it opens itself, not into the working directory as for an in-memory database."""
    con = duckdb.connect(":memory:", config={"temp_directory": f"{path}.tmp"})
    try:
        con.execute(f"ATTACH $path AS store (ROW_GROUP_SIZE {WRITER_ROW_GROUP_SIZE})", {"path": str(path)})
        con.execute("USE store")
    except BaseException:
        con.close()
        raise
    return con


@contextlib.contextmanager
def writer(path: Path, timeout: float = 30.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection for one unit of work, with the schema brought up to date."""
    con = open_writer(path, timeout)
    try:
        yield con
    finally:
        con.close()


def open_writer(path: Path, timeout: float = 30.0) -> duckdb.DuckDBPyConnection:
    """A read-write connection with the schema brought up to date, for a caller that closes it itself (a writer
    holding the file across batches, ``regaudit.ingest.sinks.held``)."""
    con = _open(path, read_only=False, timeout=timeout)
    try:
        migrate(con)
    except BaseException:
        con.close()
        raise
    return con


@contextlib.contextmanager
def reader(
    path: Path, timeout: float = 30.0, config: dict[str, str] | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection (with DuckDB ``config`` options, e.g. a memory limit); fails with StoreSchemaError on a
    file this version cannot read."""
    con = _open(path, read_only=True, timeout=timeout, config=config)
    try:
        version = schema_version(con)
        if version != SCHEMA_VERSION:
            raise StoreSchemaError(
                f"{path}: store schema version {version}, this regaudit reads {SCHEMA_VERSION}"
                " (run any writer, e.g. `regaudit store upgrade`, to upgrade it)"
            )
        yield con
    finally:
        con.close()


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """One explicit transaction: committed when the block ends, rolled back when it raises."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The file's schema version, 0 for an empty file."""
    exists = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_meta'").fetchall()[
        0
    ][0]
    if not exists:
        return 0
    rows = con.execute("SELECT value FROM schema_meta WHERE key = 'schema_version'").fetchall()
    return int(rows[0][0]) if rows else 0


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Bring the schema to SCHEMA_VERSION in one transaction; returns the version found."""
    found = schema_version(con)
    if found > SCHEMA_VERSION:
        raise StoreSchemaError(f"store schema version {found} is newer than this regaudit ({SCHEMA_VERSION})")
    if found == SCHEMA_VERSION:
        return found
    con.execute("BEGIN TRANSACTION")
    try:
        for version in range(found + 1, SCHEMA_VERSION + 1):
            con.execute(MIGRATIONS[version])
            log.info("store schema upgraded to version=%d", version)
        if 0 < found < BLOB_ONLY_VERSION:  # after every migration: the derive step is written for the newest schema
            _backfill_blob_only(con)
        if 0 < found < rollups.DIGESTS_VERSION:  # after the backfill above, which adds image_activity rows
            rollups.rebuild(con, since_version=found + 1)
        if 0 < found < tag_heads.VERSION:
            tag_heads.rebuild(con)
        con.execute("INSERT OR REPLACE INTO schema_meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return found


#: the version whose derive step (blob_only_downloads) a store written before must run over its stored events
BLOB_ONLY_VERSION = 7


def _backfill_blob_only(con: duckdb.DuckDBPyConnection) -> None:
    """Derive the blob-only pull rows of a store written before version 7, over all its blob events at once:
    the rows are a function of the stored events, so they are what replaying its batches would give."""

    bounds = con.execute(
        "SELECT min(event_at), max(event_at) FROM registry_events WHERE target_kind = 'blob' AND action = 'pull'"
    ).fetchall()[0]
    if bounds[0] is not None:
        derive_step(con, "blob_only_downloads", bounds[0], bounds[1])


def next_batch_id(con: duckdb.DuckDBPyConnection) -> int:
    """The id the next ingest batch gets (inside the writer's transaction)."""
    return int(con.execute("SELECT coalesce(max(batch_id), 0) + 1 FROM ingest_batches").fetchall()[0][0])
