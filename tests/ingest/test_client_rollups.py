"""The rollups of the identities' clients and the proxy's logins (``client_rollups.sql``) as the batches keep them
(derive steps ``daily_clients``, ``daily_logins``): always what a rebuild from every stored row gives.

The same captures as ``test_rollups`` (a real registry and its nginx, stored again across midnight, days back and
under a second registry), shuffled into random batches with replays, so events arrive late and out of order and
later batches rewrite rows of earlier ones. After every batch each table must equal ``FROM_SCRATCH``; a store of
version 12 gains both when upgraded, and a purge is followed.
"""

from __future__ import annotations

import random
import shutil
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from regaudit.analytics.evaluation import batches
from regaudit.analytics.evaluation import records as simulated_records
from regaudit.ingest import rollups, store
from regaudit.ingest.normalize import Normalizer
from regaudit.ingest.records import RawRecord
from regaudit.ingest.sinks.duckdb import DuckDBSink
from regaudit.simulator import Simulation
from tests.ingest.test_rollups import records

#: each table from every stored row, written independently of the derive steps and of rollups.CLIENTS_REBUILD
FROM_SCRATCH = {
    "daily_identity_clients": """
        SELECT date_trunc('day', occurred_at AT TIME ZONE 'UTC'), registry, actor, client_addr,
               coalesce(user_agent, proxy_user_agent), counted_as, count(*), sum(blob_bytes), min(occurred_at),
               max(occurred_at)
        FROM counted_activity GROUP BY ALL ORDER BY ALL
    """,
    "daily_proxy_logins": """
        SELECT date_trunc('day', request_at AT TIME ZONE 'UTC'), remote_user, client_addr, user_agent, count(*),
               min(request_at), max(request_at)
        FROM access_log
        WHERE remote_user IS NOT NULL AND remote_user <> '' AND endpoint IN ('ping', 'token') AND status < 400
        GROUP BY ALL ORDER BY ALL
    """,
}
STORED = {
    "daily_identity_clients": """
        SELECT day_at AT TIME ZONE 'UTC', registry, actor, client_addr, user_agent, counted_as, actions_count,
               blob_bytes, first_at, last_at
        FROM daily_identity_clients ORDER BY ALL
    """,
    "daily_proxy_logins": """
        SELECT day_at AT TIME ZONE 'UTC', remote_user, client_addr, user_agent, logins_count, first_at, last_at
        FROM daily_proxy_logins ORDER BY ALL
    """,
}


def check(db: Path) -> None:
    with store.reader(db) as con:
        con.execute("SET TimeZone = 'UTC'")
        for table, sql in FROM_SCRATCH.items():
            assert con.execute(STORED[table]).fetchall() == con.execute(sql).fetchall(), table


def write(db: Path, parts: list[list[RawRecord]]) -> None:
    normalizer = Normalizer("main")
    try:
        for batch in parts:
            DuckDBSink(db, default_registry="main").write(normalizer.normalize(batch), "test")
            check(db)
    finally:
        normalizer.close()


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every record, in random batches with a replay (seed 0)."""
    db = tmp_path_factory.mktemp("client_rollups") / "audit.duckdb"
    rng = random.Random(0)
    pending = records()
    rng.shuffle(pending)
    cuts = sorted(rng.sample(range(1, len(pending)), 3))
    batches = [pending[a:b] for a, b in zip([0, *cuts], [*cuts, len(pending)], strict=True)]
    batches.insert(rng.randrange(2, len(batches)), rng.sample(pending, 30))  # a replay of some, stored once
    write(db, batches)
    return db


def test_client_rollups_kept_per_batch_equal_the_sums_of_every_row(stored: Path) -> None:
    """Checked after every batch by ``write``. The captures hold no answered login with a user (their /v2/ GETs
    are the bare 401 challenges): the simulated test below has those."""
    with store.reader(stored) as con:
        clients = con.execute(
            "SELECT count(DISTINCT client_addr), count(DISTINCT user_agent) FROM daily_identity_clients"
        )
        assert all(count > 0 for count in clients.fetchall()[0])


def test_a_store_of_version_12_gains_the_client_rollups_when_upgraded(stored: Path, tmp_path: Path) -> None:
    old = tmp_path / "old.duckdb"
    shutil.copy(stored, old)
    with duckdb.connect(str(old)) as con:
        con.execute("DROP TABLE daily_identity_clients")
        con.execute("DROP TABLE daily_proxy_logins")
        con.execute("UPDATE daily_identity_activity SET actions_count = actions_count + 1")  # left alone
        con.execute("UPDATE schema_meta SET value = '12' WHERE key = 'schema_version'")
    with store.writer(old) as con:
        assert store.schema_version(con) == store.SCHEMA_VERSION
        con.execute("UPDATE daily_identity_activity SET actions_count = actions_count - 1")
    check(old)


def test_a_purge_is_followed(stored: Path, tmp_path: Path) -> None:
    """image_activity cut row by row, access_log by whole batches older than the cut (simplified here to the rows
    before it): the days before go, the cut's day is summed again from what is left of it."""
    db = tmp_path / "audit.duckdb"
    shutil.copy(stored, db)
    cut = datetime(2026, 11, 26, 19, 21, 39, tzinfo=UTC)  # inside the captures' day, between their requests
    with store.writer(db) as con:
        con.execute("DELETE FROM image_activity WHERE occurred_at < $cut", {"cut": cut})
        rollups.refresh_after_cut(con, cut)
        con.execute("DELETE FROM access_log WHERE request_at < $cut", {"cut": cut})
        rollups.refresh_feeds_after_purge(con, "access_log", cut)
    check(db)


def test_simulated_days_in_random_batches_with_replays_and_late_lines(tmp_path: Path) -> None:
    """Two simulated days (the proxy's answered logins among them, which the captures lack), cut into random
    batches: each batch a random run of the shuffled hours, so a day's lines arrive before, after and between its
    notifications, with replays of some records already stored."""
    simulation = Simulation(5, days=2, scale=0.1)
    counter = iter(range(10**9))
    pending = [
        record
        for _, notes, lines in batches(simulation, hours=1)
        for record in simulated_records(5, counter, simulation.end, notes, lines)
    ]
    rng = random.Random(5)
    rng.shuffle(pending)
    cuts = sorted(rng.sample(range(1, len(pending)), 5))
    parts = [pending[a:b] for a, b in zip([0, *cuts], [*cuts, len(pending)], strict=True)]
    for _ in range(2):
        parts.insert(rng.randrange(2, len(parts)), rng.sample(pending, 50))  # replays, stored once
    db = tmp_path / "audit.duckdb"
    write(db, parts)
    with store.reader(db) as con:
        assert con.execute("SELECT count(DISTINCT remote_user) FROM daily_proxy_logins").fetchall()[0][0] > 1
        assert con.execute("SELECT count(DISTINCT day_at) FROM daily_identity_clients").fetchall()[0][0] >= 2
