"""tag_history as derive.sql keeps it batch by batch: the same rows as a rebuild from all of each tag's events.

The step reads only the moves since a batch's first move of a tag, and sums up the past by the interval before
it (``rebuild_tag_history``). These cases hold it to the rebuild from every event, ``REBUILD`` below (the step as
it was before), over random sequences of pushes and tag deletes with ties in time, late events days back, and
replays, delivered in random batches and orders; and ``tag_heads`` (schema 18), where the step finds each tag's
latest interval, to the latest row of each tag in ``tag_history``, kept by the step, built by an upgrade from
schema 17, and after a purge took the events of a tag's latest interval.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from regaudit.ingest import store, tag_heads
from regaudit.ingest.normalize import Normalizer
from regaudit.ingest.records import RawRecord
from regaudit.ingest.sinks.duckdb import DuckDBSink

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
MANIFEST = "application/vnd.oci.image.manifest.v1+json"

#: every tag's intervals from all its events: consecutive pushes of a digest are one, a delete ends one
REBUILD = """
WITH moves AS (
    SELECT registry, repository, tag, action, digest, event_at, actor, client_addr, user_agent, event_id
    FROM registry_events
    WHERE tag IS NOT NULL
      AND ((action = 'push' AND target_kind = 'manifest' AND digest IS NOT NULL)
           OR (action = 'delete' AND target_kind = 'tag'))
      AND outcome IS DISTINCT FROM 'failure'
),
ordered AS (
    SELECT *, lag(action) OVER w AS prev_action, lag(digest) OVER w AS prev_digest
    FROM moves WINDOW w AS (PARTITION BY registry, repository, tag ORDER BY event_at, event_id)
),
changes AS (
    SELECT * FROM ordered
    WHERE action = 'delete' OR prev_action IS DISTINCT FROM 'push' OR prev_digest IS DISTINCT FROM digest
),
intervals AS (
    SELECT *, lead(event_at) OVER w AS next_at
    FROM changes WINDOW w AS (PARTITION BY registry, repository, tag ORDER BY event_at, event_id)
)
SELECT registry, repository, tag, digest, event_at, next_at,
       CASE WHEN prev_action = 'push' THEN prev_digest END,
       coalesce(prev_action = 'push' AND prev_digest IS DISTINCT FROM digest, FALSE),
       actor, client_addr, user_agent, event_id
FROM intervals WHERE action = 'push'
ORDER BY ALL
"""


def move(number: int, seconds: float, tag: str, digest_name: str | None, actor: str) -> RawRecord:
    """A manifest push of ``digest_name`` to ``tag`` (or, with none, a delete of the tag), as Distribution sends
    them: a tag delete names the tag and no digest or media type."""
    target: dict[str, object] = {"repository": "team/app", "tag": tag}
    if digest_name is not None:
        target |= {"mediaType": MANIFEST, "digest": "sha256:" + digest_name * 64, "size": 500}
    body = {
        "id": f"ev-{number:04d}",
        "timestamp": (T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z"),
        "action": "push" if digest_name is not None else "delete",
        "target": target,
        "request": {"id": f"rq-{number}", "addr": "10.0.0.7", "method": "PUT" if digest_name else "DELETE"},
        "actor": {"name": actor},
    }
    return RawRecord("event", json.dumps(body).encode(), f"test:{number}", T0, "main")


def moves(rng: random.Random, count: int) -> list[RawRecord]:
    """Pushes of three digests and deletes over three tags, at times that tie often and lie days apart."""
    days = [0, 0, 0, 1, 3]
    return [
        move(
            number,
            rng.choice(days) * 86_400 + rng.randrange(0, 40, 2),
            rng.choice(["latest", "latest", "v1", "main"]),
            rng.choice(["a", "a", "b", "c", None]),
            rng.choice(["alice", "ci"]),
        )
        for number in range(count)
    ]


def store_batches(db, batches: list[list[RawRecord]]) -> None:
    normalizer = Normalizer("main")
    try:
        for batch in batches:
            DuckDBSink(db, default_registry="main").write(normalizer.normalize(batch), "test")
    finally:
        normalizer.close()


def stored_and_rebuilt(db) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """The stored rows and the rebuild's, after checking every event was stored (none isolated) and that tag_heads
    holds each tag's latest stored interval."""
    with store.reader(db) as con:
        assert con.execute("SELECT count(*) FROM dead_letters").fetchall() == [(0,)]
        assert_heads_follow(con)
        return con.execute("SELECT * FROM tag_history ORDER BY ALL").fetchall(), con.execute(REBUILD).fetchall()


def assert_heads_follow(con) -> None:
    """tag_heads is one row per tag of tag_history, its latest interval."""
    assert tag_heads.differences(con) == 0
    heads = con.execute("SELECT count(*), count(DISTINCT (registry, repository, tag)) FROM tag_heads").fetchall()
    tags = con.execute("SELECT count(DISTINCT (registry, repository, tag)) FROM tag_history").fetchall()[0][0]
    assert heads == [(tags, tags)]


@pytest.mark.parametrize("seed", range(4))
def test_tag_history_kept_per_batch_equals_the_rebuild_from_all_events(tmp_path, seed):
    rng = random.Random(seed)
    records = moves(rng, 36)
    rng.shuffle(records)
    cuts = sorted(rng.sample(range(1, len(records)), 3))
    batches = [records[a:b] for a, b in zip([0, *cuts], [*cuts, len(records)], strict=True)]
    batches.append(rng.sample(records, 6))  # a replay of some of them, stored once
    db = tmp_path / "audit.duckdb"
    store_batches(db, batches)
    stored, rebuilt = stored_and_rebuilt(db)
    assert stored == rebuilt
    assert any(row[7] for row in rebuilt) or seed  # the sequences do overwrite


def test_a_late_push_before_a_delete_splits_the_interval_the_rebuild_way(tmp_path):
    db = tmp_path / "audit.duckdb"
    store_batches(
        db,
        [
            [move(1, 0, "latest", "a", "ci"), move(2, 10, "latest", "a", "ci"), move(3, 20, "latest", None, "ci")],
            [move(4, 30, "latest", "a", "ci")],  # after the delete: a new interval, no overwrite
            [move(5, 5, "latest", "b", "alice")],  # late: overwrites a, and the push at 10 moves a back
        ],
    )
    stored, rebuilt = stored_and_rebuilt(db)
    assert stored == rebuilt
    assert sorted((row[4].second, row[3][-1], row[7]) for row in stored) == [
        (0, "a", False), (5, "b", True), (10, "a", True), (30, "a", False)
    ]  # fmt: skip


def test_tag_heads_follow_many_small_batches_of_late_events_and_replays(tmp_path):
    rng = random.Random(100)
    records = moves(rng, 48)
    rng.shuffle(records)
    cuts = sorted(rng.sample(range(1, len(records)), 6))
    batches = [records[a:b] for a, b in zip([0, *cuts], [*cuts, len(records)], strict=True)]
    for at in (2, 5):  # replays amid the batches, with a new event beside them
        batches.insert(at, rng.sample(records[: cuts[at - 1]], 4) + [move(900 + at, 86_400 * 5 + at, "v1", "c", "ci")])
    batches.append([move(999, 86_400 * 6, "main", None, "ci")])  # the last move of a tag is a delete
    db = tmp_path / "audit.duckdb"
    store_batches(db, batches)
    stored, rebuilt = stored_and_rebuilt(db)
    assert stored == rebuilt
    with store.reader(db) as con:
        ended = con.execute("SELECT tag FROM tag_heads WHERE valid_to_at IS NOT NULL").fetchall()
    assert ("main",) in ended


def test_an_upgrade_from_schema_17_writes_each_tags_latest_interval(tmp_path):
    db = tmp_path / "audit.duckdb"
    store_batches(db, [moves(random.Random(7), 30)])
    with store.writer(db) as con:  # the store as schema 17 left it: no tag_heads
        con.execute("DROP TABLE tag_heads")
        con.execute("UPDATE schema_meta SET value = '17' WHERE key = 'schema_version'")
    with store.writer(db) as con:
        assert store.schema_version(con) == store.SCHEMA_VERSION
        assert_heads_follow(con)
        assert con.execute("SELECT count(*) FROM tag_heads").fetchall() == [(3,)]
    store_batches(db, [[move(99, 2 * 86_400, "latest", "b", "alice"), move(98, 30, "main", None, "ci")]])
    stored, rebuilt = stored_and_rebuilt(db)
    assert stored == rebuilt


def test_tag_heads_follow_tag_history_when_a_purge_took_the_latest_intervals_events(tmp_path):
    db = tmp_path / "audit.duckdb"
    store_batches(db, [[move(1, 0, "latest", "a", "ci"), move(2, 10, "latest", None, "ci")]])
    store_batches(db, [[move(3, 100, "latest", "b", "ci")]])
    with store.writer(db) as con:  # a purge of the sealed tables' second batch: tag_history keeps its interval
        con.execute("DELETE FROM registry_events WHERE batch_id = 2")
    store_batches(db, [[move(4, 50, "latest", None, "alice")]])  # late: before b, whose push is gone
    with store.reader(db) as con:
        assert_heads_follow(con)
        assert con.execute("SELECT digest, valid_to_at FROM tag_heads").fetchall() == [
            ("sha256:" + "a" * 64, T0 + timedelta(seconds=10))
        ]


def test_a_manifest_push_naming_no_digest_is_stored_and_moves_no_tag(tmp_path):
    """A push event with a tag but no digest (a foreign producer, a source that leaves it out) says the tag moved
    but not where to: the event is stored as it came, and the tag keeps the interval it had. Before, its
    interval's NOT NULL digest refused the row and the event was isolated into the dead letters."""
    db = tmp_path / "s.duckdb"
    blind = json.loads(move(2, 5, "latest", "b", "ci").value)
    del blind["target"]["digest"]
    store_batches(
        db, [[move(1, 0, "latest", "a", "alice")], [RawRecord("event", json.dumps(blind).encode(), "t:2", T0, "main")]]
    )
    stored, rebuilt = stored_and_rebuilt(db)
    assert stored == rebuilt
    assert [(row[2], row[3][-4:], row[5]) for row in stored] == [("latest", "aaaa", None)]
    with store.reader(db) as con:
        assert con.execute("SELECT count(*) FROM registry_events WHERE digest IS NULL").fetchall() == [(1,)]
