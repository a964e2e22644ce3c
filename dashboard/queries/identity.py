"""One identity: its repositories, client addresses and user agents, first and last seen, and the credential
inventory's record of it. ``identities`` lists them for the picker. Rows without an identity are
``(anonymous)``."""

from __future__ import annotations

import duckdb
import pandas as pd

from regaudit.dashboard.queries.common import IDENTITY, frame, identity_condition


def identities(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every identity with activity or a credential record, with when it was last seen."""
    sql = f"""
        SELECT identity, max(last_at) AS last_at FROM (
            SELECT {IDENTITY} AS identity, max(occurred_at) AS last_at FROM image_activity GROUP BY identity
            UNION ALL
            SELECT name, NULL FROM credentials
        ) GROUP BY identity ORDER BY identity
    """  # noqa: S608 - constant fragments
    return frame(con, sql)


def identity_summary(con: duckdb.DuckDBPyConnection, identity: str) -> pd.DataFrame:
    """First and last seen, and what the identity did over all time."""
    condition, params = identity_condition(identity)
    sql = f"""
        SELECT min(occurred_at) AS first_at, max(occurred_at) AS last_at,
               count(*) FILTER (WHERE counted_as = 'pull') AS pulls_count,
               count(*) FILTER (WHERE counted_as = 'push') AS pushes_count,
               count(*) FILTER (WHERE counted_as = 'delete') AS deletes_count,
               count(*) FILTER (WHERE counted_as = 'refused') AS refused_count,
               count(DISTINCT repository) FILTER (WHERE repository <> '') AS repositories_count,
               count(DISTINCT client_addr) AS addresses_count,
               count(DISTINCT agent) AS user_agents_count,
               coalesce(sum(blob_bytes) FILTER (WHERE counted_as = 'pull'), 0) AS pulled_bytes
        FROM (SELECT occurred_at, repository, client_addr, blob_bytes, counted_as,
                     coalesce(user_agent, proxy_user_agent) AS agent
              FROM counted_activity WHERE {condition})
    """  # noqa: S608 - constant fragments
    return frame(con, sql, params)


def identity_repositories(con: duckdb.DuckDBPyConnection, identity: str) -> pd.DataFrame:
    """Per repository the identity touched: pulls, pushes, deletes, refusals, first and last time."""
    condition, params = identity_condition(identity)
    sql = f"""
        SELECT repository,
               count(*) FILTER (WHERE counted_as = 'pull') AS pulls_count,
               count(*) FILTER (WHERE counted_as = 'push') AS pushes_count,
               count(*) FILTER (WHERE counted_as = 'delete') AS deletes_count,
               count(*) FILTER (WHERE counted_as = 'refused') AS refused_count,
               min(occurred_at) AS first_at, max(occurred_at) AS last_at
        FROM counted_activity WHERE {condition} AND repository <> ''
        GROUP BY repository ORDER BY last_at DESC, repository LIMIT 1000
    """  # noqa: S608 - constant fragments
    return frame(con, sql, params)


def identity_addresses(con: duckdb.DuckDBPyConnection, identity: str) -> pd.DataFrame:
    """Client addresses the identity came from, with how often and when."""
    condition, params = identity_condition(identity)
    sql = f"""
        SELECT client_addr, count(*) AS actions_count,
               count(*) FILTER (WHERE counted_as = 'refused') AS refused_count,
               min(occurred_at) AS first_at, max(occurred_at) AS last_at
        FROM counted_activity WHERE {condition}
        GROUP BY client_addr ORDER BY last_at DESC, client_addr LIMIT 1000
    """  # noqa: S608 - constant fragments
    return frame(con, sql, params)


def identity_user_agents(con: duckdb.DuckDBPyConnection, identity: str) -> pd.DataFrame:
    """User agents the identity used, with how often and when."""
    condition, params = identity_condition(identity)
    sql = f"""
        SELECT coalesce(user_agent, proxy_user_agent) AS user_agent, count(*) AS actions_count,
               min(occurred_at) AS first_at, max(occurred_at) AS last_at
        FROM image_activity WHERE {condition}
        GROUP BY ALL ORDER BY last_at DESC LIMIT 1000
    """  # noqa: S608 - constant fragments
    return frame(con, sql, params)


def credential_record(con: duckdb.DuckDBPyConnection, identity: str) -> pd.DataFrame:
    """The inventory's rows for the identity, newest import first (the first row is the current record)."""
    return frame(
        con,
        """
        SELECT name, kind, owner, created_at, rotated_at, expires_at, imported_at, import_source
        FROM credentials WHERE name = $identity ORDER BY imported_at DESC LIMIT 100
        """,
        {"identity": identity},
    )
