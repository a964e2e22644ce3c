"""The store file held open across consecutive batches while a writer works off a backlog, and given back often.

Opening the file (0.1 s CPU) and closing it, which checkpoints what the batch wrote (0.4 s at 1M stored events,
1.1 s at 10M, growing with the tables' indexes), cost more than a batch's inserts. A writer that has the next
batch in hand keeps the connection instead, so the checkpoint is paid once per hold rather than once per batch.
The store's concurrency rule (DESIGN.md section 3: readers and batch jobs get the file between batches) holds
by these bounds:

- the file is given back after every batch that did not fill up (the writer has caught up, the stream is quiet),
  after the batch that reaches ``hold_seconds`` since it was opened, and after the batch in hand when another
  process waits for the file: ``store._open`` touches ``<store>.waiting`` while it retries (``ask_for_turn``),
  so a reader waits one batch, as before; one that cannot write beside the store waits out the hold;
- after giving it back under a backlog, the writer waits ``RELEASE_PAUSE_SECONDS`` before taking it again, longer
  than a waiting process's backoff between attempts (``store._open``: at most 20 ms), so the process gets it;
- ``release()`` gives it back at once: the consumer calls it when a poll brought nothing, and whatever else writes
  the store from the same process (the alert dispatcher) through the consumer's store turn;
- ``expire()`` gives it back once the hold is over, for a timer to call: a poll that hangs (a broker gone, the
  group rebalancing) must not keep the file past the hold.

Nothing of the delivery contract moves: every batch is still its own transaction, committed before its offsets
or position are; a commit lands in the write-ahead log, which DuckDB replays after a crash, so a file held open
when the process is killed loses no committed batch (tests/ingest's kill tests).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Protocol

import duckdb

from regaudit.ingest import store

#: the pause after giving the file back under a backlog (see the module docstring)
RELEASE_PAUSE_SECONDS = 0.05
#: DuckDB checkpoints on its own at COMMIT once the write-ahead log is this large (its default 16 MiB, about
#: four batches of 25,000 events); a hold gives the file back before, and the close checkpoints once
CHECKPOINT_THRESHOLD = "256MiB"


class Releasable(Protocol):
    def release(self) -> None: ...


class HeldWriter:
    """One read-write connection to the store, opened on demand and kept until the hold ends.

    Each transaction gets a session of its own on it (a cursor, ``USE store``), closed after it: what a batch's
    statements and hooks leave in their session (TEMP tables and views, the detections' macros, the time zone) is
    gone before the next, as it was when every batch opened the file anew.
    """

    def __init__(self, path: Path, lock_timeout: float, hold_seconds: float = 0.0) -> None:
        self.path = path
        self.lock_timeout = lock_timeout
        self.hold_seconds = hold_seconds
        self._con: duckdb.DuckDBPyConnection | None = None
        self._session: duckdb.DuckDBPyConnection | None = None
        self._opened_at = 0.0
        self._opened_wall = 0.0
        self._released_at = 0.0

    def connection(self) -> duckdb.DuckDBPyConnection:
        """A session on the held file for one transaction; the file is opened (after the pause if one is due)
        when it is not held."""
        if self._session is None:
            session = self._open().cursor()
            try:
                session.execute("USE store")
            except BaseException:
                session.close()
                raise
            self._session = session
        return self._session

    def _open(self) -> duckdb.DuckDBPyConnection:
        """The held connection, or a new one with the schema brought up to date."""
        if self._con is not None:
            return self._con
        pause = self._released_at + RELEASE_PAUSE_SECONDS - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        con = store.open_writer(self.path, self.lock_timeout)
        # One DuckDB thread: the ingest processes read the next batch on another thread meanwhile, and a
        # second DuckDB thread measured 5% faster alone but 200 MiB more resident at 1M stored events.
        con.execute("SET threads = 1")
        if self.hold_seconds > 0:
            con.execute(f"SET checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'")
        self._con, self._opened_at, self._opened_wall = con, time.monotonic(), time.time()
        return con

    def done(self, more_coming: bool) -> None:
        """After a batch: its session ends; the file is kept while more is coming and the hold lasts."""
        self.end_session()
        if not more_coming or time.monotonic() - self._opened_at >= self.hold_seconds or self._awaited():
            self.release(pause=more_coming)

    def _awaited(self) -> bool:
        """Whether another process asked for the file since it was opened (``store.ask_for_turn``)."""
        try:
            return store.waiting_marker(self.path).stat().st_mtime >= self._opened_wall
        except OSError:
            return False

    def held_for(self) -> float | None:
        """Seconds since the held file was opened; None when it is not held."""
        return None if self._con is None else time.monotonic() - self._opened_at

    def expire(self) -> None:
        """Give the file back if it has been held ``hold_seconds`` (a timer's call, between batches)."""
        held = self.held_for()
        if held is not None and held >= self.hold_seconds:
            self.release(pause=True)

    def release(self, pause: bool = False) -> None:
        """Close the connection (DuckDB checkpoints the batches written); with ``pause``, wait before the next."""
        self.end_session()
        con, self._con = self._con, None
        if con is None:
            return
        con.close()
        self._released_at = time.monotonic() if pause else 0.0

    def end_session(self) -> None:
        """Close the batch's session (each transaction of a batch written in parts has one)."""
        session, self._session = self._session, None
        if session is not None:
            session.close()


class StoreTurn:
    """The store lock of a process whose writer may hold the file: taking it gives the held file back first.

    The consumer's writer thread takes ``lock`` itself; whatever else in the process writes the store (the alert
    dispatcher) enters the turn, so it finds the file free instead of retrying against its own process's handle.
    """

    def __init__(self, sink: Releasable) -> None:
        self.lock = threading.Lock()
        self._sink = sink

    def __enter__(self) -> StoreTurn:
        self.lock.acquire()
        try:
            self._sink.release()
        except BaseException:
            self.lock.release()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        self.lock.release()
