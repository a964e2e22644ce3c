"""A fault at our own seam: one more batch hook that raises on a marker record, for the isolation tests.

After the time window, no known input passes validation and still breaks the writer; this stands in for the next
one nobody foresaw. ``python -m tests.ingest.poisoned_regaudit <command> ...`` is the real ``regaudit`` program
(consume, webhook) with the hook appended to ``BATCH_HOOKS``, so the real processes meet the fault.
"""

from __future__ import annotations

import duckdb

from regaudit.ingest import hooks

#: events whose id starts with this, and access lines whose URI holds it, break the batch they are in
MARKER = "poison-"

_FOUND = """
SELECT count(*) FROM (
    SELECT event_id FROM registry_events WHERE batch_id = $b AND starts_with(event_id, $marker)
    UNION ALL SELECT line_key FROM access_log WHERE batch_id = $b AND contains(uri, $marker))
"""


class PoisonError(RuntimeError):
    """What the hook raises: an error no code path expects."""


def refuse_marker(con: duckdb.DuckDBPyConnection, batch_id: int, settings: object = None) -> None:
    """Batch hook: fail the transaction when the batch stored a marker record."""
    if con.execute(_FOUND, {"b": batch_id, "marker": MARKER}).fetchall()[0][0]:
        raise PoisonError("a marker record reached the batch hooks")


if __name__ == "__main__":
    from regaudit.cli import main

    hooks.BATCH_HOOKS.append("tests.ingest.poisoned_regaudit:refuse_marker")
    raise SystemExit(main())
