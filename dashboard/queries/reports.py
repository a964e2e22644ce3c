"""The reports page's count of what a compliance report of a period and scope would hold (``scope_count``): the
same rollups and ragged ends as the explorer's count (``activity``), with the scope's globs matched against the
names the rollups know.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from regaudit.dashboard.queries.activity import BY_IDENTITY, BY_REPOSITORY, COUNTS, DAYS
from regaudit.dashboard.queries.common import ANONYMOUS, TimeRange, frame
from regaudit.dashboard.queries.daily import day_bindings, identity_days, repository_days


def scope_count(
    con: duckdb.DuckDBPyConnection,
    time: TimeRange,
    repositories: tuple[str, ...] = (),
    identities: tuple[str, ...] = (),
    actions: tuple[str, ...] = (),
) -> pd.DataFrame:
    """What a compliance report of this period and scope holds (every row, HEAD checks included): repository
    and identity globs as the reports engine matches them, any of several; empty lists match all. Whole days from
    the rollup per identity and repository (its twin in order by repository for repository globs without identity
    globs), the range's ends from the rows. The globs are matched against each repository and identity the daily
    rollups know (every one with a row), not against every row: a glob per row cost more than reading the rollup;
    the rollup's condition is then on the raw column it is in order by, so its days are read only where those lie. A
    report of everything counts from the rollups per repository and per identity (``daily``) instead."""
    if not (repositories or identities or actions):
        return frame(con, _EVERYTHING, day_bindings(time))
    conditions = ["TRUE"]
    if repositories:
        conditions.append(
            "repository IN (SELECT DISTINCT repository FROM daily_repository_activity"
            " WHERE list_bool_or(list_transform($repositories, lambda p: repository GLOB p)))"
        )
    if identities:
        conditions.append(_scoped_identities(con, identities))
    if actions:
        conditions.append("list_contains($actions, action)")
    rollup = BY_REPOSITORY if repositories and not identities else BY_IDENTITY
    sql = COUNTS.format(rows=DAYS.format(condition=" AND ".join(conditions), rollup=rollup))
    params = {
        **day_bindings(time),
        "repositories": list(repositories),
        "identities": list(identities),
        "actions": list(actions),
    }
    return frame(con, sql, {name: value for name, value in params.items() if value or name not in SCOPES})


#: a report of everything: the rollups per repository and per identity, a few rows a day each
_EVERYTHING = f"""
    SELECT (SELECT coalesce(sum(actions_count), 0)::BIGINT FROM ({repository_days()})) AS rows_count,
           (SELECT count(DISTINCT actor) FROM ({identity_days()})) AS identities_count,
           (SELECT count(DISTINCT repository) FROM ({repository_days()})) AS repositories_count
"""  # noqa: S608 - constant fragments
#: the lists of a report's scope, bound only when given
SCOPES = ("repositories", "identities", "actions")
#: the raw identities a report's identity globs match, among those with a row: a condition on the raw ``actor``
#: column, so the rollup's days, each in order by identity, are read only where those identities lie
_SCOPED_ACTORS = """
    actor IN (SELECT DISTINCT actor FROM daily_identity_activity
              WHERE list_bool_or(list_transform($identities, lambda p: actor GLOB p)))
"""
_MATCHES_ANONYMOUS = f"SELECT list_bool_or(list_transform($identities, lambda p: '{ANONYMOUS}' GLOB p))"


def _scoped_identities(con: duckdb.DuckDBPyConnection, identities: tuple[str, ...]) -> str:
    """The condition for a report's identity globs: on ``actor`` itself (an expression such as ``coalesce`` would
    read every row group of the month, 1.6 s at 100M events against 0.05 s), with rows without one added when a
    glob matches ``(anonymous)``."""
    anonymous = con.execute(_MATCHES_ANONYMOUS, {"identities": list(identities)}).fetchall()[0][0]
    return f"(actor IS NULL OR {_SCOPED_ACTORS})" if anonymous else _SCOPED_ACTORS
