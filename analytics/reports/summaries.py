"""The report's summary tables, computed from exactly the activity rows and findings the report exports.

Counting rules (the HTML report's "Method" section says the same):

- pushes: image-level pushes (manifest pushes, tagged or by digest), deletes and mounts: their actions;
- pulls: ``counts_as_pull`` (a manifest download, counted once per client, repository and manifest; HEAD checks
  and blob fetches are not pulls), head checks: ``is_check``;
- overwrites: pushes that moved an existing tag to another digest;
- failed logins: logins nginx refused (401/403 on ``/v2/`` or the token endpoint) for a claimed user;
- refused: other requests only nginx saw and refused (4xx), audit gaps: requests nginx served with no
  notification from the registry;
- findings: those about the repository (or the identity), by status.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pyarrow as pa

_COUNTS = """
    count(*) FILTER (WHERE action = 'push' AND source = 'registry') AS pushes,
    count(*) FILTER (WHERE counts_as_pull) AS pulls,
    count(*) FILTER (WHERE is_check AND source = 'registry') AS head_checks,
    count(*) FILTER (WHERE action = 'delete' AND source = 'registry') AS deletes,
    count(*) FILTER (WHERE action = 'mount') AS mounts,
    count(*) FILTER (WHERE overwrite) AS overwrites,
    count(*) FILTER (WHERE action = 'login') AS failed_logins,
    count(*) FILTER (WHERE source = 'proxy' AND action <> 'login' AND NOT audit_gap) AS refused,
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
       count(*) FILTER (WHERE counts_as_pull) AS pulls,
       count(*) FILTER (WHERE action = 'push' AND source = 'registry') AS pushes,
       count(*) FILTER (WHERE action = 'delete' AND source = 'registry') AS deletes,
       count(*) FILTER (WHERE action = 'login') AS failed_logins
FROM activity GROUP BY day ORDER BY day
"""

PULLS_SQL = """
SELECT identity, repository, count(*) AS pulls, count(DISTINCT digest) AS digests,
       count(DISTINCT client_addr) AS client_addrs, min(occurred_at) AS first_at, max(occurred_at) AS last_at
FROM activity WHERE counts_as_pull GROUP BY identity, repository ORDER BY pulls DESC, identity, repository
"""

CHANGES_SQL = """
SELECT occurred_at, action, identity, repository, tag, digest, previous_digest, overwrite, client_addr
FROM activity
WHERE source = 'registry' AND action IN ('push', 'delete', 'mount')
ORDER BY occurred_at, activity_id
"""

LOGINS_SQL = """
SELECT identity AS claimed_user, client_addr, count(*) AS refused, min(proxy_status) AS status,
       min(occurred_at) AS first_at, max(occurred_at) AS last_at
FROM activity WHERE action = 'login' GROUP BY identity, client_addr ORDER BY refused DESC, claimed_user, client_addr
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
