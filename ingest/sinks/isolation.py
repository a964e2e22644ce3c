"""Isolating what a batch cannot store: split it, retry the halves, dead-letter the rows that fail alone.

A batch is written in one transaction. Before this module, one row that broke something no check foresaw (a time
that overflowed a derive step or a streaming rule, a hook raising on one push) rolled the whole batch back on
every replay: the consumer exited, restarted and failed on the same batch for ever, and the webhook's
``--sink duckdb`` failed every request grouped with it. ``write_isolating`` bisects instead::

    write(batch) fails ▶ write(first half), write(second half) ▶ … ▶ one row that still fails alone
    ▶ a dead letter with the error and the row's origin (Kafka topic/partition/offset, webhook request/index)

Each part that succeeds commits on its own (its own batch id, so a replay stores it once), and the dead letters
commit last: the caller acknowledges upstream (Kafka offsets, the webhook's 200) only once every row of the batch
is stored or dead-lettered.

Not the rows' fault, so raised unchanged and never dead-lettered: the environment's errors (``TransientError``:
the store locked, a broker away; ``TerminalError``: the configuration; DuckDB's ``IOException``,
``FatalException`` and ``InterruptException``: the file or the process), and any failure to write the dead
letters themselves (a broken store fails that write too).

Cost: k rows that fail among n cost about 2·k·log2(n) more transactions, most of them small. Past
``MAX_ISOLATED`` rows failing alone in one batch, isolation stops and the batch's first error is raised as
before: that many is a bug or a broken store rather than bad input, and dead-lettering the stream would hide it.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import duckdb
import pyarrow as pa

from regaudit.errors import RegauditError
from regaudit.ingest.normalize import NormalizedBatch, dead_letter_id

log = logging.getLogger(__name__)

#: More rows than this failing alone in one batch is not bad input (see the module docstring).
MAX_ISOLATED = 32
#: How the reason of an isolated row's dead letter starts (the dashboard and the counters count by it).
ISOLATED_REASON = "store write failed on this record alone"
#: Errors of the environment, never of a row: raised as they are.
ENVIRONMENT_ERRORS: tuple[type[BaseException], ...] = (
    RegauditError,
    duckdb.IOException,
    duckdb.FatalException,
    duckdb.InterruptException,
)
#: what ``write`` returns for a committed transaction (``DuckDBSink``'s ``WriteResult``)
Result = TypeVar("Result")


@dataclass
class Isolation(Generic[Result]):
    """The outcome of a write: what each committed transaction returned, and how many rows were dead-lettered."""

    parts: list[Result] = field(default_factory=list)
    isolated: int = 0


class IsolationCounters:
    """Process-wide counts for ``/metrics`` (a Prometheus client keeps its default registry the same way): every
    sink of the process adds to them, and whoever serves metrics renders them. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.batches = 0
        self.records: Counter[str] = Counter()

    def add(self, errors: list[str]) -> None:
        with self._lock:
            self.batches += 1
            self.records.update(errors)

    def render(self) -> str:
        """Prometheus text: isolated batches, and isolated records by the error's type (a bounded set)."""
        with self._lock:
            lines = [
                "# HELP regaudit_isolated_batches_total Batches the store write bisected around failing records.",
                "# TYPE regaudit_isolated_batches_total counter",
                f"regaudit_isolated_batches_total {self.batches}",
                "# HELP regaudit_isolated_records_total Records that failed alone in the store write, dead-lettered.",
                "# TYPE regaudit_isolated_records_total counter",
                *(f'regaudit_isolated_records_total{{error="{e}"}} {n}' for e, n in sorted(self.records.items())),
            ]
        return "\n".join(lines) + "\n"


COUNTERS = IsolationCounters()


def rows(batch: NormalizedBatch) -> int:
    return sum(batch.counts)


def part(batch: NormalizedBatch, start: int, stop: int) -> NormalizedBatch:
    """Rows ``start`` to ``stop`` of the batch, counted over its events, then access lines, then dead letters."""
    tables = []
    offset = 0
    for table in (batch.events, batch.access, batch.dead_letters):
        lo = min(max(start - offset, 0), table.num_rows)
        hi = min(max(stop - offset, 0), table.num_rows)
        tables.append(table.slice(lo, hi - lo))
        offset += table.num_rows
    return NormalizedBatch(*tables)


def write_isolating(write: Callable[[NormalizedBatch], Result], batch: NormalizedBatch) -> Isolation[Result]:
    """Write the batch in one transaction or, when it fails on what a row did, in parts around the rows at fault.

    ``write`` commits one transaction or raises having rolled it back.
    """
    outcome: Isolation[Result] = Isolation()
    try:
        outcome.parts.append(write(batch))
        return outcome
    except ENVIRONMENT_ERRORS:
        raise
    except Exception as error:  # noqa: BLE001 - whatever a row did: bisected, its rows dead-lettered
        log.warning("batch of %d rows failed (%s): isolating the rows at fault", rows(batch), type(error).__name__)
        first = error
    dead: list[tuple[pa.Table, str]] = []
    _bisect(write, batch, first, outcome, dead)
    if dead:
        letters = pa.concat_tables([letter for letter, _ in dead])
        outcome.parts.append(write(NormalizedBatch(batch.events.slice(0, 0), batch.access.slice(0, 0), letters)))
        outcome.isolated = letters.num_rows
    COUNTERS.add([error for _, error in dead])
    return outcome


def _bisect(
    write: Callable[[NormalizedBatch], Result],
    failed: NormalizedBatch,
    error: Exception,
    outcome: Isolation[Result],
    dead: list[tuple[pa.Table, str]],
) -> None:
    """Store what can be stored of a part that failed with ``error``; collect the rows that fail alone."""
    size = rows(failed)
    if size == 1:
        if len(dead) >= MAX_ISOLATED:
            log.error("more than %d rows of one batch fail alone: not bad input, giving up", MAX_ISOLATED)
            raise error
        dead.append((dead_letter(failed, error), type(error).__name__))
        return
    for half in (part(failed, 0, size // 2), part(failed, size // 2, size)):
        try:
            outcome.parts.append(write(half))
        except ENVIRONMENT_ERRORS:
            raise
        except Exception as failure:  # noqa: BLE001 - narrowed down further
            _bisect(write, half, failure, outcome, dead)


def dead_letter(single: NormalizedBatch, error: Exception) -> pa.Table:
    """The dead-letter row of a one-row part that failed alone: its JSON or line, origin and receive time.

    Built with Arrow, never through Python values: the row may hold a value Python cannot represent.
    A dead letter that fails alone has nowhere left to go, so its error is raised.
    """
    if single.events.num_rows:
        table, source, content_type = single.events, "events", single.events.column("envelope_type")
    elif single.access.num_rows:
        table, source, content_type = single.access, "access", pa.chunked_array([pa.nulls(1, pa.string())])
    else:
        raise error
    origin = str(table.column("origin")[0].as_py())
    raw = (table.column("raw")[0].as_py() or "").encode()
    reason = f"{ISOLATED_REASON}: {type(error).__name__}: {_first_line(error)}"
    log.warning("isolated origin=%s error=%s", origin, type(error).__name__)
    return pa.table(
        {
            "dead_letter_id": [dead_letter_id(origin, raw)],
            "received_at": table.column("received_at"),
            "source": [source],
            "origin": [origin],
            "reason": [reason],
            "content_type": content_type,
            "raw": pa.array([raw], pa.binary()),
        }
    )


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0][:500] if text else "(no message)"
