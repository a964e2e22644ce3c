"""A batch's hash-chain digests computed beside its inserts, on a thread of their own.

Sealing a batch (``regaudit.evidence.chain``) read its rows back from the transaction and built each row's
canonical text and SHA-256 on the writer's thread: about a fifth of its CPU (writer alone, 100,000-event batches:
2.2-2.5 s CPU a batch, 0.5 s less with the digests beside). The rows are the Arrow tables the sink inserts, plus
the batch id, which the writer knows before its first INSERT; so the digests are computed from those tables
(``canonical.rows_digest``) on another thread, on an in-memory DuckDB connection, while the writer's own
connection inserts and derives. The chain hook takes them (``canonical.given_digests``) if and only if every row
of the batch was stored as given: the plain INSERTs all passed. A replay's ON CONFLICT may skip rows, and its
digests are read back as before; so are a small batch's (``DIGESTS_BESIDE_ROWS``: a webhook's few events), for
which the in-memory connection costs more than reading back. ``regaudit verify`` recomputes every digest from the
stored rows, so a digest that differed would show there; tests/ingest/test_batch_digests.py holds the two equal.
"""

from __future__ import annotations

import logging
import threading

import duckdb

from regaudit.evidence.canonical import AUDIT_TABLES, GivenDigests, rows_digest
from regaudit.ingest.normalize import NormalizedBatch

log = logging.getLogger(__name__)


class BatchDigests:
    """The digests of one batch's rows per audit table, being computed on a thread started at construction."""

    def __init__(self, batch: NormalizedBatch, batch_id: int) -> None:
        self.batch_id = batch_id
        self._rows = {
            "registry_events": batch.events,
            "access_log": batch.access,
            "dead_letters": batch.dead_letters,
        }
        self._digests: GivenDigests = None
        self._thread = threading.Thread(target=self._compute, name="regaudit-digests", daemon=True)
        self._thread.start()

    def _compute(self) -> None:
        try:
            con = duckdb.connect(":memory:")
        except duckdb.Error:
            log.warning("batch=%d digests not computed beside the inserts: no in-memory connection", self.batch_id)
            return
        try:
            con.execute("SET threads = 1")  # the writer's connection and the reading thread have the cores
            self._digests = {t.name: rows_digest(con, t, self._rows[t.name], self.batch_id) for t in AUDIT_TABLES}
        except duckdb.Error as error:  # the chain then reads the rows back, as it did before
            log.warning("batch=%d digests not computed beside the inserts: %s", self.batch_id, error)
        finally:
            con.close()

    def result(self) -> GivenDigests:
        """The digests per table name, once computed; None when they could not be (then read them back)."""
        self._thread.join()
        return self._digests
