"""The derived tables' upkeep (``derive.sql``) for one stored batch: its statements, run per time range of the
batch's rows, and the queue of ranges a batch scattered over years leaves for later (``derive_pending.sql``).

The DuckDB sink runs ``derive`` inside each batch's transaction (``regaudit.ingest.sinks.duckdb``), ``regaudit
verify`` runs it again on a replica (``regaudit.evidence.verify_derived``), and a store upgrade runs one step over
the stored rows (``derive_step``). A batch's rows are split into time ranges at gaps over RANGE_GAP; each windowed
statement (binding ``$lo``/``$hi``) runs once per range and looks only around it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any, NamedTuple

import duckdb
import numpy as np
import pyarrow as pa

from regaudit.ingest import rollup_delta
from regaudit.ingest.normalize import NormalizedBatch

log = logging.getLogger(__name__)

_DERIVE = resources.files("regaudit.ingest").joinpath("derive.sql").read_text(encoding="utf-8")
DERIVE_STEPS: list[tuple[str, str]] = [
    (match.group(1), match.group(2).strip())
    for match in re.finditer(r"-- name: (\w+)\n(.*?)(?=\n-- name: |\Z)", _DERIVE, flags=re.S)
]


#: how far the notification feed must have moved past a served manifest request before it counts as an audit gap
GAP_GRACE_SECONDS = 120


def derive(
    con: duckdb.DuckDBPyConnection,
    batch_id: int,
    default_registry: str,
    gap_grace_seconds: int,
    skip_stored: bool = True,
    ranges: list[TimeRange] | None = None,
) -> int:
    """Bring the derived tables up to date for one stored batch; also how ``regaudit verify`` rebuilds them
    (``regaudit.evidence.verify_derived``), so the two can never drift apart. ``ranges``: the new rows' time
    ranges when the caller knows them (``batch_time_ranges``), else read from the store (``time_ranges``).

    Of more than MAX_RANGES ranges, the MAX_RANGES holding the most rows are derived now and the others queued
    (``derive_pending``); then up to DRAIN_RANGES ranges earlier batches queued are derived (``drain_pending``).
    Returns how many ranges wait in the queue after the batch.

    Without ``skip_stored``, the steps that derive one row per new row of the batch (``NEW_ROWS_ONLY``) insert
    plainly instead of ``ON CONFLICT DO NOTHING``, as the sink's first attempt does: a key refusing a row raises
    ``duckdb.ConstraintException``, and the sink writes the batch again with it.

    A batch of one range keeps the daily rollups by its window's difference (``rollup_delta``); one of several sums
    each range's touched keys again, as a queued range and a purge's refresh do."""
    params: dict[str, Any] = {
        "batch_id": batch_id,
        "default_registry": default_registry,
        "gap_grace_seconds": gap_grace_seconds,
    }
    ranges = ranges or time_ranges(con, batch_id)
    params["earliest"] = ranges[0].lo  # for a step run once per batch that reads from the batch's start on
    now, later = _now_and_later(ranges)
    delta = len(now) == 1 and rollup_delta.pays(now[0].lo, now[0].hi)
    _run(con, _STATEMENTS[delta, skip_stored], now, params)
    if later:
        log.warning(
            "batch=%d has %d time ranges: %d derived now, %d queued (derive_pending)",
            batch_id, len(ranges), len(now), len(later),
        )  # fmt: skip
        con.execute(
            "INSERT INTO derive_pending SELECT $b, unnest($los), unnest($his), unnest($rows), NULL",
            {"b": batch_id, "los": [r.lo for r in later], "his": [r.hi for r in later],
             "rows": [r.rows for r in later]},
        )  # fmt: skip
    return drain_pending(con, batch_id, default_registry, gap_grace_seconds, queued_before=batch_id)


def drain_pending(
    con: duckdb.DuckDBPyConnection,
    batch_id: int,
    default_registry: str,
    gap_grace_seconds: int,
    queued_before: int | None = None,
) -> int:
    """Derive up to DRAIN_RANGES queued ranges (oldest batch first; with ``queued_before``, only those of earlier
    batches) with the steps that work per range (``RANGE_STATEMENTS``), mark them derived by ``batch_id``, and
    return how many still wait. Ranges within RANGE_GAP of each other are derived as one, as a batch's are."""
    taken = con.execute(
        """SELECT batch_id, lo, hi, rows_count FROM derive_pending
           WHERE derived_by IS NULL AND ($before IS NULL OR batch_id < $before)
           ORDER BY batch_id, lo LIMIT $n""",
        {"before": queued_before, "n": DRAIN_RANGES},
    ).fetchall()
    if taken:
        params = {"default_registry": default_registry, "gap_grace_seconds": gap_grace_seconds}
        _run(con, RANGE_STATEMENTS, _merged(TimeRange(lo, hi, n) for _, lo, hi, n in taken), params)
        con.execute(
            """UPDATE derive_pending AS p SET derived_by = $by
               FROM (SELECT unnest($batches) AS batch_id, unnest($los) AS lo) AS t
               WHERE p.batch_id = t.batch_id AND p.lo = t.lo""",
            {"by": batch_id, "batches": [row[0] for row in taken], "los": [row[1] for row in taken]},
        )
    return queued(con)


def queued(con: duckdb.DuckDBPyConnection) -> int:
    """How many time ranges wait in ``derive_pending``."""
    waiting = con.execute("SELECT count(*) FROM derive_pending WHERE derived_by IS NULL").fetchall()
    return int(waiting[0][0])


def _run(
    con: duckdb.DuckDBPyConnection,
    statements: list[tuple[str, frozenset[str]]],
    ranges: list[TimeRange],
    params: dict[str, Any],
) -> None:
    """Each statement in turn; a windowed one (binding ``$lo``/``$hi``) once per range before the next."""
    lines_near = _lines_near(con, ranges)
    for statement, names in statements:
        if statement in _LINE_STATEMENTS and not lines_near:
            continue
        windowed = "lo" in names or "hi" in names
        for lo, hi, _ in ranges if windowed else [(None, None, 0)]:
            bound = params | {"lo": lo, "hi": hi}
            con.execute(statement, {name: bound[name] for name in names})


def _now_and_later(ranges: list[TimeRange]) -> tuple[list[TimeRange], list[TimeRange]]:
    """The ranges derived with the batch (all, or the MAX_RANGES holding the most rows, the earlier first among
    equals) and those queued, each in time order."""
    if len(ranges) <= MAX_RANGES:
        return ranges, []
    chosen = set(sorted(range(len(ranges)), key=lambda i: (-ranges[i].rows, i))[:MAX_RANGES])
    return [r for i, r in enumerate(ranges) if i in chosen], [r for i, r in enumerate(ranges) if i not in chosen]


def _merged(ranges: Iterable[TimeRange]) -> list[TimeRange]:
    """Ranges in time order, those overlapping or within RANGE_GAP of each other joined."""
    merged: list[TimeRange] = []
    for r in sorted(ranges):
        if merged and r.lo - merged[-1].hi <= RANGE_GAP:
            last = merged[-1]
            merged[-1] = TimeRange(last.lo, max(last.hi, r.hi), last.rows + r.rows)
        else:
            merged.append(r)
    return merged


def _lines_near(con: duckdb.DuckDBPyConnection, ranges: list[TimeRange]) -> bool:
    """Whether any access-log line lies where ``LINE_STEPS`` look, from an hour and 3 minutes before the batch's
    first range to 3 minutes past its last (the batch's own lines among them): a batch of notification events
    with none there (a store fed no access log, a dump of notifications imported first) skips those steps."""
    found = con.execute(
        "SELECT count(*) FROM (SELECT 1 FROM access_log WHERE request_at BETWEEN $lo AND $hi LIMIT 1)",
        {"lo": ranges[0].lo - LINE_STEPS_BEFORE, "hi": ranges[-1].hi + LINE_STEPS_AFTER},
    )
    return bool(found.fetchall()[0][0])


def derive_step(con: duckdb.DuckDBPyConnection, name: str, lo: datetime, hi: datetime) -> None:
    """Run one named derive step over the time range lo..hi (a store upgrade's backfill of a new step)."""
    sql = dict(DERIVE_STEPS)[name]
    for statement in statements(sql):
        names = _names(statement)
        con.execute(statement, {key: value for key, value in {"lo": lo, "hi": hi}.items() if key in names})


def statements(sql: str) -> list[str]:
    """Split a step into statements on semicolons at line ends (the steps hold no literal semicolons)."""
    return [part.strip() for part in re.split(r";\s*\n", sql + "\n") if part.strip() and not _only_comments(part)]


def _names(statement: str) -> frozenset[str]:
    """The ``$names`` a statement binds."""
    return frozenset(re.findall(r"\$(\w+)", statement))


def _only_comments(part: str) -> bool:
    return all(not line.strip() or line.strip().startswith("--") for line in part.splitlines())


#: the line in each rollup step of derive.sql before its statements that sum the gathered keys again
_SUMMED_AGAIN = re.compile(r"^-- summed again:.*\n", flags=re.M)


def _delta_steps() -> list[tuple[str, list[str]]]:
    """The steps as a batch of one range runs them: the window's rows copied first, and each rollup step's keys
    gathered by the window's difference (``rollup_delta``) instead of from the window, before its statements that
    sum keys again; the copies dropped after the last rollup step."""
    steps = [("rollup_before", list(rollup_delta.BEFORE))]
    for name, sql in DERIVE_STEPS:
        if name not in rollup_delta.STEPS:
            steps.append((name, statements(sql)))
            continue
        _gathered, summed = _SUMMED_AGAIN.split(sql)
        done = rollup_delta.DONE if name == list(rollup_delta.STEPS)[-1] else []
        steps.append((name, [*rollup_delta.step(name), *statements(summed), *done]))
    return steps


#: a batch of one range's steps, by name (``bench/ingest_batches.py`` times them)
DELTA_STEPS = _delta_steps()
#: Steps whose rows are keyed by a new row of the batch (an event's or an access line's key), so that they meet no
#: stored key unless the batch's rows were stored before. ON CONFLICT checks row by row against image_activity's
#: key, and that grows with it: 10,000 rows cost 0.32-0.42 s CPU at 10M stored events, 0.02 s plainly.
NEW_ROWS_ONLY = frozenset({"activity_from_events", "proxy_only_failures", "proxy_only_pulls"})
_CONFLICT = "\nON CONFLICT DO NOTHING"


def _bound(steps: Iterable[tuple[str, list[str]]], plain: bool) -> list[tuple[str, frozenset[str]]]:
    """Every statement of the steps in order with the ``$names`` it binds; with ``plain``, the steps of
    ``NEW_ROWS_ONLY`` insert plainly."""
    return [
        (statement.removesuffix(_CONFLICT) if plain and name in NEW_ROWS_ONLY else statement, _names(statement))
        for name, step_statements in steps
        for statement in step_statements
    ]


_DERIVE_STEP_STATEMENTS = [(name, statements(sql)) for name, sql in DERIVE_STEPS]
#: the statements a batch runs, split once: by (its rollups kept by the difference, skipping stored rows)
_STATEMENTS: dict[tuple[bool, bool], list[tuple[str, frozenset[str]]]] = {
    (delta, skip_stored): _bound(DELTA_STEPS if delta else _DERIVE_STEP_STATEMENTS, plain=not skip_stored)
    for delta in (False, True)
    for skip_stored in (False, True)
}

#: Steps that pair, mark or count access-log lines: each reads only lines from 63 minutes before a range
#: (mark_audit_gaps: an hour, and LINE_REACH's 3 minutes) to 3 minutes after it, or the batch's own lines, and
#: changes nothing where there are none (``_lines_near``); run all the same, they cost a batch of 25,000 events
#: with no line stored 0.04 s CPU of about 0.9 (planning and empty scans).
LINE_STEPS = frozenset(
    {"join_proxy", "join_proxy_mounts", "proxy_only_failures", "proxy_only_pulls", "clear_closed_gaps",
     "mark_audit_gaps", "daily_logins"}
)  # fmt: skip
LINE_STEPS_BEFORE, LINE_STEPS_AFTER = timedelta(minutes=63), timedelta(minutes=3)
_LINE_STATEMENTS = frozenset(
    text
    for name, sql in DERIVE_STEPS
    if name in LINE_STEPS
    for statement in statements(sql)
    for text in (statement, statement.removesuffix(_CONFLICT))
)

#: A batch's rows are split into time ranges wherever two neighbours are further apart than this (longer than
#: any margin a derive step looks around its range), and each range is re-derived on its own: a late event from
#: last week then costs a look at last week's few minutes, not at the whole week in between. Every range costs
#: each windowed statement once more, so quiet hours are not worth a split: a backlog batch spanning a week
#: was 4.7 ranges at 2 hours and 1.9 at 12, and its derive 30% faster (same rows).
RANGE_GAP = timedelta(hours=12)
#: Ranges derived with their batch at most: those holding the most rows; the others are queued
#: (``derive_pending.sql``). Each range costs every windowed statement once (about 40 ms for a range with nothing
#: stored around it), so a batch scattered over years costs a bounded time, not a look at every stored row (until
#: schema 21, a batch of more ranges was derived as one range from its first row to its last).
MAX_RANGES = 64
#: Queued ranges a batch derives after its own at most (and a batch of no rows, ``DuckDBSink.drain``): what a
#: stream of scattered batches adds to each live one.
DRAIN_RANGES = 16


class TimeRange(NamedTuple):
    lo: datetime
    hi: datetime
    #: the batch's rows in it (for a queued range derived with others, theirs summed)
    rows: int


#: the statements of the steps that work per time range (their windowed statements and the temporary tables
#: around them), which a queued range is derived with: the steps run once per batch on its rows are not
_RANGE_STEPS = frozenset(
    name for name, sql in DERIVE_STEPS for statement in statements(sql) if re.search(r"\$(lo|hi)\b", statement)
)
RANGE_STATEMENTS = [
    (statement, _names(statement))
    for name, sql in DERIVE_STEPS
    if name in _RANGE_STEPS
    for statement in statements(sql)
]


def time_ranges(con: duckdb.DuckDBPyConnection, batch_id: int) -> list[TimeRange]:
    """The time ranges of the batch's new rows, separated by gaps over RANGE_GAP, with their rows."""
    rows = con.execute(
        """
        WITH t AS (
            SELECT event_at AS t FROM registry_events WHERE batch_id = $b
            UNION ALL SELECT request_at FROM access_log WHERE batch_id = $b),
        breaks AS (SELECT t, coalesce(t - lag(t) OVER (ORDER BY t) > $gap, FALSE)::INTEGER AS starts FROM t),
        ranges AS (SELECT t, sum(starts) OVER (ORDER BY t ROWS UNBOUNDED PRECEDING) AS n FROM breaks)
        SELECT min(t), max(t), count(*) FROM ranges GROUP BY n ORDER BY n
        """,
        {"b": batch_id, "gap": RANGE_GAP},
    ).fetchall()
    return [TimeRange(lo, hi, int(n)) for lo, hi, n in rows]


def batch_time_ranges(batch: NormalizedBatch) -> list[TimeRange]:
    """``time_ranges`` of a batch whose rows were all stored as given, from its Arrow columns: the same split
    (neighbours further apart than RANGE_GAP), without reading the rows back to sort them in SQL."""
    unit = pa.timestamp("us", tz="UTC")
    columns = (batch.events.column("event_at"), batch.access.column("request_at"))
    chunks = [chunk.cast(unit) for column in columns for chunk in column.chunks]
    micros = np.sort(pa.chunked_array(chunks, unit).cast(pa.int64()).to_numpy())
    starts = np.flatnonzero(np.diff(micros) > RANGE_GAP // timedelta(microseconds=1)) + 1
    firsts, lasts = [0, *starts.tolist()], [*(starts - 1).tolist(), len(micros) - 1]
    return [
        TimeRange(_moment(micros[first]), _moment(micros[last]), last - first + 1)
        for first, last in zip(firsts, lasts, strict=True)
    ]


def _moment(micros: np.int64) -> datetime:
    return _EPOCH + timedelta(microseconds=int(micros))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
