"""Files of history (rotated access logs, notification dumps) read as batches of raw records, for ``regaudit import``.

A file is read in large blocks and cut into lines with numpy and Arrow (``np.flatnonzero`` over the block,
zero-copy offsets), never line by line in Python: a batch comes out as the columns the normalizer reads
(``regaudit.ingest.normalize.BATCH_SCHEMA``), and the store's normal batch path takes it from there. Not DuckDB's
``read_csv``/``read_text``: they give neither a line's byte offset (its key, below) nor the bytes of a line that
is not UTF-8 (a dead letter keeps them), and a gzip file is one stream that either reader inflates on one thread.
Cutting lines costs about 2 µs a line here, a tenth of what the normalize and store steps after it cost.

Keys are the ones ``ship-logs`` gives the same line (``tail.py``): ``<host>:<path>:<incarnation>:<offset>``,
where ``path`` is the log ``ship-logs`` follows (``access.log`` for ``access.log.1``), the incarnation is named
from the file's inode and first line (``incarnation.py``) and the offset is the line's first byte. A rename keeps
the inode, so ``access.log.1`` imported after ``ship-logs`` read it as ``access.log`` stores each line once. A
compressed file is a new inode: its lines are keyed by the ``.gz`` file itself, which logrotate renames but
never rewrites, so importing it again stores nothing twice.

What ``ship-logs`` does with odd lines, this does too: a line end ``\\r`` is dropped, empty lines are skipped (their
bytes still count in the offsets), text that is not UTF-8 is decoded with replacement. A plain file's unfinished
last line is left for ``ship-logs`` (the file may still be written); a compressed file is finished, so its last
line is read even without a newline. A compressed file that ends early (``gzip`` truncated) raises
``TruncatedFile`` after its complete lines; the bytes after the last newline come first as a dead letter.
A line still unfinished after ``MAX_LINE_BYTES`` (a file of no newlines, or a gzip bomb of one line) is not held
whole: its first ``MAX_LINE_BYTES`` come as an ``overlong`` leftover (a dead letter) and the rest is read past.
"""

from __future__ import annotations

import contextlib
import os
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Literal

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from regaudit.errors import RegauditError
from regaudit.ingest.normalize import BATCH_SCHEMA
from regaudit.ingest.receive.incarnation import HEAD_MAX_BYTES, Incarnation

FileKind = Literal["access", "event"]

#: bytes read (after decompression) per block; lines are cut out of each block at once
BLOCK_BYTES = 32 << 20
#: the longest line held: past it a line's head is a dead letter and the rest is skipped (else memory grows with it
#: and every block re-copies it); registries' log lines and events are KiB
MAX_LINE_BYTES = 64 << 20
#: rotation suffixes logrotate adds: ``.1``, ``.2.gz``, ``-20250301``, ``-20250301.gz``
_ROTATION = re.compile(r"(\.\d+|-\d{8,10})?(\.gz)?$")


class TruncatedFile(RegauditError):
    """A compressed file ended before its end-of-stream marker (or is not gzip past some point); every line
    before the break was read."""


def live_path(path: Path) -> str:
    """The log ``ship-logs`` followed when it wrote this rotated file: ``access.log.2.gz`` -> ``access.log``."""
    return str(path.with_name(_ROTATION.sub("", path.name) or path.name))


def is_compressed(path: Path) -> bool:
    """gzip, by its magic number rather than its name."""
    with path.open("rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


class FileReader:
    """A file's bytes in chunks, decompressed when gzip (every member), with the file bytes consumed so far.

    zlib directly rather than ``gzip.open``: a truncated stream still yields every byte before the break, then
    raises ``TruncatedFile`` naming the file and where it broke.
    """

    def __init__(self, path: Path, chunk_bytes: int = 8 << 20) -> None:
        self.path = path
        self.compressed = is_compressed(path)
        self.chunk_bytes = chunk_bytes
        self.consumed = 0

    def chunks(self) -> Iterator[bytes]:
        with self.path.open("rb") as handle:
            if self.compressed:
                yield from self._inflate(handle)
                return
            while chunk := handle.read(self.chunk_bytes):
                self.consumed += len(chunk)
                yield chunk

    def _inflate(self, handle: BinaryIO) -> Iterator[bytes]:
        inflater, member_started = zlib.decompressobj(wbits=31), False
        while chunk := handle.read(self.chunk_bytes):
            self.consumed += len(chunk)
            while True:  # at most chunk_bytes out per call: 8 MB of a gzip bomb would otherwise inflate to 8 GB at once
                member_started = True
                try:
                    out = inflater.decompress(chunk, self.chunk_bytes)
                except zlib.error as error:
                    raise TruncatedFile(f"{self.path}: not gzip after byte {self.consumed} ({error})") from error
                if out:
                    yield out
                if inflater.eof:  # a gzip member ended: the next one (if any) starts in unused_data
                    chunk, inflater, member_started = inflater.unused_data, zlib.decompressobj(wbits=31), False
                    if not chunk:
                        break
                    continue
                chunk = inflater.unconsumed_tail
                if not chunk and len(out) < self.chunk_bytes:  # all input taken and no output held back
                    break
        if member_started:
            raise TruncatedFile(f"{self.path}: gzip stream ends early, truncated at byte {self.consumed}")


def head_of(path: Path, size: int) -> bytes:
    """The first ``size`` bytes of the file's content (decompressed; what there is of a truncated file)."""
    data = b""
    with contextlib.suppress(TruncatedFile):
        for chunk in FileReader(path, 1 << 16).chunks():
            data += chunk
            if len(data) >= size:
                break
    return data[:size]


def guess_kind(path: Path) -> FileKind:
    """``event`` when the first line is a notification envelope or event, else ``access``."""
    try:
        document = orjson.loads(head_of(path, HEAD_MAX_BYTES * 16).split(b"\n", 1)[0])
    except orjson.JSONDecodeError:
        return "access"
    if isinstance(document, dict) and (
        isinstance(document.get("events"), list) or {"id", "action", "target"} <= document.keys()
    ):
        return "event"
    return "access"


def incarnation_name(path: Path) -> str | None:
    """The incarnation name ``ship-logs`` gives this file's lines (inode and first line); None if it has none."""
    data = head_of(path, HEAD_MAX_BYTES)
    end = data.find(b"\n")
    if end >= 0:
        head = data[: end + 1]  # as read_head: the first line with its newline
    elif data:
        head = data  # a first line over HEAD_MAX_BYTES, or a compressed file's only, unterminated line
    else:
        return None
    stat = os.stat(path)
    return Incarnation(stat.st_dev, stat.st_ino).named(head).name


@dataclass(frozen=True)
class Block:
    """Lines of one block: their text, bytes and first-byte offsets in the (decompressed) file."""

    text: pa.Array
    value: pa.Array
    start: pa.Array


@dataclass(frozen=True)
class Leftover:
    """Bytes after the last newline: a finished file's unterminated last line, or what a truncated one left."""

    value: bytes
    start: int
    truncated: bool
    overlong: bool = False  # the head of a line longer than MAX_LINE_BYTES, whose rest was read past


def read_blocks(chunks: Iterator[bytes], block_bytes: int = BLOCK_BYTES) -> Iterator[Block | Leftover]:
    """The lines in ``chunks``, a block at a time, then the bytes after the last newline (if any).

    A ``TruncatedFile`` from ``chunks`` is raised after the leftover bytes were yielded."""
    base, pending, skipping = 0, b"", False
    try:
        for block in _blocks(chunks, block_bytes):
            start = 0  # where the block's lines not yet read begin
            if skipping:  # the rest of an overlong line, up to its newline
                start = block.find(b"\n") + 1
                base += start or len(block)
                if not start:
                    continue
                skipping = False
            if pending and (end := block.find(b"\n") + 1):  # the line the last block left unfinished, alone:
                yield _lines(pending + block[:end], base)  # only it is copied, not the whole block after it
                pending, base, start = b"", base + len(pending) + end, end
            cut = block.rfind(b"\n", start) + 1
            if cut > start:  # a view: the block's complete lines are not copied again
                yield _lines(memoryview(block)[start:cut], base)
                base += cut - start
            pending += block[max(cut, start) :]
            if len(pending) > MAX_LINE_BYTES:
                yield Leftover(pending[:MAX_LINE_BYTES], base, truncated=False, overlong=True)
                pending, base, skipping = b"", base + len(pending), True
    except TruncatedFile:
        if pending.rstrip(b"\r"):
            yield Leftover(pending, base, truncated=True)
        raise
    if pending.rstrip(b"\r"):
        yield Leftover(pending, base, truncated=False)


def _blocks(chunks: Iterator[bytes], block_bytes: int) -> Iterator[bytes]:
    """Chunks joined into blocks of about ``block_bytes``: numpy and Arrow work best on large ones."""
    parts: list[bytes] = []
    size = 0
    try:
        for chunk in chunks:
            parts.append(chunk)
            size += len(chunk)
            if size >= block_bytes:
                yield b"".join(parts)
                parts, size = [], 0
    except TruncatedFile:
        if parts:  # what came before the break is read all the same
            yield b"".join(parts)
        raise
    if parts:
        yield b"".join(parts)


def _lines(data: bytes | memoryview, base: int) -> Block:
    """Cut ``data`` (ending in a newline) into lines, as ``tail.py`` does, without a Python loop over them."""
    ends = np.flatnonzero(np.frombuffer(data, np.uint8) == 10)
    offsets = np.empty(len(ends) + 1, np.int64)
    offsets[0], offsets[1:] = 0, ends + 1
    buffers = [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    raw = pa.LargeBinaryArray.from_buffers(pa.large_binary(), len(ends), buffers)
    starts = pa.array(base + offsets[:-1], pa.int64())
    try:  # UTF-8 checked in place, then one copy without the line ends
        text = pc.utf8_rtrim(raw.cast(pa.large_string()), "\r\n").cast(pa.string())
        value = text.cast(pa.binary())
    except pa.ArrowInvalid:  # some line is not UTF-8: its bytes kept, its text decoded with replacement
        lines = [line.rstrip(b"\r\n") for line in raw.to_pylist()]
        value = pa.array(lines, pa.binary())
        text = pa.array([line.decode("utf-8", "replace") for line in lines], pa.string())
    keep = pc.greater(pc.binary_length(value), 0)  # empty lines are skipped; their bytes count in the offsets
    if pc.all(keep).as_py():
        return Block(text, value, starts)
    return Block(pc.filter(text, keep), pc.filter(value, keep), pc.filter(starts, keep))


def leftover_block(leftover: Leftover) -> Block:
    """A finished file's unterminated last line as a block of one line."""
    return _lines(leftover.value + b"\n", leftover.start)


def batch_table(block: Block, kind: FileKind, key_prefix: str, registry: str | None) -> pa.Table:
    """Lay a block's lines out as raw records (``BATCH_SCHEMA``), access lines keyed as ``ship-logs`` keys them.

    Event records carry no key: the store keys them by (registry, event id), as the webhook's."""
    count = len(block.start)
    keys = pc.binary_join_element_wise(key_prefix, pc.cast(block.start, pa.string()), "")
    nothing = pa.nulls(count, pa.string())
    columns = {
        "kind": pa.repeat(pa.scalar(kind, pa.string()), count),
        "value": block.value,
        "text": block.text if kind == "access" else nothing,
        "origin": pc.binary_join_element_wise("file:", keys, ""),
        "received_at": pa.repeat(pa.scalar(datetime.now(UTC), pa.timestamp("us", tz="UTC")), count),
        "registry": pa.repeat(pa.scalar(registry, pa.string()), count),
        "key": keys if kind == "access" else nothing,
        "content_type": nothing,
        "reason": nothing,
        "registry_kind": nothing,
    }
    return pa.table([columns[name] for name in BATCH_SCHEMA.names], schema=BATCH_SCHEMA)


def dead_letter_table(value: bytes, origin: str, reason: str) -> pa.Table:
    """One receiver dead letter: the bytes a truncated file left after its last newline."""
    row: dict[str, object] = {name: None for name in BATCH_SCHEMA.names}
    row |= {"kind": "deadletter", "value": value, "origin": origin, "reason": reason, "received_at": datetime.now(UTC)}
    return pa.Table.from_pylist([row], schema=BATCH_SCHEMA)
