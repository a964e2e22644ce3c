"""What a report reads from the store: one read-only connection, a few parameterized queries, Arrow tables out.

``ACTIVITY_SQL`` is the report's core and is written verbatim into the manifest with its parameters: every row of
``image_activity`` in the period and scope, with what an auditor needs beside it (what the row counts as, from the
store's view ``counted_activity``, so the totals follow from the rows; the credential's kind and owner from the
latest inventory import; for a push, whether it overwrote the tag and what the tag held before).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa

from regaudit.analytics.detection import severity_order_sql
from regaudit.analytics.reports.scope import ANONYMOUS, Period, Scope, iso

_IN_SCOPE = """
      AND (len($repositories::VARCHAR[]) = 0
           OR list_bool_or(list_transform($repositories::VARCHAR[], lambda p: a.repository GLOB p)))
      AND (len($identities::VARCHAR[]) = 0
           OR list_bool_or(list_transform($identities::VARCHAR[], lambda p: coalesce(a.actor, $anonymous) GLOB p)))
      AND (len($actions::VARCHAR[]) = 0 OR list_contains($actions::VARCHAR[], a.action))"""

ACTIVITY_SQL = f"""
WITH credential AS (
    SELECT name, arg_max(kind, imported_at) AS kind, arg_max(owner, imported_at) AS owner
    FROM credentials GROUP BY name
)
SELECT a.occurred_at, a.registry, a.repository, a.tag, a.digest, a.action,
       coalesce(a.actor, $anonymous) AS identity, c.kind AS credential_kind, c.owner AS credential_owner,
       a.client_addr, a.user_agent, a.counts_as_pull, a.is_check, a.counted_as,
       coalesce(h.is_overwrite, FALSE) AS overwrite, h.previous_digest,
       a.from_repository, a.blob_bytes, a.proxy_status, a.source, a.audit_gap, a.blob_only,
       a.activity_id, a.request_id, a.proxy_line_key
FROM counted_activity a
LEFT JOIN tag_history h
       ON a.action = 'push' AND h.registry = a.registry AND h.repository = a.repository AND h.tag = a.tag
      AND a.activity_id = 'ev:' || h.registry || ':' || h.event_id
LEFT JOIN credential c ON c.name = a.actor
WHERE a.occurred_at >= $start AND a.occurred_at < $end{_IN_SCOPE}
ORDER BY a.occurred_at, a.activity_id
"""  # noqa: S608 - a fixed fragment; every value is a bound parameter

# A finding is in scope when the repository or the identity it is about matches a pattern of the scope; with neither
# in the scope, every finding whose window meets the period is in.
FINDINGS_SQL = f"""
SELECT finding_id, detection_id, severity, subject, registry, repository, tag, digest, identity, client_addr,
       window_start_at, window_end_at, first_seen_at, last_seen_at, status, status_by, status_at, status_reason,
       summary
FROM findings
WHERE coalesce(window_start_at, first_seen_at) < $end AND coalesce(window_end_at, last_seen_at) >= $start
  AND ((len($repositories::VARCHAR[]) = 0 AND len($identities::VARCHAR[]) = 0)
       OR list_bool_or(list_transform($repositories::VARCHAR[], lambda p: repository GLOB p))
       OR list_bool_or(list_transform($identities::VARCHAR[], lambda p: identity GLOB p)))
ORDER BY {severity_order_sql()}, window_start_at, finding_id
"""  # noqa: S608 - the order is generated from Severity; every value is a bound parameter

COVERAGE_SQL = """
SELECT (SELECT min(event_at) FROM registry_events) AS events_from_at,
       (SELECT max(event_at) FROM registry_events) AS events_to_at,
       (SELECT max(committed_at) FROM ingest_batches) AS last_batch_at,
       (SELECT count(*) FROM ingest_batches) AS batches_count,
       (SELECT count(*) FROM dead_letters WHERE received_at >= $start AND received_at < $end) AS dead_letters_count,
       (SELECT count(*) FROM registry_events WHERE event_at >= $start AND event_at < $end) AS events_count,
       (SELECT count(*) FROM access_log WHERE request_at >= $start AND request_at < $end) AS access_count
"""


@dataclass(frozen=True)
class Extract:
    """Everything a report is made of, read in one connection (one snapshot)."""

    activity: pa.Table
    findings: pa.Table
    coverage: dict[str, Any]


def parameters(period: Period, scope: Scope) -> dict[str, Any]:
    return {
        "start": period.start,
        "end": period.end,
        "repositories": list(scope.repositories),
        "identities": list(scope.identities),
        "actions": list(scope.actions),
        "anonymous": ANONYMOUS,
    }


def manifest_queries(period: Period, scope: Scope) -> dict[str, Any]:
    """The queries with their parameters, as the manifest records them."""
    values = {k: iso(v) if isinstance(v, datetime) else v for k, v in parameters(period, scope).items()}
    return {
        "activity": {"sql": ACTIVITY_SQL.strip(), "parameters": values},
        "findings": {"sql": FINDINGS_SQL.strip(), "parameters": {k: values[k] for k in _FINDINGS_PARAMS}},
    }


_FINDINGS_PARAMS = ("start", "end", "repositories", "identities")


def extract(con: duckdb.DuckDBPyConnection, period: Period, scope: Scope) -> Extract:
    """Run the report's queries on one connection."""
    params = parameters(period, scope)
    activity = con.sql(ACTIVITY_SQL, params=params).to_arrow_table()
    findings = con.sql(FINDINGS_SQL, params={k: params[k] for k in _FINDINGS_PARAMS}).to_arrow_table()
    cursor = con.execute(COVERAGE_SQL, {"start": period.start, "end": period.end})
    names = [column[0] for column in cursor.description or ()]
    coverage = dict(zip(names, cursor.fetchall()[0], strict=True))
    return Extract(activity, findings, coverage)
