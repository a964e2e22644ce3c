"""The one-batch-in-flight loop of consume and ship-logs: a batch is committed in order, on the loop's thread, only
after its delivery returned; a failed delivery is never committed."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from regaudit.ingest.loop import run_batches


def reader(batches: list[int]) -> Callable[[], int | None]:
    pending = list(batches)
    return lambda: pending.pop(0) if pending else None


def test_batches_are_committed_in_order_on_the_loops_thread_after_their_delivery() -> None:
    steps: list[tuple[str, int]] = []
    commit_threads: set[str] = set()

    def deliver(batch: int) -> int:
        steps.append(("deliver", batch))
        return batch * 10

    def commit(batch: int, acknowledged: int) -> bool:
        assert acknowledged == batch * 10
        steps.append(("commit", batch))
        commit_threads.add(threading.current_thread().name)
        return True

    run_batches(reader([1, 2, 3]), deliver, commit, threading.Event(), thread_name="t", max_idle_seconds=0)
    assert [batch for step, batch in steps if step == "commit"] == [1, 2, 3]
    assert all(steps.index(("deliver", batch)) < steps.index(("commit", batch)) for batch in (1, 2, 3))
    assert commit_threads == {threading.current_thread().name}


def test_a_failed_delivery_raises_and_is_not_committed() -> None:
    committed: list[int] = []

    def deliver(batch: int) -> int:
        if batch == 2:
            raise OSError("disk full")
        return batch

    def commit(batch: int, acknowledged: int) -> bool:
        committed.append(batch)
        return True

    with pytest.raises(OSError, match="disk full"):
        run_batches(reader([1, 2, 3]), deliver, commit, threading.Event(), thread_name="t", max_idle_seconds=0)
    assert committed == [1]


def test_a_commit_that_says_stop_ends_the_loop() -> None:
    committed: list[int] = []

    def commit(batch: int, acknowledged: int) -> bool:
        committed.append(batch)
        return batch < 2

    run_batches(reader([1, 2, 3, 4]), lambda batch: batch, commit, threading.Event(), thread_name="t")
    assert committed == [1, 2]


def test_an_idle_loop_keeps_waiting_while_busy() -> None:
    joins = iter([True, True, False])
    reads: list[None] = []

    def read() -> None:
        reads.append(None)

    run_batches(read, lambda batch: batch, lambda batch, ack: True, threading.Event(), thread_name="t",
                max_idle_seconds=0, busy=lambda: next(joins))  # fmt: skip
    assert len(reads) == 3


def test_an_idle_loop_ends_after_max_idle_seconds_not_after_its_rest() -> None:
    """``--until-idle 1`` of a poller whose poll_seconds is 60 exits after about a second: the loop rests no longer
    than the idle time left (it waited out the whole rest first, so ``regaudit poll dockerhub --until-idle 3`` took
    a minute)."""
    started = time.monotonic()
    run_batches(reader([]), lambda batch: batch, lambda batch, ack: True, threading.Event(), thread_name="t",
                max_idle_seconds=0.2, rest_seconds=60.0)  # fmt: skip
    assert time.monotonic() - started < 5.0
