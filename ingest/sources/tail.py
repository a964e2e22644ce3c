"""Follow a log file across rotation and restarts, without losing or repeating lines.

Position is ``(device, inode, generation, offset)`` saved atomically after each delivered batch. Rotation:

* **rename** (logrotate's default, nginx reopens on USR1): the path now names a new inode. The old file is
  read to its end through the descriptor still open (or, after a restart, found again among the path's
  siblings by its inode), then the new file is followed from offset 0;
* **copytruncate**: the inode stays but its size drops below the position. The generation increases and the
  file is read from 0. Lines written between the last read and the truncation are lost by copytruncate itself
  (the reason logrotate's docs warn about it); polling often keeps that window small.

Only complete lines (ending in ``\\n``) are yielded; a partial last line waits for its end. Each line carries
the key ``<host>:<path>:<inode>.<generation>:<offset>``, unique per line and stable across restarts, which makes
the consumer's insert idempotent if a batch is delivered twice.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO

#: bytes read from the file at a time; lines are split out of each block
_READ_BLOCK = 1 << 20


@dataclass
class Position:
    device: int
    inode: int
    generation: int
    offset: int


@dataclass(frozen=True, slots=True)
class Line:
    value: bytes
    key: str
    end: Position


class FileTail:
    """Reads complete lines from ``path`` in batches; ``commit`` saves the position after delivery."""

    def __init__(self, path: Path, state_path: Path, host: str) -> None:
        self.path = path
        self.state_path = state_path
        self.host = host
        self._file: BinaryIO | None = None
        self._position: Position | None = None
        self._restore()

    # -- state --------------------------------------------------------------------------------------------
    def _restore(self) -> None:
        if not self.state_path.exists():
            return
        saved = Position(**json.loads(self.state_path.read_text(encoding="utf-8")))
        for candidate in [self.path, *sorted(self.path.parent.glob(self.path.name + "*"))]:
            try:
                stat = candidate.stat()
            except FileNotFoundError:
                continue
            if (stat.st_dev, stat.st_ino) == (saved.device, saved.inode):
                self._file = candidate.open("rb")
                if stat.st_size < saved.offset:  # truncated while we were away
                    saved = Position(saved.device, saved.inode, saved.generation + 1, 0)
                self._file.seek(saved.offset)
                self._position = saved
                return
        # the saved file is gone: start on whatever the path holds now, from the beginning

    def commit(self, position: Position) -> None:
        """Persist the position (write to a temp file, fsync, rename)."""
        temporary = self.state_path.with_suffix(self.state_path.suffix + ".tmp")
        with temporary.open("w", encoding="utf-8") as handle:
            json.dump(asdict(position), handle)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(self.state_path)

    # -- reading ------------------------------------------------------------------------------------------
    def _open_current(self) -> bool:
        try:
            handle = self.path.open("rb")
        except FileNotFoundError:
            return False
        stat = os.fstat(handle.fileno())
        self._file = handle
        known = self._position
        if known is not None and (known.device, known.inode) == (stat.st_dev, stat.st_ino):
            if stat.st_size < known.offset:  # truncated while closed
                self._position = Position(known.device, known.inode, known.generation + 1, 0)
        else:
            self._position = Position(stat.st_dev, stat.st_ino, 0, 0)
        return True

    def _rotated(self) -> bool:
        """The path names another file now (rename rotation)."""
        assert self._position is not None
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return False
        return (stat.st_dev, stat.st_ino) != (self._position.device, self._position.inode)

    def read(self, max_lines: int) -> list[Line]:
        """Up to ``max_lines`` complete lines; an empty list when there is nothing new."""
        if self._file is None and not self._open_current():
            return []
        assert self._file is not None
        assert self._position is not None
        size = os.fstat(self._file.fileno()).st_size
        if size < self._position.offset:  # copytruncate
            self._position = Position(self._position.device, self._position.inode, self._position.generation + 1, 0)
            self._file.seek(0)
        lines = self._read_lines(max_lines)
        if not lines and self._rotated():
            # the old file is complete (nginx writes to the new one once reopened): switch
            self._file.close()
            self._file = None
            if self._open_current():
                return self._read_lines(max_lines)
        return lines

    def _read_lines(self, max_lines: int) -> list[Line]:
        assert self._file is not None
        assert self._position is not None
        position = self._position
        device, inode, generation = position.device, position.inode, position.generation
        prefix = f"{self.host}:{self.path}:{inode}.{generation}:"
        lines: list[Line] = []
        offset = position.offset
        self._file.seek(offset)
        pending = b""
        while len(lines) < max_lines:
            block = self._file.read(_READ_BLOCK)
            if not block:
                break  # nothing more; a partial last line (in ``pending``) waits for its end
            data = pending + block if pending else block
            cut = data.rfind(b"\n") + 1
            pending = data[cut:]
            for raw in data[:cut].split(b"\n")[:-1]:
                start = offset
                offset += len(raw) + 1
                value = raw.rstrip(b"\r\n")
                if value:
                    lines.append(Line(value, prefix + str(start), Position(device, inode, generation, offset)))
                    if len(lines) == max_lines:
                        break
        self._position = Position(device, inode, generation, offset)
        return lines

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
