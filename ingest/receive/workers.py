"""``webhook.workers``: several webhook processes answering on one listening socket, their counters shared.

A POST costs the webhook's process CPU for HTTP, parsing and the producer's work, and one process runs on one core:
at 32 connections one process was busy a whole core, so on a machine with more cores, more processes answer more
(docs/scaling.md). The supervisor binds the socket, then forks the workers; each builds its own sink (a Kafka
producer: a producer's threads do not survive a fork) and serves the inherited socket, where the kernel hands each
new connection to one of them. A POST is answered by one worker, after its own sink's acknowledgement, as with one
process: the delivery contract does not change.

A worker that dies is started again in its place; its counters are a row of ``CounterTable`` in shared memory,
which the supervisor created, so /metrics (answered by whichever worker the connection reached) keeps counting from
where the dead worker left. A worker that fails within ``QUICK_EXIT_SECONDS`` of its start (exits with an error,
rather than being killed) is taken as a configuration the workers cannot run with (the sink refused to start, say):
the supervisor stops the others and exits with status 1 rather than starting it in a loop. SIGTERM or SIGINT to the
supervisor is passed to the workers as SIGTERM, and each finishes the POSTs in flight and closes its sink (Kafka's
producer flushed) before it ends.
The workers are in their own process group, so a terminal's Ctrl-C reaches them through the supervisor only once,
and they get SIGTERM from the kernel should the supervisor itself be killed.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import mmap
import os
import signal
import sys
import time
from collections.abc import Callable
from types import FrameType

log = logging.getLogger(__name__)

#: a worker ending sooner than this after its start is not started again: its configuration does not run
QUICK_EXIT_SECONDS = 5.0
_PR_SET_PDEATHSIG = 1


class CounterTable:
    """Counters in anonymous shared memory, one row of ``columns`` per worker: each process adds only to its own
    row (under its own lock), and any process reads the columns' sums. Created before the workers are forked, so
    every worker maps the same pages; a row of one table in one process is the single-process case."""

    def __init__(self, rows: int, columns: int) -> None:
        self.rows = rows
        self.columns = columns
        self._memory = mmap.mmap(-1, rows * columns * 8)  # MAP_SHARED | MAP_ANONYMOUS: kept across fork
        self._cells = memoryview(self._memory).cast("d")

    def row(self, index: int) -> memoryview[float]:
        return self._cells[index * self.columns : (index + 1) * self.columns]

    def totals(self) -> list[float]:
        cells = self._cells.tolist()
        return [sum(cells[column :: self.columns]) for column in range(self.columns)]


def supervise(workers: int, serve: Callable[[int], None]) -> int:
    """Fork ``workers`` processes running ``serve(index)`` and keep them running until SIGTERM or SIGINT; the exit
    status (0, or 1 when a worker could not run). ``serve`` must return when its worker is told to stop."""
    children: dict[int, tuple[int, float]] = {}  # pid: (index, started)
    stopping = False
    status = 0

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for pid in children:
            _signal(pid, signal.SIGTERM)

    def start(index: int) -> None:
        pid = os.fork()
        if pid == 0:
            os._exit(_worker(index, serve))
        children[pid] = (index, time.monotonic())

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for index in range(workers):
        start(index)
    log.info("webhook: %d workers (pids %s)", workers, " ".join(map(str, children)))
    while children:
        pid, wait_status = os.wait()  # a signal's handler runs, then the wait goes on (PEP 475)
        if pid not in children:
            continue
        index, started = children.pop(pid)
        if stopping:
            continue
        ended, quick = _ended(wait_status), time.monotonic() - started < QUICK_EXIT_SECONDS
        if quick and os.WIFEXITED(wait_status) and os.WEXITSTATUS(wait_status) != 0:
            log.error("webhook worker %d (pid %d) %s at its start: stopping the others", index, pid, ended)
            status = 1
            stop(signal.SIGTERM, None)
            continue
        log.error("webhook worker %d (pid %d) %s: starting it again", index, pid, ended)
        if quick:
            time.sleep(1)  # killed again and again (out of memory?): not in a tight loop
        start(index)
    return status


def _worker(index: int, serve: Callable[[int], None]) -> int:
    """A forked worker's life: its own process group, SIGTERM when the supervisor dies, then ``serve``."""
    try:
        os.setpgid(0, 0)
        if sys.platform == "linux":
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        serve(index)
        return 0
    except BaseException:  # noqa: BLE001 - a forked child must end by os._exit, never unwind into the supervisor
        log.exception("webhook worker %d failed", index)
        return 1
    finally:
        logging.shutdown()


def _signal(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _ended(wait_status: int) -> str:
    if os.WIFSIGNALED(wait_status):
        return f"was killed by {signal.Signals(os.WTERMSIG(wait_status)).name}"
    return f"exited with status {os.waitstatus_to_exitcode(wait_status)}"
