"""The report's summary tables, computed from exactly the activity rows and findings the report exports.

Counting rules: each activity row's ``counted_as``, from the store's view ``counted_activity``
(``ingest/counting.sql``, the same rules as the dashboard's; the HTML report's "Method" section says them in words):

- pushes, pulls, head checks, deletes, mounts: the rows counted as such (audit gaps included: a request nginx
  served is done even when the registry did not notify it);
- overwrites: pushes that moved an existing tag to another digest;
- failed logins: refused rows whose action is ``login`` (401/403 on ``/v2/`` or the token endpoint for a claimed
  user); refused: the other refused rows (requests only nginx saw and refused, 4xx);
- audit gaps: requests nginx served with no notification from the registry;
- findings: those about the repository (or the identity), by status.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pyarrow as pa

_COUNTS = """
    count(*) FILTER (WHERE counted_as = 'push') AS pushes,
    count(*) FILTER (WHERE counted_as = 'pull') AS pulls,
    count(*) FILTER (WHERE counted_as = 'check') AS head_checks,
    count(*) FILTER (WHERE counted_as = 'delete') AS deletes,
    count(*) FILTER (WHERE counted_as = 'mount') AS mounts,
    count(*) FILTER (WHERE overwrite) AS overwrites,
    count(*) FILTER (WHERE counted_as = 'refused' AND action = 'login') AS failed_logins,
    count(*) FILTER (WHERE counted_as = 'refused' AND action <> 'login') AS refused,
    count(*) FILTER (WHERE audit_gap) AS audit_gaps"""

_FINDING_COUNTS = """
    coalesce(f.open, 0) AS findings_open, coalesce(f.acknowledged, 0) AS findings_acknowledged,
    coalesce(f.suppressed, 0) AS findings_suppressed"""


def _findings_by(column: str) -> str:
    """Findings by the repository or identity they are about, counted by status."""
    return f"""
    SELECT {column} AS name, count(*) FILTER (WHERE status = 'open') AS open,
           count(*) FILTER (WHERE status = 'acknowledged') AS acknowledged,
           count(*) FILTER (WHERE status = 'suppressed') AS suppressed
    FROM findings WHERE {column} IS NOT NULL
    GROUP BY {column}"""  # noqa: S608 - a column name of this module


REPOSITORIES_SQL = f"""
WITH f AS ({_findings_by("repository")})
SELECT a.repository, {_COUNTS}, count(DISTINCT identity) AS identities, {_FINDING_COUNTS}
FROM activity a LEFT JOIN f ON f.name = a.repository
GROUP BY a.repository, f.open, f.acknowledged, f.suppressed
ORDER BY pushes + pulls + deletes DESC, a.repository
"""  # noqa: S608 - fixed fragments

IDENTITIES_SQL = f"""
WITH f AS ({_findings_by("identity")})
SELECT a.identity, any_value(credential_kind) AS credential_kind, any_value(credential_owner) AS credential_owner,
       {_COUNTS}, count(DISTINCT repository) AS repositories, count(DISTINCT client_addr) AS client_addrs,
       min(occurred_at) AS first_at, max(occurred_at) AS last_at, {_FINDING_COUNTS}
FROM activity a LEFT JOIN f ON f.name = a.identity
GROUP BY a.identity, f.open, f.acknowledged, f.suppressed
ORDER BY pushes + pulls + deletes DESC, a.identity
"""  # noqa: S608 - fixed fragments

TOTALS_SQL = f"""
SELECT count(*) AS activity_rows, {_COUNTS}, count(DISTINCT identity) AS identities,
       count(DISTINCT repository) AS repositories
FROM activity
"""  # noqa: S608 - fixed fragments

DAILY_SQL = """
SELECT CAST(occurred_at AT TIME ZONE 'UTC' AS DATE) AS day,
       count(*) FILTER (WHERE counted_as = 'pull') AS pulls,
       count(*) FILTER (WHERE counted_as = 'push') AS pushes,
       count(*) FILTER (WHERE counted_as = 'delete') AS deletes,
       count(*) FILTER (WHERE counted_as = 'refused' AND action = 'login') AS failed_logins
FROM activity GROUP BY day ORDER BY day
"""

PULLS_SQL = """
SELECT identity, repository, count(*) AS pulls, count(DISTINCT digest) AS digests,
       count(DISTINCT client_addr) AS client_addrs, min(occurred_at) AS first_at, max(occurred_at) AS last_at
FROM activity WHERE counted_as = 'pull' GROUP BY identity, repository ORDER BY pulls DESC, identity, repository
"""

CHANGES_SQL = """
SELECT occurred_at, action, identity, repository, tag, digest, previous_digest, overwrite, client_addr
FROM activity
WHERE counted_as IN ('push', 'delete', 'mount')
ORDER BY occurred_at, activity_id
"""

LOGINS_SQL = """
SELECT identity AS claimed_user, client_addr, count(*) AS refused, min(proxy_status) AS status,
       min(occurred_at) AS first_at, max(occurred_at) AS last_at
FROM activity WHERE counted_as = 'refused' AND action = 'login'
GROUP BY identity, client_addr ORDER BY refused DESC, claimed_user, client_addr
"""


@dataclass(frozen=True)
class Summaries:
    repositories: pa.Table
    identities: pa.Table
    totals: dict[str, int]
    daily: pa.Table
    pulls: pa.Table
    changes: pa.Table
    logins: pa.Table


def summarize(con: duckdb.DuckDBPyConnection) -> Summaries:
    """Compute the summaries over the tables ``activity`` and ``findings`` registered on ``con``."""
    totals_cursor = con.execute(TOTALS_SQL)
    names = [column[0] for column in totals_cursor.description or ()]
    totals = {name: int(value or 0) for name, value in zip(names, totals_cursor.fetchall()[0], strict=True)}
    for status in ("open", "acknowledged", "suppressed"):
        found = con.execute("SELECT count(*) FROM findings WHERE status = $s", {"s": status}).fetchall()
        totals[f"findings_{status}"] = int(found[0][0])
    return Summaries(
        repositories=con.sql(REPOSITORIES_SQL).to_arrow_table(),
        identities=con.sql(IDENTITIES_SQL).to_arrow_table(),
        totals=totals,
        daily=con.sql(DAILY_SQL).to_arrow_table(),
        pulls=con.sql(PULLS_SQL).to_arrow_table(),
        changes=con.sql(CHANGES_SQL).to_arrow_table(),
        logins=con.sql(LOGINS_SQL).to_arrow_table(),
    )
