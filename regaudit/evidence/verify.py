"""Walk the hash chain and recompute it from the audit tables; name the first batch that does not match.

Checks, in chain order:

- links: entries are numbered 1, 2, 3 … without gaps, each ``previous_hash`` is the hash of the entry before,
  and each entry's hash matches its fields (an edited, removed or inserted entry breaks one of these);
- contents: per batch and audit table, the rows now stored give the sealed count and digest (a row edited,
  deleted or inserted directly in DuckDB changes one of them); tables a purge removed for a batch must hold none
  of its rows, and the sealed digest stands for what was removed;
- coverage: no audit rows carry a batch id the chain has not sealed;
- purges: each purge entry carries the trusted key's Ed25519 signature and respected retention
  (``regaudit.evidence.purge_checks``); without a trusted key a store holding purges does not verify;
- anchors: every chain head kept outside the store (``--anchor``) is still in the chain;
- checkpoints: the exported series of signed chain heads (``regaudit.evidence.checkpoints``) verifies with the
  trusted key, has no gap, and each checkpointed head is still in the chain at its position (a rewritten chain,
  re-sealed from scratch, fails at the first checkpoint it no longer matches).

Problems are ordered by batch, so ``first`` is the earliest batch that was changed, removed or inserted.
Given an opener instead of a connection, ``verify`` reopens the store (read-only) for each group of batches of
at most ``GROUP_ROWS`` rows, so a long walk does not keep the consumer from writing.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import duckdb
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from regaudit.evidence import checkpoints, purge_checks
from regaudit.evidence.canonical import AUDIT_TABLES, EMPTY_DIGEST, digests_by_batch
from regaudit.evidence.chain import ChainEntry, entries, entry_hash, unsealed_batches

GROUP_ROWS = 500_000


@dataclass(frozen=True, order=True)
class Problem:
    """One mismatch. ``batch_id`` orders problems; it is the batch concerned, or the one sealed just before."""

    batch_id: int
    seq: int
    message: str = field(compare=False)


@dataclass(frozen=True)
class VerifyResult:
    entries_count: int
    head: ChainEntry | None
    problems: tuple[Problem, ...]
    signatures_checked: int
    signatures_unchecked: int
    checkpoints_checked: int = 0
    newest_checkpoint: Mapping[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first(self) -> Problem | None:
        return self.problems[0] if self.problems else None


Opener = Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]]


def verify(
    store: duckdb.DuckDBPyConnection | Opener,
    public_key: Ed25519PublicKey | None = None,
    anchors: Sequence[str] = (),
    retention_days: Mapping[str, int] | None = None,
    series: checkpoints.Series | None = None,
) -> VerifyResult:
    """Check the whole chain against the store (read-only). Given an opener (``lambda: store.reader(path)``) rather
    than a connection, it holds the file only while it reads one group of batches, so writers get their turn.
    ``public_key`` is the trusted key of purges and checkpoints; ``retention_days`` the configured retention purges
    must respect; ``series`` the exported checkpoints the chain must still match."""
    opener: Opener = (lambda: contextlib.nullcontext(store)) if isinstance(store, duckdb.DuckDBPyConnection) else store
    with opener() as con:
        chain = entries(con)
        problems = list(_coverage(con, chain))
    problems += _links(chain)
    batches = [e for e in chain if e.kind == "batch"]
    problems += _contents(opener, batches, _purged(chain))
    checked, unchecked, issues = purge_checks.check(chain, public_key, retention_days)
    problems += [Problem(*issue) for issue in issues]
    known = {e.batch_hash for e in chain}
    last = chain[-1] if chain else None
    problems += [
        Problem(_position(last), last.seq if last else 0, f"anchored head {a} is not in the chain: it was rewritten")
        for a in anchors
        if a not in known
    ]
    checkpointed, issues = checkpoints.check(series, chain, public_key) if series is not None else (0, [])
    problems += [Problem(*issue) for issue in issues]
    newest = series.newest if series is not None else None
    return VerifyResult(len(chain), last, tuple(sorted(problems)), checked, unchecked, checkpointed, newest)


def _name(entry: ChainEntry) -> str:
    if entry.kind == "decision":
        return f"finding decision (entry {entry.seq})"
    return f"batch {entry.batch_id}" if entry.kind == "batch" else f"purge checkpoint (entry {entry.seq})"


def _position(entry: ChainEntry | None) -> int:
    return entry.batch_id if entry is not None and entry.batch_id is not None else 0


def _links(chain: Sequence[ChainEntry]) -> Iterator[Problem]:
    previous_hash, expected_seq, position = "0" * 64, 1, 0
    for entry in chain:
        position = entry.batch_id if entry.batch_id is not None else position
        if entry.seq != expected_seq:
            yield Problem(position, entry.seq, f"chain entries {expected_seq}..{entry.seq - 1} were removed")
        elif entry.previous_hash != previous_hash:
            yield Problem(position, entry.seq, f"{_name(entry)}: does not follow entry {entry.seq - 1} (changed?)")
        if entry_hash(entry) != entry.batch_hash:
            yield Problem(position, entry.seq, f"{_name(entry)}: chain entry {entry.seq} was edited")
        previous_hash, expected_seq = entry.batch_hash, entry.seq + 1


def _purged(chain: Sequence[ChainEntry]) -> dict[str, list[tuple[int, int]]]:
    """Batch ranges each table's purges removed."""
    ranges: dict[str, list[tuple[int, int]]] = {t.name: [] for t in AUDIT_TABLES}
    for entry in chain:
        if entry.kind == "purge" and entry.detail:
            for table, removed in json.loads(entry.detail).get("tables", {}).items():
                ranges.setdefault(table, []).extend((lo, hi) for lo, hi in removed.get("batches", []))
    return ranges


def _groups(batches: Sequence[ChainEntry]) -> Iterator[list[ChainEntry]]:
    """Consecutive entries holding at most GROUP_ROWS rows together (one query per table per group)."""
    group: list[ChainEntry] = []
    rows = 0
    for entry in sorted(batches, key=lambda e: e.batch_id or 0):
        size = sum(entry.counts().values())
        if group and rows + size > GROUP_ROWS:
            yield group
            group, rows = [], 0
        group.append(entry)
        rows += size
    if group:
        yield group


def _contents(
    opener: Opener, batches: Sequence[ChainEntry], purged: dict[str, list[tuple[int, int]]]
) -> Iterator[Problem]:
    for group in _groups(batches):
        lo, hi = group[0].batch_id or 0, group[-1].batch_id or 0
        with opener() as con:
            found_by_table = {t.name: {b: (n, d) for b, n, d in digests_by_batch(con, t, lo, hi)} for t in AUDIT_TABLES}
        for table in AUDIT_TABLES:
            found = found_by_table[table.name]
            for entry in group:
                batch_id = entry.batch_id or 0
                gone = any(a <= batch_id <= b for a, b in purged.get(table.name, []))
                found_n, found_d = found.get(batch_id, (0, EMPTY_DIGEST))
                if gone:
                    message = f"{table.name} holds {found_n} rows a purge removed (inserted since)" if found_n else None
                else:
                    sealed = (entry.counts()[table.name], entry.digests()[table.name])
                    message = _compare(table.name, sealed, (found_n, found_d))
                if message:
                    yield Problem(batch_id, entry.seq, f"batch {batch_id}: {message}")


def _compare(table: str, sealed: tuple[int, str | None], found: tuple[int, str]) -> str | None:
    (sealed_n, sealed_d), (found_n, found_d) = sealed, found
    if found_n < sealed_n:
        return f"{table} holds {found_n} rows, the chain sealed {sealed_n}: rows were deleted"
    if found_n > sealed_n:
        return f"{table} holds {found_n} rows, the chain sealed {sealed_n}: rows were inserted"
    if found_d != sealed_d:
        return f"{table}: its {found_n} rows differ from what the chain sealed: rows were changed"
    return None


def _coverage(con: duckdb.DuckDBPyConnection, chain: Sequence[ChainEntry]) -> Iterator[Problem]:
    after = max((e.seq for e in chain), default=0)
    for batch_id in unsealed_batches(con):
        counts = {
            t.name: con.execute(f"SELECT count(*) FROM {t.name} WHERE batch_id = $b", {"b": batch_id}).fetchall()[0][0]  # noqa: S608
            for t in AUDIT_TABLES
        }
        held = ", ".join(f"{n} rows in {t}" for t, n in counts.items() if n)
        if held:
            yield Problem(
                batch_id,
                after,
                f"batch {batch_id}: {held} not covered by the chain (inserted directly, or written without the"
                " chain hook: `regaudit verify --seal` seals it if you trust it)",
            )
