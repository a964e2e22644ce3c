"""The detections' daily view of identity_activity (analytics/views.sql ``identity_clients``, ``identity_days``) read
from the store's rollups (ingest/client_rollups.sql) gives what the rows give, identity mapping included.

A simulated store (registry notifications and the proxy's log through the ingest path, whose batches keep the
rollups), with mappings of every scope the views apply: an instance's, a kind's (the registry's and the proxy's
``nginx``) and an unscoped one. ``identity_clients(now)`` must equal identity_activity's rows before ``now`` summed
per day, identity, raw identity, address, user agent and acceptance, for a ``now`` inside a day (the rows of its
own day are read) and at midnight; ``identity_days`` must equal its definition over the rows.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from regaudit.analytics import runner
from regaudit.analytics.evaluation import load_simulation
from regaudit.ingest import store
from regaudit.simulator import Simulation

FROM_ROWS = """
    SELECT identity, raw_identity, date_trunc('day', seen_at), client_addr, user_agent, accepted, count(*),
           min(seen_at), max(seen_at)
    FROM identity_activity WHERE seen_at < $now GROUP BY ALL ORDER BY ALL
"""
FROM_ROLLUPS = """
    SELECT identity, raw_identity, day, client_addr, user_agent, accepted, sum(uses_count)::BIGINT, min(first_at),
           max(last_at)
    FROM identity_clients($now) GROUP BY ALL ORDER BY ALL
"""
DAYS_FROM_ROWS = """
    SELECT identity, day, events_count, first_at, last_at,
           min(day) OVER w, row_number() OVER w - 1, lag(day) OVER w, lag(last_at) OVER w
    FROM (
        SELECT identity, date_trunc('day', seen_at) AS day, count(*) AS events_count,
               min(seen_at) AS first_at, max(seen_at) AS last_at
        FROM identity_activity WHERE accepted GROUP BY ALL
    )
    WINDOW w AS (PARTITION BY identity ORDER BY day)
    ORDER BY ALL
"""


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Simulation, Path]:
    simulation = Simulation(11, days=3, scale=0.1)
    path = tmp_path_factory.mktemp("identity_clients") / "audit.duckdb"
    load_simulation(path, simulation)
    with store.writer(path) as con:
        actors = [row[0] for row in con.execute(FIRST_NAMES).fetchall()]
        users = [row[0] for row in con.execute(FIRST_USERS).fetchall()]
        mappings = [
            (actors[0], "default", None, "person-a"),  # the instance's own mapping
            (actors[1], None, "distribution", "person-a"),  # every registry of its kind
            (actors[2], None, None, "person-b"),  # unscoped: registries and the proxy
            (users[0], None, "nginx", "person-c"),  # the proxy's kind
        ]
        for raw, registry, kind, person in mappings:
            con.execute(
                "INSERT INTO identities VALUES ($raw, $registry, $kind, $person, NULL, 'test', $at)",
                {"raw": raw, "registry": registry, "kind": kind, "person": person, "at": simulation.start},
            )
    return simulation, path


FIRST_NAMES = "SELECT actor FROM image_activity WHERE actor <> '' GROUP BY actor ORDER BY count(*) DESC LIMIT 3"
FIRST_USERS = """
    SELECT remote_user FROM access_log
    WHERE remote_user <> '' AND endpoint IN ('ping', 'token') AND status < 400
    GROUP BY remote_user ORDER BY count(*) DESC, remote_user LIMIT 1
"""


@pytest.mark.parametrize("hours", [36.5, 48, 71.25])
def test_identity_clients_equal_the_rows_summed_per_day(simulated: tuple[Simulation, Path], hours: float) -> None:
    simulation, path = simulated
    now = simulation.start.astimezone(UTC) + timedelta(hours=hours)
    with store.reader(path) as con:
        runner.prepare(con)
        rows = con.execute(FROM_ROWS, {"now": now}).fetchall()
        assert {row[0] for row in rows} >= {"person-a", "person-b", "person-c"}
        assert con.execute(FROM_ROLLUPS, {"now": now}).fetchall() == rows


def test_identity_days_equal_their_definition_over_the_rows(simulated: tuple[Simulation, Path]) -> None:
    _, path = simulated
    with store.reader(path) as con:
        runner.prepare(con)
        rows = con.execute(DAYS_FROM_ROWS).fetchall()
        assert len(rows) > 10
        assert con.execute("SELECT * FROM identity_days ORDER BY ALL").fetchall() == rows


def test_a_run_as_of_a_time_inside_a_day_sees_none_of_its_later_rows(simulated: tuple[Simulation, Path]) -> None:
    simulation, path = simulated
    now = datetime.combine(simulation.start.date() + timedelta(days=1), datetime.min.time(), UTC) + timedelta(hours=9)
    with store.reader(path) as con:
        runner.prepare(con)
        latest = con.execute("SELECT max(last_at) FROM identity_clients($now)", {"now": now}).fetchall()[0][0]
    assert latest < now
