"""A batch's hash-chain digests computed beside its inserts, on a thread of their own.

Sealing a batch (``regaudit.evidence.chain``) read its rows back from the transaction and built each row's
canonical text and SHA-256 on the writer's thread: about a fifth of its CPU (writer alone, 100,000-event batches:
2.2-2.5 s CPU a batch, 0.5 s less with the digests beside). The rows are the Arrow tables the sink inserts, plus
the batch id, which the writer knows before its first INSERT; so the digests are computed from those tables
(``canonical.rows_digest``) on another thread, on an in-memory DuckDB connection the sink keeps, while the
writer's own connection inserts and derives. The chain hook takes them (``canonical.given_digests``) if and only
if every row of the batch was stored as given: the plain INSERTs all passed. A replay's ON CONFLICT may skip rows,
and its digests are read back as before; so are a small batch's (``DIGESTS_BESIDE_ROWS``: a webhook's few
events), which cost less read back than handed to another thread. ``regaudit verify`` recomputes every digest
from the stored rows, so a digest that differed would show there; tests/ingest/test_batch_digests.py holds the
two equal.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator

import duckdb

from regaudit.evidence.canonical import AUDIT_TABLES, GivenDigests, rows_digest
from regaudit.ingest.normalize import NormalizedBatch

log = logging.getLogger(__name__)


class DigestConnection:
    """The in-memory DuckDB connection a sink's digests are computed on, opened once (15-50 ms) and kept: one
    batch's thread uses it at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._con: duckdb.DuckDBPyConnection | None = None

    @contextlib.contextmanager
    def session(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The connection, for one batch's digests; closed (and opened again next time) when they fail."""
        with self._lock:
            if self._con is None:
                con = duckdb.connect(":memory:")
                con.execute("SET threads = 1")  # the writer's connection and the reading thread have the cores
                self._con = con
            try:
                yield self._con
            except BaseException:
                con, self._con = self._con, None
                con.close()
                raise


class BatchDigests:
    """The digests of one batch's rows per audit table, being computed on a thread started at construction."""

    def __init__(self, batch: NormalizedBatch, batch_id: int, connection: DigestConnection) -> None:
        self.batch_id = batch_id
        self._rows = {
            "registry_events": batch.events,
            "access_log": batch.access,
            "dead_letters": batch.dead_letters,
        }
        self._connection = connection
        self._digests: GivenDigests = None
        self._thread = threading.Thread(target=self._compute, name="regaudit-digests", daemon=True)
        self._thread.start()

    def _compute(self) -> None:
        try:
            with self._connection.session() as con:
                self._digests = {t.name: rows_digest(con, t, self._rows[t.name], self.batch_id) for t in AUDIT_TABLES}
        except duckdb.Error as error:  # the chain then reads the rows back, as it did before
            log.warning("batch=%d digests not computed beside the inserts: %s", self.batch_id, error)

    def result(self) -> GivenDigests:
        """The digests per table name, once computed; None when they could not be (then read them back)."""
        self._thread.join()
        return self._digests
