"""``regaudit import``: months of rotated access logs and notification dumps into the store on day one.

The files are read in time order (by each file's first record), cut into lines in large vectorized blocks
(``regaudit.ingest.receive.backfill``), normalized by the same SQL as every other batch and written through the
store's one batch entry point (``DuckDBSink.write``): the same tables, keys, derived tables (``image_activity``,
``tag_history``) and hash chain entries as live ingest, one transaction per batch. Access lines get the keys
``ship-logs`` gives them and events their (registry, event id), so an import that overlaps live shipping, or runs
twice, stores every line and event once.

The loop is the consumer's (``regaudit.ingest.loop``): the next batch is read and normalized while the one before
is written, on two cores. A file that breaks (truncated gzip) is reported and the others go on; its lines before
the break are stored and the bytes after its last newline become a dead letter.
"""

from __future__ import annotations

import ctypes
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from regaudit.ingest.loop import run_batches
from regaudit.ingest.normalize import NormalizedBatch, Normalizer
from regaudit.ingest.receive.backfill import (
    BLOCK_BYTES,
    MAX_LINE_BYTES,
    Block,
    FileKind,
    FileReader,
    Leftover,
    TruncatedFile,
    batch_table,
    dead_letter_table,
    guess_kind,
    head_of,
    incarnation_name,
    leftover_block,
    live_path,
    read_blocks,
)
from regaudit.ingest.receive.incarnation import HEAD_MAX_BYTES
from regaudit.ingest.sinks.duckdb import DuckDBSink, WriteResult
from regaudit.ingest.sources.dockerhub import usage

log = logging.getLogger(__name__)

#: glibc's mallopt parameters (malloc.h) and the size below which freed memory is kept for reuse
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_KEEP_FREED_BYTES = 1 << 30
#: lines per transaction, by what a file holds: large batches amortize each batch's fixed cost (derive, chain entry,
#: commit). Access lines at 250,000 rather than 100,000: regaudit import of 1M combined lines took 15.3-16.0 s CPU
#: against 18.1 (3 alternating pairs, load 2-4; derive's statements run 4 times instead of 10), for a peak resident
#: memory of 1.3-1.5 GiB against 0.9 (JSON lines: 1.7 against 1.0). Notification events stay at 100,000: a
#: payload is larger than a line, and an event costs more to keep.
DEFAULT_BATCH_LINES: dict[FileKind, int] = {"access": 250_000, "event": 100_000}
#: lines of a file's start normalized to find its first record time
_HEAD_LINES = 64
#: the raw records' kind of Docker Hub's usage export (CSV lines that each become up to 2e6 rows)
USAGE_KIND = "dockerhub-usage"


@dataclass(frozen=True)
class HistoryFile:
    """One file to import: what it holds, the log path its lines are keyed under, when it starts."""

    path: Path
    kind: FileKind
    log_path: str
    size_bytes: int
    first_at: datetime | None


@dataclass
class ImportSummary:
    """What an import did; ``duplicates`` are rows already stored (an overlap with live shipping, a rerun)."""

    files: int = 0
    lines: int = 0
    stored: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    #: plain files' unterminated last lines, left for ``ship-logs`` (the file may still be written)
    unfinished: int = 0
    seconds: float = 0.0
    failed: list[str] = field(default_factory=list)


#: progress callback: (file bytes read so far, file bytes in all, summary so far)
Progress = Callable[[int, int, ImportSummary], None]


@dataclass(frozen=True)
class _Batch:
    normalized: NormalizedBatch
    lines: int
    bytes_done: int


class Importer:
    """Imports files into the store through ``sink``; ``host`` and ``registry`` as ``ship-logs`` and the webhook."""

    def __init__(
        self,
        sink: DuckDBSink,
        normalizer: Normalizer,
        host: str,
        registry: str,
        batch_lines: int | None = None,
        registry_kind: str | None = None,
    ) -> None:
        """``batch_lines``: lines per transaction (None: ``DEFAULT_BATCH_LINES`` of each file's kind).
        ``registry_kind`` marks every event line as that source's (``acr``: a storage account's resource log
        blobs; ``dockerhub-usage``: Hub's usage CSV, whose batches are cut by the rows each line becomes), as the
        header a receiver sets; None: Distribution's notification dumps."""
        self.sink = sink
        self.normalizer = normalizer
        self.host = host
        self.registry = registry
        self.batch_lines = batch_lines
        self.registry_kind = registry_kind
        self._done_bytes = 0

    def plan(
        self, paths: Sequence[Path], log_path: str | None = None, kind: FileKind | None = None
    ) -> list[HistoryFile]:
        """The files in time order: by first record, then oldest rotation first (``.3.gz`` before ``.1``)."""
        files = [
            HistoryFile(
                path,
                file_kind := kind or guess_kind(path),
                log_path or live_path(path),
                path.stat().st_size,
                self._first_at(path, file_kind),
            )
            for path in paths
        ]
        return sorted(files, key=_time_order)

    def _first_at(self, path: Path, kind: FileKind) -> datetime | None:
        """The earliest record time among the file's first lines (None when none of them parses)."""
        head = head_of(path, HEAD_MAX_BYTES * _HEAD_LINES).split(b"\n")[:_HEAD_LINES]
        if self.registry_kind == USAGE_KIND:  # its lines are read alone: normalized, one may be a million rows
            return usage.first_hour(head)
        block = next((b for b in read_blocks(iter([b"\n".join(head) + b"\n"])) if isinstance(b, Block)), None)
        if block is None:
            return None
        rows = self.normalizer.normalize_table(self._batch_table(block, kind, "head:"))
        times = rows.access.column("request_at") if kind == "access" else rows.events.column("event_at")
        first = pc.min(times).as_py() if len(times) else None
        return first if isinstance(first, datetime) else None

    def run(self, files: Sequence[HistoryFile], progress: Progress | None = None) -> ImportSummary:
        """Import every file; a file that breaks is named in ``failed`` and the others go on."""
        summary = ImportSummary(files=len(files))
        total = sum(f.size_bytes for f in files)
        started = time.perf_counter()
        batches = self._batches(files, summary)

        def commit(batch: _Batch, result: WriteResult) -> bool:
            _count(summary, batch, result)
            if progress is not None:
                progress(batch.bytes_done, total, summary)
            return True

        try:  # the next batch is in hand while one is written: the file stays open for the sink's hold
            run_batches(
                lambda: next(batches, None),
                lambda batch: self.sink.write(batch.normalized, "import", more_coming=True),
                commit,
                threading.Event(),
                thread_name="import-write",
                max_idle_seconds=0.0,
            )
            while self.sink.drain() is not None:  # the time ranges a scattered batch queued (derive_pending)
                pass
        finally:
            self.sink.release()
        summary.seconds = time.perf_counter() - started
        return summary

    def _batches(self, files: Sequence[HistoryFile], summary: ImportSummary) -> Iterator[_Batch]:
        """Normalized batches of every file in turn (on the loop's thread, while the last one is written)."""
        for history in files:
            reader = FileReader(history.path, BLOCK_BYTES)  # a chunk is a block: not joined from parts
            try:
                for table in self._tables(history, reader, summary):
                    lines = _usage_lines(table) if self.registry_kind == USAGE_KIND else table.num_rows
                    normalized = self.normalizer.with_seal_parts(self.normalizer.normalize_table(table))
                    yield _Batch(normalized, lines, self._done_bytes + reader.consumed)
            except TruncatedFile as error:
                log.error("%s", error)
                summary.failed.append(str(error))
            self._done_bytes += history.size_bytes

    def _tables(self, history: HistoryFile, reader: FileReader, summary: ImportSummary) -> Iterator[pa.Table]:
        """Raw-record tables of at most ``batch_lines`` rows; a truncated file's leftover bytes as a dead letter."""
        prefix = f"{self.host}:{history.log_path}:{incarnation_name(history.path)}:"
        batch_lines = self.batch_lines or DEFAULT_BATCH_LINES[history.kind]
        pending = _Pending(batch_lines)
        for block in read_blocks(reader.chunks()):
            if isinstance(block, Leftover):
                if block.overlong or block.truncated:
                    yield from pending.flush()
                    reason = _OVERLONG_REASON if block.overlong else _LEFTOVER_REASON
                    yield dead_letter_table(block.value, f"file:{prefix}{block.start}", reason)
                    continue
                if not reader.compressed:  # a plain file may still be written: its last line is ship-logs' job
                    log.warning("%s: unterminated last line at byte %d left for ship-logs", history.path, block.start)
                    summary.unfinished += 1
                    continue
                block = leftover_block(block)  # a finished (compressed) file's last line, unterminated
            table = self._batch_table(block, history.kind, prefix)
            if self.registry_kind == USAGE_KIND:
                yield from _weighted_slices(table, batch_lines)
                continue
            yield from pending.add(table)
        yield from pending.flush()

    def _batch_table(self, block: Block, kind: FileKind, prefix: str) -> pa.Table:
        table = batch_table(block, kind, prefix, self.registry)
        if self.registry_kind is None or kind != "event":
            return table
        index = table.schema.get_field_index("registry_kind")
        kinds = pa.repeat(pa.scalar(self.registry_kind, pa.string()), table.num_rows)
        return table.set_column(index, "registry_kind", kinds)


_LEFTOVER_REASON = "bytes after the last complete line of a compressed file that ends early"
_OVERLONG_REASON = f"a line longer than {MAX_LINE_BYTES} bytes: its first {MAX_LINE_BYTES} kept, the rest skipped"


class _Pending:
    """Lines of consecutive blocks gathered into batches of exactly ``batch_lines`` (the last one fewer): a block
    holds 32 MiB of lines, only 39,000 JSON access lines or events, and each batch has a fixed cost (its
    transaction, derive statements, chain entry and a checkpoint of the store) that a full batch spreads."""

    def __init__(self, batch_lines: int) -> None:
        self.batch_lines = batch_lines
        self.tables: list[pa.Table] = []
        self.rows = 0

    def add(self, table: pa.Table) -> Iterator[pa.Table]:
        self.tables.append(table)
        self.rows += table.num_rows
        if self.rows < self.batch_lines:
            return
        joined = pa.concat_tables(self.tables)
        whole = joined.num_rows - joined.num_rows % self.batch_lines
        for start in range(0, whole, self.batch_lines):
            yield joined.slice(start, self.batch_lines)
        rest = joined.slice(whole)
        self.tables, self.rows = ([rest] if rest.num_rows else []), rest.num_rows

    def flush(self) -> Iterator[pa.Table]:
        if self.rows:
            yield pa.concat_tables(self.tables)
        self.tables, self.rows = [], 0


def reuse_freed_memory() -> None:
    """Have glibc's malloc keep the blocks the import frees and hand them out again, for this process.

    By default a block over 128 KiB-32 MiB is mapped from the kernel for each allocation and unmapped when freed,
    so every 32 MiB block of a file, its copies and its line arrays met fresh pages, each zeroed by the kernel on
    first touch: cutting 1,000,000 notification events took 5.6 s CPU (a third of it system time), 1.0 s with
    the blocks reused. The cost is resident memory kept after a peak, which an import's one-shot process gives
    back at exit. Arrow's arrays of the blocks are allocated through the same malloc (its own pool, mimalloc,
    gave its freed pages back too). Elsewhere than glibc (no ``mallopt``) only the pool changes."""
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_MMAP_THRESHOLD, _KEEP_FREED_BYTES)
    mallopt(_M_TRIM_THRESHOLD, _KEEP_FREED_BYTES)


def _weighted_slices(table: pa.Table, budget: int) -> Iterator[pa.Table]:
    """Slices of usage lines that become at most ``budget`` rows together, a line of more rows in parts of
    ``budget`` rows (its record repeated, keyed by the part): a batch's memory follows its rows, not its lines."""
    start = held = 0
    for index, value in enumerate(table.column("value").to_pylist()):
        rows = usage.weight(value or b"")
        if held and held + rows > budget:
            yield table.slice(start, index - start)
            start, held = index, 0
        if rows > budget:  # one line of more rows than a batch holds: a record per part of its rows
            key = table.schema.get_field_index("key")
            for first in range(0, rows, budget):
                part = pa.array([usage.part_key(first, min(first + budget, rows))], pa.string())
                yield table.slice(index, 1).set_column(key, "key", part)
            start = index + 1
            continue
        held += rows
    if start < table.num_rows:
        yield table.slice(start)


def _usage_lines(table: pa.Table) -> int:
    """The usage lines a table holds: a line cut into parts counts once, with its first part."""
    first = f"{usage.PART_PREFIX}0:"
    return sum(1 for key in table.column("key").to_pylist() if key is None or key.startswith(first))


def _time_order(history: HistoryFile) -> tuple[bool, float, int, str]:
    rotation = re.search(r"\.(\d+)(\.gz)?$", history.path.name)
    return (
        history.first_at is None,
        history.first_at.timestamp() if history.first_at else 0.0,
        -int(rotation.group(1)) if rotation else 0,
        str(history.path),
    )


def _count(summary: ImportSummary, batch: _Batch, result: WriteResult) -> None:
    events, access, dead = batch.normalized.counts
    stored = result.events_count + result.access_count
    summary.lines += batch.lines
    summary.stored += stored
    summary.dead_letters += result.dead_letters_count
    summary.duplicates += (events + access - stored) + max(0, dead - result.dead_letters_count)
