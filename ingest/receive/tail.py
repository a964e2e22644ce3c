"""Follow a log file across rotation and restarts, without losing or repeating lines.

The position (the incarnation of the file, see ``incarnation.py``, and the offset) is saved atomically after each
delivered batch. Rotation:

* **rename** (logrotate's default, nginx reopens on USR1): the path now names another file. The old file is
  read to its end through the descriptor still open (or, after a restart, found again among the path's
  siblings), then the new file is followed from offset 0;
* **copytruncate**: the inode stays but the file shrinks below the position, or (grown again between two
  polls) no longer starts with its first line. The old incarnation is finished in the copy when a sibling holds
  it (starts with its first line, holds the last line read where it ended), then the emptied file is read from 0
  as a new incarnation. Lines written between the copy and the truncation are lost by copytruncate itself (the
  reason logrotate's docs warn about it);
* **inode reuse**: a file deleted and a new one created gets the freed inode back. The saved position is taken
  up again only by a file that still starts with the saved first line and holds the last delivered line where
  it ended; any other file is a new incarnation, read from 0.

Only complete lines (ending in ``\\n``) are yielded; a partial last line waits for its end. Each line carries
the key ``<host>:<path>:<incarnation>:<offset>``: the same for the same line read again (after a restart or a
delivery retried), different for every other line the path ever held, which makes the consumer's insert
idempotent without dropping a new file's lines.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

from regaudit.ingest.receive.incarnation import (
    Incarnation,
    Position,
    SavedPosition,
    load_position,
    read_head,
    save_position,
)

__all__ = ["FileTail", "Line", "Position"]

#: bytes read from the file at a time; lines are split out of each block
_READ_BLOCK = 1 << 20


@dataclass(frozen=True, slots=True)
class Line:
    value: bytes
    key: str
    start: int
    end: Position


class FileTail:
    """Reads complete lines from ``path`` in batches; ``commit`` saves the position after delivery."""

    def __init__(self, path: Path, state_path: Path, host: str) -> None:
        self.path = path
        self.state_path = state_path
        self.host = host
        self._file: BinaryIO | None = None
        self._position: Position | None = None
        self._committed: SavedPosition | None = load_position(state_path)
        self._last_line: Line | None = None  # the last line read from the current incarnation

    def commit(self, line: Line) -> None:
        """Persist the position after ``line``, delivered with every line before it."""
        self._committed = save_position(self.state_path, line.end, line.start, line.value)

    # -- opening ------------------------------------------------------------------------------------------
    def _open(self) -> bool:
        """Open the committed file where the last delivery ended, else the path's file from its start."""
        saved = self._committed
        if saved is None:
            return self._open_path(Incarnation(0, 0))
        found = self._find(saved)
        if found is None:  # the saved file is gone, truncated or replaced: the path holds a new one
            return self._open_path(saved.position.incarnation)
        self._file, incarnation = found
        self._position = Position(incarnation, saved.position.offset)
        return True

    def _find(self, saved: SavedPosition) -> tuple[BinaryIO, Incarnation] | None:
        """The file that holds the saved incarnation up to its position, open: the same inode (at the path or
        renamed), else a copy of it among the siblings (copytruncate: the copy holds the lines written before
        the truncation that were not read yet)."""
        known = saved.position.incarnation
        for candidate in self._candidates():
            try:
                handle = candidate.open("rb")
            except FileNotFoundError:
                continue
            stat = os.fstat(handle.fileno())
            same = (stat.st_dev, stat.st_ino) == (known.device, known.inode)
            copy = not same and candidate != self.path and saved.checks_content
            if (same or copy) and saved.found_in(handle.fileno()):
                incarnation = known if same else replace(known, device=stat.st_dev, inode=stat.st_ino)
                head = None if incarnation.head_length else read_head(handle.fileno())
                if head is not None:  # saved before incarnations: remember its first line from now on
                    incarnation = incarnation.with_head(head)
                return handle, incarnation
            handle.close()
        return None

    def _candidates(self) -> list[Path]:
        """The path, then its rotated siblings (``registry.json.1``...), never the position file itself."""
        own = {self.state_path.name, self.state_path.name + ".tmp"}
        siblings = sorted(p for p in self.path.parent.glob(self.path.name + "*") if p.name not in own)
        return [self.path, *(p for p in siblings if p != self.path)]

    def _open_path(self, previous: Incarnation) -> bool:
        """Follow the file the path names now as the incarnation after ``previous``."""
        try:
            handle = self.path.open("rb")
        except FileNotFoundError:
            return False
        stat = os.fstat(handle.fileno())
        self._file = handle
        self._position = Position(previous.successor(stat.st_dev, stat.st_ino), 0)
        self._last_line = None
        return True

    def _rotated(self) -> bool:
        """The path names another file now (rename rotation)."""
        assert self._position is not None
        incarnation = self._position.incarnation
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return False
        return (stat.st_dev, stat.st_ino) != (incarnation.device, incarnation.inode)

    def _check_incarnation(self, descriptor: int) -> bool:
        """Start a new incarnation if the open file was truncated (after finishing the old one in its copy, if
        there is one); name it once its first line is complete."""
        assert self._position is not None
        incarnation, offset = self._position.incarnation, self._position.offset
        if os.fstat(descriptor).st_size < offset or not incarnation.starts(descriptor):  # copytruncate
            if self._follow_copy():
                return True
            incarnation, offset = incarnation.successor(incarnation.device, incarnation.inode), 0
            self._last_line = None
        if not incarnation.name:
            head = read_head(descriptor)
            if head is not None:
                incarnation = incarnation.named(head)
        self._position = Position(incarnation, offset)
        return bool(incarnation.name)

    def _follow_copy(self) -> bool:
        """Go on reading the current incarnation from a copy of it, where copytruncate left one."""
        assert self._file is not None
        assert self._position is not None
        line, saved = self._last_line, self._committed
        if line is not None:
            saved = SavedPosition.after(line.end, line.start, line.value)
        elif saved is None or (saved.position.incarnation.name, saved.position.offset) != (
            self._position.incarnation.name,
            self._position.offset,
        ):
            return False  # nothing read from this incarnation yet, and its delivered end is not where we are
        found = self._find(saved)
        if found is None:
            return False
        self._file.close()
        self._file, incarnation = found
        self._position = Position(incarnation, self._position.offset)
        return True

    # -- reading ------------------------------------------------------------------------------------------
    def read(self, max_lines: int) -> list[Line]:
        """Up to ``max_lines`` complete lines; an empty list when there is nothing new."""
        if self._file is None and not self._open():
            return []
        lines = self._read_open(max_lines)
        if not lines and self._rotated():
            # the old file is complete (nginx writes to the new one once reopened): switch
            assert self._file is not None
            assert self._position is not None
            self._file.close()
            self._file = None
            if self._open_path(self._position.incarnation):
                return self._read_open(max_lines)
        return lines

    def _read_open(self, max_lines: int) -> list[Line]:
        assert self._file is not None
        return self._read_lines(max_lines) if self._check_incarnation(self._file.fileno()) else []

    def _read_lines(self, max_lines: int) -> list[Line]:
        assert self._file is not None
        assert self._position is not None
        incarnation = self._position.incarnation
        prefix = f"{self.host}:{self.path}:{incarnation.name}:"
        lines: list[Line] = []
        offset = self._position.offset
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
                    lines.append(Line(value, prefix + str(start), start, Position(incarnation, offset)))
                    if len(lines) == max_lines:
                        break
        self._position = Position(incarnation, offset)
        if lines:
            self._last_line = lines[-1]
        return lines

    def close(self) -> None:
        """Close the file; the next ``read`` takes up again after the last committed line."""
        if self._file is not None:
            self._file.close()
            self._file = None
        self._position = None
        self._last_line = None
