"""One batch in flight: the loop ``regaudit consume`` and ``regaudit ship-logs`` share.

    read the next batch ▶ wait until the batch in flight was delivered, then commit it ▶ deliver this one

Delivery (a DuckDB transaction, or a sink's acknowledgement) runs on a second thread, one batch at a time, while
the loop reads the next batch (Kafka polls and normalizing, or a file's lines): the two overlap on two cores, and at
most two batches are in memory. ``commit`` (Kafka offsets, a file position) runs on the loop's own thread, in batch
order, and only after ``deliver`` returned for that batch: the delivery contract, nothing saved as done before the
store or sink acknowledged it, rests on that order. A crash before the commit re-delivers the batch, which the
idempotent sinks store once. A delivery that raises raises here, from the wait, and its batch is not committed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

Batch = TypeVar("Batch")
Ack = TypeVar("Ack")


def _never() -> bool:
    return False


def run_batches(
    read: Callable[[], Batch | None],
    deliver: Callable[[Batch], Ack],
    commit: Callable[[Batch, Ack], bool],
    stop: threading.Event,
    *,
    thread_name: str,
    max_idle_seconds: float | None = None,
    rest_seconds: float = 0.0,
    busy: Callable[[], bool] = _never,
) -> None:
    """Read, deliver and commit batches until ``stop`` is set, ``commit`` returns False, or nothing was read for
    ``max_idle_seconds`` (tests and one-shot imports; ``busy()`` true, e.g. a consumer still joining its group,
    does not count as idle). ``read`` returns None when there is no batch yet; the loop then rests ``rest_seconds``
    (or until stopped) before reading again. The batch in flight when the loop ends is committed first."""
    sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix=thread_name)
    in_flight: tuple[Future[Ack], Batch] | None = None
    idle_since = time.monotonic()
    try:
        while not stop.is_set():
            batch = read()
            if in_flight is not None:
                going_on = _commit_after(in_flight, commit)
                in_flight = None
                if not going_on:
                    return
            if batch is not None:
                in_flight = (sender.submit(deliver, batch), batch)
                idle_since = time.monotonic()
                continue
            if busy():
                idle_since = time.monotonic()
            elif max_idle_seconds is not None and time.monotonic() - idle_since > max_idle_seconds:
                break
            if rest_seconds > 0:
                stop.wait(_rest(rest_seconds, max_idle_seconds, idle_since))
        if in_flight is not None:
            _commit_after(in_flight, commit)
    finally:
        sender.shutdown(wait=True)


def _rest(rest_seconds: float, max_idle_seconds: float | None, idle_since: float) -> float:
    """The rest before the next read, cut to the idle time left: a poller resting poll_seconds (a minute) would
    otherwise outlast ``--until-idle`` by up to that rest. At least 10 ms, so the loop never spins."""
    if max_idle_seconds is None:
        return rest_seconds
    left = idle_since + max_idle_seconds - time.monotonic()
    return min(rest_seconds, max(0.01, left + 0.01))


def _commit_after(in_flight: tuple[Future[Ack], Batch], commit: Callable[[Batch, Ack], bool]) -> bool:
    """Wait for the batch's delivery (its failure raises here), then commit it; False ends the loop."""
    delivered, batch = in_flight
    return commit(batch, delivered.result())
