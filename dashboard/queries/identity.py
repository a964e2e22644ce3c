"""One identity: its repositories, client addresses and user agents, first and last seen, and the credential
inventory's record of it. ``identities`` lists them for the picker. Rows without an identity are
``(anonymous)``.

An identity is a person of the identity mapping (``regaudit identities import``, the store's
``identified_activity``) or a raw identity as a registry recorded it: a person's page gathers what every registry
recorded of the person under every name (``alice``, an IAM ARN, an email, a Harbor robot), and says per row which
registry, which kind of registry and which raw identity (``identity_repositories``, ``identity_names``); a raw
identity's page shows that name's own rows.

The pages read the daily rollups, never the rows: per identity and repository (``daily_identity_repositories``,
``ingest/page_rollups.sql``) and per identity, client address and user agent (``daily_identity_clients``), each
rollup row mapped to its identity as ``identified_activity`` maps each row (``ingest/identities.sql``: a function of
the raw identity and the registry). An identity's rows over all time are a few rollup rows a day."""

from __future__ import annotations

from typing import Any

import duckdb
import pandas as pd

from regaudit.dashboard.queries.common import ANONYMOUS, IDENTITY, frame

#: each registry instance's kind, as its events say (image_activity has none), from their daily rollup
REGISTRY_KINDS = "(SELECT registry, min(registry_kind) AS registry_kind FROM daily_registry_events GROUP BY registry)"


def identity_condition(identity: str) -> tuple[str, dict[str, Any]]:
    """The rows of ``identified_activity`` that belong to ``identity``: the person's under every name it maps, or
    the raw identity's own. ``actor IN (...)`` first, so the scan reads only the names that can match."""
    names, params = _raw_names(identity)
    return names if identity == ANONYMOUS else f"{names} AND (identity = $identity OR actor = $identity)", params


def _raw_names(identity: str) -> tuple[str, dict[str, Any]]:
    """The raw identities whose rows can belong to ``identity`` (a condition on ``actor`` alone)."""
    if identity == ANONYMOUS:
        return "actor IS NULL", {}
    names = "SELECT $identity UNION SELECT raw_identity FROM current_identities WHERE person_id = $identity"
    return f"actor IN ({names})", {"identity": identity}


def identified(table: str, identity: str) -> tuple[str, dict[str, Any]]:
    """The rows of a rollup (a constant name) that belong to ``identity``, with ``identity`` and ``person_name``
    as ``identified_activity`` gives them: the raw identities that can match are read first, then mapped."""
    condition, params = identity_condition(identity)
    names, _ = _raw_names(identity)
    sql = f"""
        SELECT * FROM (
            SELECT r.*, coalesce(s.person_id, g.person_id, r.actor) AS identity,
                   coalesce(s.display_name, g.display_name) AS person_name
            FROM (SELECT * FROM {table} WHERE {names}) AS r
            LEFT JOIN scoped_identities AS s ON s.raw_identity = r.actor AND s.registry = r.registry
            LEFT JOIN current_identities AS g
              ON g.raw_identity = r.actor AND g.registry IS NULL AND g.registry_kind IS NULL
        ) WHERE {condition}
    """  # noqa: S608 - constant fragments
    return sql, params


#: a count of rollup rows' rows, as the BIGINT count(*) gives, of those matching a condition
_COUNT = "coalesce(sum(actions_count) FILTER (WHERE {}), 0)::BIGINT"
#: the rollup rows' pulls, pushes, deletes and refusals, each its own column
_KIND_COUNTS = ", ".join(
    f"{_COUNT.format(f'counted_as = {kind!r}')} AS {name}"
    for kind, name in (
        ("pull", "pulls_count"),
        ("push", "pushes_count"),
        ("delete", "deletes_count"),
        ("refused", "refused_count"),
    )
)


def identities(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every identity (a mapped person, or a raw identity nothing maps) with activity or a credential record, with
    when it was last seen. Activity from the daily rollup per raw identity and registry, mapped as
    ``identified_activity`` maps each row (``ingest/identities.sql``: a function of the raw identity and registry)."""
    sql = f"""
        SELECT identity, max(last_at) AS last_at FROM (
            SELECT coalesce(s.person_id, g.person_id, a.actor, '{ANONYMOUS}') AS identity, max(a.last_at) AS last_at
            FROM daily_identity_activity AS a
            LEFT JOIN scoped_identities AS s ON s.raw_identity = a.actor AND s.registry = a.registry
            LEFT JOIN current_identities AS g
              ON g.raw_identity = a.actor AND g.registry IS NULL AND g.registry_kind IS NULL
            GROUP BY ALL
            UNION ALL
            SELECT name, NULL FROM credentials
        ) GROUP BY identity ORDER BY identity
    """  # noqa: S608 - constant fragments
    return frame(con, sql)


def identity_names(con: duckdb.DuckDBPyConnection, identity: str) -> pd.DataFrame:
    """The raw identities the identity's rows carry, per registry and kind, with the mapping's display name."""
    rows, params = identified("daily_identity_repositories", identity)
    sql = f"""
        SELECT a.registry, k.registry_kind, {IDENTITY} AS raw_identity, any_value(a.person_name) AS display_name,
               sum(actions_count)::BIGINT AS actions_count, min(a.first_at) AS first_at, max(a.last_at) AS last_at
        FROM ({rows}) AS a
        LEFT JOIN {REGISTRY_KINDS} AS k ON k.registry = a.registry
        GROUP BY ALL ORDER BY last_at DESC, raw_identity LIMIT 1000
    """  # noqa: S608 - constant fragments
    return frame(con, sql, params)


def identity_summary(con: duckdb.DuckDBPyConnection, identity: str) -> pd.DataFrame:
    """First and last seen, and what the identity did over all time."""
    repositories, params = identified("daily_identity_repositories", identity)
    clients, _ = identified("daily_identity_clients", identity)
    sql = f"""
        SELECT r.first_at, r.last_at, r.pulls_count, r.pushes_count, r.deletes_count, r.refused_count,
               r.repositories_count, c.addresses_count, c.user_agents_count, r.pulled_bytes
        FROM (
            SELECT min(first_at) AS first_at, max(last_at) AS last_at, {_KIND_COUNTS},
                   count(DISTINCT repository) FILTER (WHERE repository <> '') AS repositories_count,
                   coalesce(sum(blob_bytes) FILTER (WHERE counted_as = 'pull'), 0) AS pulled_bytes
            FROM ({repositories})
        ) AS r,
        (
            SELECT count(DISTINCT client_addr) AS addresses_count, count(DISTINCT user_agent) AS user_agents_count
            FROM ({clients})
        ) AS c
    """  # noqa: S608 - constant fragments
    return frame(con, sql, params)


def identity_repositories(con: duckdb.DuckDBPyConnection, identity: str) -> pd.DataFrame:
    """Per repository the identity touched, on each registry (with its kind) and under each raw identity: pulls,
    pushes, deletes, refusals, first and last time."""
    rows, params = identified("daily_identity_repositories", identity)
    sql = f"""
        SELECT a.repository, a.registry, k.registry_kind, {IDENTITY} AS raw_identity, {_KIND_COUNTS},
               min(first_at) AS first_at, max(last_at) AS last_at
        FROM ({rows}) AS a
        LEFT JOIN {REGISTRY_KINDS} AS k ON k.registry = a.registry
        WHERE a.repository <> ''
        GROUP BY ALL ORDER BY last_at DESC, repository, registry, raw_identity LIMIT 1000
    """  # noqa: S608 - constant fragments
    return frame(con, sql, params)


def identity_addresses(con: duckdb.DuckDBPyConnection, identity: str) -> pd.DataFrame:
    """Client addresses the identity came from, with how often and when."""
    rows, params = identified("daily_identity_clients", identity)
    sql = f"""
        SELECT client_addr, sum(actions_count)::BIGINT AS actions_count,
               {_COUNT.format("counted_as = 'refused'")} AS refused_count,
               min(first_at) AS first_at, max(last_at) AS last_at
        FROM ({rows})
        GROUP BY client_addr ORDER BY last_at DESC, client_addr LIMIT 1000
    """  # noqa: S608 - constant fragments
    return frame(con, sql, params)


def identity_user_agents(con: duckdb.DuckDBPyConnection, identity: str) -> pd.DataFrame:
    """User agents the identity used (the proxy's when the registry recorded none), with how often and when."""
    rows, params = identified("daily_identity_clients", identity)
    sql = f"""
        SELECT user_agent, sum(actions_count)::BIGINT AS actions_count, min(first_at) AS first_at,
               max(last_at) AS last_at
        FROM ({rows})
        GROUP BY ALL ORDER BY last_at DESC, user_agent LIMIT 1000
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
