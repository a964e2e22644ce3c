"""Parse one line of Docker Hub's usage export (the Usage page's pulls CSV) into hourly counts, or a reason.

The columns, in order, are those docker/docs ``content/manuals/docker-hub/usage/pulls.md`` documents (``COLUMNS``;
FORMATS-more-registries.md section 3.2). A row is **an hourly aggregate, not an event**: how many manifest pulls
(``pulls``) and HEAD version checks (``version_checks``) one user made of one repository (and tag or digest) in
one hour, from the addresses in ``ips``. A multi-arch pull counts once per architecture, as Hub counts it. The
store keeps a row's cells as a JSON object by column name (its ``raw``, a JSON column), ``ips`` whole.

The normalizer (``regaudit.ingest.sources.dockerhub.normalize.normalize_usage``) turns the counts into that many
pull (GET) and check (HEAD) rows at the hour's start. Their ids are a digest of what identifies the row (every
column but the counts and ``ips``) and the row's index, so importing the same export, or a later one that
repeats the hour with the same or higher counts, stores each pull once. Pure: no clock, no I/O; never raises.
"""

from __future__ import annotations

import csv
import hashlib
import ipaddress
import re
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from regaudit.schemas.registry import outside_window

COLUMNS = (
    "datehour", "user_name", "repository", "access_token_name", "ips", "repository_privacy", "tag", "digest",
    "version_checks", "pulls",
)  # fmt: skip
#: more pulls or checks than this in one row's hour is refused: 278 a second from one user of one repository is
#: not a usage report to trust, and each one becomes a stored row (memory and store stay bounded)
MAX_COUNT = 1_000_000
#: a datehour as Hub writes it (yyyy/mm/dd/hh, UTC)
_DATEHOUR = re.compile(r"(\d{4})/(\d{2})/(\d{2})/(\d{2})")
_COUNT = re.compile(r"\d{1,7}")
#: a line longer than this is not a usage row (the csv module would parse any length)
MAX_LINE_BYTES = 64 * 1024
#: the raw record's key when it stands for part of a line's rows only: ``rows:<first>:<end>`` (the importer cuts a
#: line of more rows than a batch holds into such records, so no batch holds more than ``--batch-lines`` rows)
PART_PREFIX = "rows:"
#: the delimiters an aggregated ``ips`` cell may use: the docs do not say which (FORMATS 3.2)
_IPS_SPLIT = re.compile(r"[\s,;|]+")


@dataclass(frozen=True)
class UsageRow:
    """One export row's identity, its hour and its two counts."""

    hour: datetime
    actor: str | None
    repository: str
    tag: str | None
    digest: str | None
    client_addr: str | None
    pulls: int
    checks: int
    key: str
    #: the row's cells by column name as a JSON object (the store's ``raw`` is JSON): ``ips`` whole, the token
    raw: str

    def event_id(self, kind: str, index: int) -> str:
        """The id of this row's ``index``-th pull (``kind`` ``p``) or check (``c``): the same row imported again
        gives the same ids."""
        return f"usage:{self.key}:{kind}{index}"


def parse(value: bytes) -> tuple[UsageRow | None, str | None]:
    """The row, or (None, None) for the header line, or (None, reason)."""
    if len(value) > MAX_LINE_BYTES:
        return None, f"line longer than {MAX_LINE_BYTES} bytes"
    try:
        text = value.decode("utf-8").removeprefix("\ufeff").rstrip("\r\n")
    except UnicodeDecodeError as error:
        return None, f"not UTF-8: {error}"
    try:
        cells = next(csv.reader([text]), [])
    except csv.Error as error:
        return None, f"not a CSV line: {error}"
    if tuple(cell.strip() for cell in cells) == COLUMNS:
        return None, None
    if len(cells) != len(COLUMNS):
        return None, f"not a Docker Hub usage row: {len(cells)} columns, expected {len(COLUMNS)} ({','.join(COLUMNS)})"
    return _row(dict(zip(COLUMNS, (cell.strip() for cell in cells), strict=True)))


def _row(cells: dict[str, str]) -> tuple[UsageRow | None, str | None]:
    hour, reason = _hour(cells["datehour"])
    if hour is None:
        return None, reason
    pulls, reason = _count(cells, "pulls")
    if pulls is None:
        return None, reason
    checks, reason = _count(cells, "version_checks")
    if checks is None:
        return None, reason
    if not cells["repository"]:
        return None, "no repository"
    identity = "\0".join(cells[name] for name in COLUMNS if name not in ("ips", "version_checks", "pulls"))
    return (
        UsageRow(
            hour=hour,
            actor=cells["user_name"] or None,  # empty: an anonymous pull
            repository=cells["repository"],
            tag=cells["tag"] or None,
            digest=cells["digest"] or None,
            client_addr=_one_address(cells["ips"]),
            pulls=pulls,
            checks=checks,
            key=hashlib.sha256(identity.encode()).hexdigest()[:32],
            raw=orjson.dumps(cells).decode(),
        ),
        None,
    )


def _hour(value: str) -> tuple[datetime | None, str | None]:
    match = _DATEHOUR.fullmatch(value)
    if match is None:
        return None, f"datehour {value[:40]!r} is not yyyy/mm/dd/hh"
    try:
        year, month, day, hour_of_day = (int(part) for part in match.groups())
        hour = datetime(year, month, day, hour_of_day, tzinfo=UTC)
    except ValueError as error:
        return None, f"datehour {value!r}: {error}"
    return (None, reason) if (reason := outside_window(hour)) else (hour, None)


def _count(cells: dict[str, str], name: str) -> tuple[int | None, str | None]:
    """A count of 0 to ``MAX_COUNT``; an empty cell is 0 (nothing of that kind in the hour)."""
    value = cells[name] or "0"
    if value.isdigit() and len(value) > 7:  # checked before int(): a thousand-digit count costs nothing
        return None, f"{name} {value[:20]}... above {MAX_COUNT} in one hour"
    if not _COUNT.fullmatch(value):
        return None, f"{name} {value[:40]!r} is not a whole number of 0 or more"
    count = int(value)
    if count > MAX_COUNT:
        return None, f"{name} {count} above {MAX_COUNT} in one hour"
    return count, None


def _one_address(cell: str) -> str | None:
    """The client address when the hour's ``ips`` cell holds exactly one address; else None (it stays in raw)."""
    parts = [part for part in _IPS_SPLIT.split(cell) if part]
    if len(parts) != 1:
        return None
    try:
        return str(ipaddress.ip_address(parts[0]))
    except ValueError:
        return None


def weight(value: bytes) -> int:
    """How many rows a line becomes (1 for a line that becomes a dead letter or nothing): the importer cuts its
    batches by this, so a batch holds about as many rows as ``--batch-lines``, not that many hours."""
    row, _ = parse(value)
    return max(1, row.pulls + row.checks) if row else 1


def first_hour(lines: list[bytes]) -> datetime | None:
    """The earliest hour among a file's first lines (the importer's time order), without making their rows."""
    hours = [row.hour for row, _ in map(parse, lines) if row is not None]
    return min(hours, default=None)


def part_key(first: int, end: int) -> str:
    """The key of a record standing for rows ``first`` to ``end`` (exclusive) of its line: pulls, then checks."""
    return f"{PART_PREFIX}{first}:{end}"


def part_of(key: str | None, rows: int) -> range:
    """Which of a line's ``rows`` a record stands for: all of them, unless its key names a part."""
    if key is None or not key.startswith(PART_PREFIX):
        return range(rows)
    first, _, end = key.removeprefix(PART_PREFIX).partition(":")
    return range(max(0, int(first)), min(rows, int(end)))
