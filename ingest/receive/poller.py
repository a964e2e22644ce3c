"""The pull transport: poll a registry's audit API page by page and save a cursor after each delivered page.

The seam every API poller shares (Harbor's audit log, Quay's logs API, later Docker Hub's and GitHub's audit APIs).
A source implements ``PageSource`` and knows nothing of sinks or files; the ``Poller`` ties it to the receivers'
``RecordSink`` (Kafka, or the DuckDB store) and a ``CursorFile``:

    cursor = CursorFile(path).load()         # None on the first run
    page = source.fetch(cursor)              # the records after the cursor, and the cursor after them
    sink.deliver(page.records)               # durable downstream (Kafka acks=all, or the DuckDB commit)
    CursorFile(path).save(page.cursor)       # only now: a crash before re-fetches the page

``PageSource.fetch(cursor)`` returns a ``Page`` or None when nothing is new. A cursor is a small JSON object of the
source's choosing (a time and an id, a page token); the poller only stores it. ``fetch`` raises ``TransientError``
while the API is away (5xx, timeouts, refused connections: the poller backs off and fetches the same cursor again; a
one-shot run, ``--until-idle``, is not idle meanwhile and ends with exit 75 once the API failed for longer than its
idle time) and ``TerminalError`` when retrying cannot help (wrong credentials: 401/403; the command exits 2). A page
the source cannot read (not JSON, not a list) is not an exception either: the source returns it as a ``deadletter``
record with its raw bytes and the reason and the cursor unchanged, and the poller rests a poll interval before
fetching again, so the loop goes on and the dead letter (keyed by its content) is stored once.

Delivery contract (DESIGN.md section 4): nothing accepted is lost, because the cursor moves only after the sink
acknowledged the page; nothing is stored twice, because a page fetched again after a crash, or an overlap the
source chooses to re-read, carries the same event ids and the store inserts by (registry, event id). Records are
``kind="event"`` with ``registry`` (the instance) and ``registry_kind`` set, so the consumer picks the source's
normalizer (``regaudit.ingest.normalize.SOURCES``).

The loop is ``regaudit.ingest.loop.run_batches`` (``ship-logs`` and ``consume`` share it): a page is fetched while
the one before is delivered, and cursors are saved in page order. The cursor file is written like ``ship-logs``'
position file: a temporary file, fsync, rename.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from regaudit.backoff import Backoff, Outage, no_jitter
from regaudit.errors import TerminalError, TransientError
from regaudit.ingest.loop import run_batches
from regaudit.ingest.records import RawRecord
from regaudit.ingest.sinks import RecordSink, RecordsTooLarge

log = logging.getLogger(__name__)

#: a source's cursor: a small JSON object (str keys, JSON values)
Cursor = dict[str, Any]
#: what is kept of a record the sink refuses for its size
CLIPPED_BYTES = 64 * 1024
CURSOR_VERSION = 1
#: a page nested deeper than this is refused whole, as one that is no JSON is: audit rows nest a few levels, and
#: orjson reads 1024 levels but writes only 254, so re-encoding a deeper row raised TypeError out of ``fetch``
MAX_PAGE_DEPTH = 64


@dataclass(frozen=True)
class Page:
    """One fetched page: (partition key, record) pairs for the sink, and the cursor after them.

    ``cursor`` equal to the cursor fetched with means no progress (a page the source dead-lettered): the poller
    delivers the records, keeps the cursor, and rests before fetching again."""

    records: Sequence[tuple[str | None, RawRecord]]
    cursor: Cursor
    fetched_with: Cursor | None = field(default=None, compare=False)


class PageSource(Protocol):
    """An audit API read page by page from a cursor (see the module docstring for the contract)."""

    def fetch(self, cursor: Cursor | None) -> Page | None:
        """The records after ``cursor`` and the cursor after them; None when nothing is new."""

    def close(self) -> None:
        """Release connections."""


class CursorFile:
    """The saved cursor of one poller: ``{"version": 1, "cursor": {...}}`` in a JSON file, replaced atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> Cursor | None:
        """The saved cursor, or None before the first delivered page; a damaged file is a terminal error."""
        try:
            document = json.loads(self.path.read_text("utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as error:
            raise TerminalError(f"cursor file {self.path} unreadable ({error}); move it away to start over") from error
        if not isinstance(document, dict) or document.get("version") != CURSOR_VERSION:
            raise TerminalError(f"cursor file {self.path} is not a version {CURSOR_VERSION} cursor")
        cursor = document.get("cursor")
        if not isinstance(cursor, dict):
            raise TerminalError(f"cursor file {self.path} is not a version {CURSOR_VERSION} cursor")
        return cursor

    def save(self, cursor: Cursor) -> None:
        """Write to a temporary file, fsync, rename: a crash leaves the old cursor or the new one, never half."""
        temporary = self.path.with_suffix(self.path.suffix + ".tmp")
        with temporary.open("w", encoding="utf-8") as handle:
            json.dump({"version": CURSOR_VERSION, "cursor": cursor}, handle, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(self.path)


class Poller:
    """Fetches pages from ``source``, delivers each to ``sink``, then saves its cursor in ``cursor_file``."""

    def __init__(self, source: PageSource, sink: RecordSink, cursor_file: CursorFile, poll_seconds: float) -> None:
        self.source = source
        self.sink = sink
        self.cursor_file = cursor_file
        self.poll_seconds = poll_seconds
        self.delivered = 0
        self.pages = 0
        self._cursor = cursor_file.load()  # where the next fetch starts: ahead of the saved one by a page at most
        self._rest_seconds = 0.0
        self._fetch_backoff = Backoff(poll_seconds, 300.0, jitter=no_jitter)
        self._failing = Outage()  # the fetches failed in a row
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def run(self, max_idle_seconds: float | None = None) -> int:
        """Poll until stopped, or until nothing was new for ``max_idle_seconds``; returns the records delivered.

        A failed fetch is not "nothing new": while the API is away the run is not idle, so a one-shot run does not
        end as caught up on a 503. It ends when the API has failed for longer than ``max_idle_seconds`` and at
        least ``GIVE_UP_FAILURES`` fetches in a row, by raising the last ``TransientError`` (the command exits 75)
        after the page in flight was delivered and its cursor saved."""
        try:
            run_batches(
                self._read,
                self._deliver,
                self._commit,
                self._stop,
                thread_name="poll-deliver",
                max_idle_seconds=max_idle_seconds,
                rest_seconds=self.poll_seconds,
                busy=lambda: self._failing.ongoing and not self._failing.gives_up(max_idle_seconds),
            )
        finally:
            self.source.close()
        failing = self._failing
        if failing.ongoing and not self._stop.is_set():
            raise TransientError(
                f"the API failed {failing.count} fetches in a row over {failing.lasted():.1f}s, the last: "
                f"{failing.last}; the cursor stays after the last delivered page, run again"
            ) from failing.last
        return self.delivered

    def _read(self) -> Page | None:
        """The next page after the cursor read so far; None when nothing is new or the API is away."""
        if self._rest_seconds > 0:
            self._stop.wait(self._rest_seconds)
            self._rest_seconds = 0.0
        try:
            page = self.source.fetch(self._cursor)
        except TransientError as error:
            self._rest_seconds = max(0.0, self._fetch_backoff.failed() - self.poll_seconds)
            self._failing.failed(error)
            log.warning("fetch failed, retrying: %s", error)
            return None
        self._fetch_backoff.succeeded()
        self._failing.ended()
        if page is None:
            return None
        if page.cursor == self._cursor:
            self._rest_seconds = self.poll_seconds  # a page without progress (dead-lettered): do not spin on it
        page = replace(page, fetched_with=self._cursor)
        self._cursor = page.cursor
        return page

    def _deliver(self, page: Page) -> bool:
        """On the delivery thread: hand the page to the sink, retrying while it is down; False if stopped first."""
        backoff = Backoff(self.poll_seconds, 30.0, jitter=no_jitter)
        records = list(page.records)
        while not self._stop.is_set():
            try:
                _deliver_or_clip(self.sink, records)
                return True
            except TransientError as error:
                rest = backoff.failed()
                log.warning("deliver failed, retrying in %.1fs: %s", rest, error)
                self._stop.wait(rest)
        return False  # stopped while the sink was down: cursor not saved, the page is fetched again

    def _commit(self, page: Page, delivered: bool) -> bool:
        """After the page's delivery, save the cursor after it; False (stopped first) ends the loop."""
        if not delivered:
            return False
        if page.cursor != page.fetched_with:
            self.cursor_file.save(page.cursor)
        self.delivered += len(page.records)
        self.pages += 1
        log.info("polled=%d total=%d pages=%d", len(page.records), self.delivered, self.pages)
        return True


def _deliver_or_clip(sink: RecordSink, records: list[tuple[str | None, RawRecord]]) -> None:
    """Deliver; records the sink refuses for their size become clipped dead letters instead of stopping the loop."""
    try:
        sink.deliver(records)
    except RecordsTooLarge as refused:
        log.warning("%s: kept as clipped dead letters", refused)
        sink.deliver([(None, clipped(records[index][1])) for index in refused.indexes])


def clipped(record: RawRecord) -> RawRecord:
    """A dead letter with the first ``CLIPPED_BYTES`` of a record, its size and digest in the reason."""
    digest = hashlib.sha256(record.value).hexdigest()
    reason = (
        f"{record.kind} of {len(record.value)} bytes refused by the sink as too large: first {CLIPPED_BYTES} "
        f"bytes kept, sha256 {digest}"
    )
    return RawRecord(
        "deadletter", record.value[:CLIPPED_BYTES], record.origin, record.received_at, record.registry,
        record.key or digest, record.content_type, reason, record.registry_kind,
    )  # fmt: skip
