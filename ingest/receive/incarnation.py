"""Which life of a log file a line belongs to, and the saved position that survives restarts.

A path names many files over time: logrotate renames one away and nginx opens a new one, copytruncate empties
the same inode, and ext4 hands a freed inode straight back to the next file created (``rm x.1; mv x x.1; nginx
-s reopen`` gives the new log the inode the deleted one had). An *incarnation* is one such life, from creation
(or truncation) until rotation, deletion or truncation. Its name goes into every line key:

    <inode>.<head>[.<n>]

``head`` is the first 16 hex digits of the SHA-256 of the file's first line (the bytes up to and including the
first newline, at most ``HEAD_MAX_BYTES``), as Vector's checksum fingerprint; ``n`` is added only when an
incarnation remembered in the saved state already had that name (same inode and the same first line, e.g. a
health check logged at the same second). So:

* the same file read again (a restart from the saved position, a batch delivered twice) gets the same name, and
  the store keeps its lines once;
* a new file, even on a reused inode, gets a name no remembered incarnation had, so none of its lines is taken
  for one already stored. Without the state (deleted), names still differ unless inode and first line repeat.

The inode alone cannot tell files apart, so a file is recognised as the saved one only if it also still starts
with the saved first line and holds the last delivered line where it ended (both checked with ``pread``).

Positions saved by regaudit before incarnations (``{device, inode, generation, offset}``) load as an incarnation
named ``<inode>.<generation>``, the name their keys carried, so lines re-read after the upgrade keep their keys.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

#: the first line is fingerprinted up to this many bytes (a longer first line is named by its start)
HEAD_MAX_BYTES = 4096
#: names of earlier incarnations kept in the state, newest last; a repeat needs the same inode and first line
EARLIER_KEPT = 64
STATE_VERSION = 2


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class Incarnation:
    """One life of the file at the path; ``name`` is empty until its first line is complete."""

    device: int
    inode: int
    name: str = ""
    head_length: int = 0  # bytes fingerprinted; 0: not known (a position saved before incarnations)
    head_sha256: str = ""
    earlier: tuple[str, ...] = ()

    def successor(self, device: int, inode: int) -> Incarnation:
        """The path's next life (another inode, or this one truncated), remembering this one's name."""
        earlier = (*self.earlier, self.name) if self.name else self.earlier
        return Incarnation(device, inode, earlier=earlier[-EARLIER_KEPT:])

    def named(self, head: bytes) -> Incarnation:
        """This incarnation named after its first line, unlike every remembered one."""
        digest = _sha256(head)
        base = name = f"{self.inode}.{digest[:16]}"
        repeat = 0
        while name in self.earlier:
            repeat += 1
            name = f"{base}.{repeat}"
        return replace(self, name=name, head_length=len(head), head_sha256=digest)

    def with_head(self, head: bytes) -> Incarnation:
        """The same incarnation (same name) with its first line recorded, for one loaded from an old state."""
        return replace(self, head_length=len(head), head_sha256=_sha256(head))

    def starts(self, descriptor: int) -> bool:
        """The open file still begins with this incarnation's first line (True while that is not known)."""
        if not self.head_length:
            return True
        return _sha256(os.pread(descriptor, self.head_length, 0)) == self.head_sha256


def read_head(descriptor: int) -> bytes | None:
    """The bytes that name an incarnation: its first line with the newline, capped; None until it is complete."""
    data = os.pread(descriptor, HEAD_MAX_BYTES, 0)
    end = data.find(b"\n")
    if end >= 0:
        return data[: end + 1]
    return data if len(data) == HEAD_MAX_BYTES else None


@dataclass(frozen=True, slots=True)
class Position:
    incarnation: Incarnation
    offset: int


@dataclass(frozen=True, slots=True)
class SavedPosition:
    """What ``commit`` wrote: the position after the last delivered line, and that line to recognise the file."""

    position: Position
    last_line_start: int | None = None  # None: not known (a position saved before incarnations)
    last_line_sha256: str = ""

    @classmethod
    def after(cls, position: Position, last_line_start: int, last_line: bytes) -> SavedPosition:
        """The position after ``last_line`` (its text without the line end), which began at ``last_line_start``."""
        return cls(position, last_line_start, _sha256(last_line))

    @property
    def checks_content(self) -> bool:
        """Both the first line and the last delivered line are known: a copy of the file can be recognised."""
        return self.last_line_start is not None and self.position.incarnation.head_length > 0

    def found_in(self, descriptor: int) -> bool:
        """The open file is the saved incarnation: long enough, same first line, the last line where it was."""
        offset = self.position.offset
        if os.fstat(descriptor).st_size < offset or not self.position.incarnation.starts(descriptor):
            return False
        if self.last_line_start is None:
            return True
        line = os.pread(descriptor, offset - self.last_line_start, self.last_line_start)
        return _sha256(line.rstrip(b"\r\n")) == self.last_line_sha256


def load_position(path: Path) -> SavedPosition | None:
    """The saved position, or None when there is none yet."""
    try:
        saved: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    if saved.get("version") != STATE_VERSION:  # {device, inode, generation, offset}: keep its key names
        old = Incarnation(saved["device"], saved["inode"], f"{saved['inode']}.{saved['generation']}")
        return SavedPosition(Position(old, saved["offset"]))
    incarnation = Incarnation(
        saved["device"],
        saved["inode"],
        saved["incarnation"],
        saved["head_length"],
        saved["head_sha256"],
        tuple(saved["earlier"]),
    )
    return SavedPosition(Position(incarnation, saved["offset"]), saved["last_line_start"], saved["last_line_sha256"])


def save_position(path: Path, position: Position, last_line_start: int, last_line: bytes) -> SavedPosition:
    """Persist the position after ``last_line`` (write to a temp file, fsync, rename) and return it."""
    incarnation = position.incarnation
    saved = SavedPosition.after(position, last_line_start, last_line)
    document = {
        "version": STATE_VERSION,
        "device": incarnation.device,
        "inode": incarnation.inode,
        "incarnation": incarnation.name,
        "head_length": incarnation.head_length,
        "head_sha256": incarnation.head_sha256,
        "earlier": list(incarnation.earlier),
        "offset": position.offset,
        "last_line_start": last_line_start,
        "last_line_sha256": saved.last_line_sha256,
    }
    temporary = path.with_suffix(path.suffix + ".tmp")
    with temporary.open("w", encoding="utf-8") as handle:
        json.dump(document, handle)
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(path)
    return saved
