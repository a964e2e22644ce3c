"""The pull transport's seam: the cursor moves only after the sink acknowledged, a restart resumes from it."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime

import pytest

from regaudit.errors import BrokerUnavailable, TerminalError, TransientError
from regaudit.ingest.receive.poller import CursorFile, Page, Poller
from regaudit.ingest.records import RawRecord
from regaudit.ingest.sinks.memory import MemorySink

AT = datetime(2026, 1, 1, tzinfo=UTC)


class ListSource:
    """Serves ``items`` two at a time after the cursor's index; ``fail`` raises ``failures`` times first, or
    from the ``fail_after``-th fetch on."""

    def __init__(
        self, items: list[bytes], fail: Exception | None = None, failures: int = 1, fail_after: int | None = None
    ) -> None:
        self.items = items
        self.fail = fail
        self.failures = failures
        self.fail_after = fail_after
        self.fetched: list[object] = []

    def fetch(self, cursor):
        self.fetched.append(cursor)
        if self.fail is not None and self.fail_after is not None and len(self.fetched) > self.fail_after:
            raise self.fail
        if self.fail is not None and self.fail_after is None and self.failures > 0:
            self.failures -= 1
            raise self.fail
        start = 0 if cursor is None else cursor["next"]
        chunk = self.items[start : start + 2]
        if not chunk:
            return None
        records = [
            (None, RawRecord("event", item, f"test:{start + i}", AT, "one", registry_kind="test"))
            for i, item in enumerate(chunk)
        ]
        return Page(records, {"next": start + len(chunk)})

    def close(self):
        pass


def poll(source, sink, cursor_path):
    poller = Poller(source, sink, CursorFile(cursor_path), poll_seconds=0.01)
    poller.run(max_idle_seconds=0.05)
    return poller


def test_poller_saves_the_cursor_after_delivery_and_resumes_from_it(tmp_path):
    sink = MemorySink()
    cursor = tmp_path / "cursor.json"
    source = ListSource([b"a", b"b", b"c"])
    assert poll(source, sink, cursor).delivered == 3
    assert CursorFile(cursor).load() == {"next": 3}
    source.items += [b"d"]
    poll(source, sink, cursor)
    assert [record.value for _, record in sink.delivered] == [b"a", b"b", b"c", b"d"]


class DownOnceSink(MemorySink):
    """Down for its first delivery; records what the cursor file held at each delivery."""

    def __init__(self, cursor_path):
        super().__init__()
        self.cursor_path = cursor_path
        self.cursors_seen = []

    def deliver(self, records):
        self.cursors_seen.append(CursorFile(self.cursor_path).load())
        if len(self.cursors_seen) == 1:
            raise BrokerUnavailable("down")
        super().deliver(records)


def test_poller_keeps_the_cursor_while_the_sink_is_down(tmp_path):
    cursor = tmp_path / "cursor.json"
    sink = DownOnceSink(cursor)
    poll(ListSource([b"a", b"b", b"c"]), sink, cursor)
    assert sink.cursors_seen[:2] == [None, None]  # refused, then retried with the cursor not yet moved
    assert [record.value for _, record in sink.delivered] == [b"a", b"b", b"c"]
    assert CursorFile(cursor).load() == {"next": 3}


def test_poller_retries_a_transient_fetch_failure(tmp_path):
    sink = MemorySink()
    source = ListSource([b"a"], fail=TransientError("503 from the API"))
    poll(source, sink, tmp_path / "cursor.json")
    assert [record.value for _, record in sink.delivered] == [b"a"]


def test_a_failed_fetch_is_not_idle_however_long_the_retry_waits(tmp_path, monkeypatch):
    sink = MemorySink()
    source = ListSource([b"a"], fail=TransientError("503 from the API"), failures=2)
    clock = itertools.count(0.0, 10.0)  # every look at the clock is 10 s later: far past the 0.05 s idle limit
    monkeypatch.setattr(time, "monotonic", lambda: next(clock))
    poll(source, sink, tmp_path / "cursor.json")
    assert [record.value for _, record in sink.delivered] == [b"a"]
    assert len(source.fetched) == 4  # two failures, the page, then nothing new


def test_a_one_shot_run_ends_with_the_api_error_once_the_api_stays_away(tmp_path):
    sink = MemorySink()
    cursor = tmp_path / "cursor.json"
    source = ListSource([b"a", b"b", b"c"], fail=TransientError("503 from the API"), fail_after=1)
    with pytest.raises(TransientError, match=r"failed [3-9]\d* fetches in a row .* the last: 503 from the API"):
        poll(source, sink, cursor)
    assert len(source.fetched) >= 4
    assert [record.value for _, record in sink.delivered] == [b"a", b"b"]  # the page before the failures is kept
    assert CursorFile(cursor).load() == {"next": 2}  # and its cursor saved, so the next run starts after it


def test_poller_stops_on_a_terminal_fetch_error(tmp_path):
    source = ListSource([b"a"], fail=TerminalError("401: wrong credentials"))
    with pytest.raises(TerminalError, match="401"):
        poll(source, MemorySink(), tmp_path / "cursor.json")


def test_cursor_file_refuses_a_damaged_file(tmp_path):
    path = tmp_path / "cursor.json"
    path.write_text("[1, 2]")
    with pytest.raises(TerminalError, match="not a version 1 cursor"):
        CursorFile(path).load()
