"""``regaudit verify`` rebuilds image_activity and tag_history from the sealed tables and compares: a derived row
edited, deleted or inserted directly in DuckDB fails it, a purge does not. Stores written through the real ingest
path with the chain hook; verify and purge run as the operator runs them, in their own process."""

from __future__ import annotations

import contextlib
import subprocess
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from regaudit.evidence import signing, verify_derived
from regaudit.ingest import rollup_delta, store
from tests.evidence.chain_seed import seeded_store, write
from tests.ingest.processes import REGAUDIT, regaudit_env
from tests.ingest.test_derive import (
    T0,
    blob,
    digest,
    event,
    leaked_digests,
    line,
    multi_platform_pull_and_pushes,
    skopeo_delete_by_tag,
)

DAY = 86_400.0


def regaudit(db: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*REGAUDIT, *args], env=regaudit_env(db, **env), capture_output=True, text=True, timeout=300, check=False
    )


def tamper(db: Path, sql: str) -> None:
    with duckdb.connect(str(db)) as con:
        con.execute(sql)


def traffic(at: float, actor: str) -> list:
    """``actor`` pushes team/app:v1, pushes it again over another digest (an overwrite), pulls it through the proxy
    and deletes other/app:copied with skopeo, ``at`` seconds after 2026-05-01."""
    return [
        event(at + 1, "push", "team/app", actor, "PUT", tag="v1", target=digest(f"one{at}")),
        event(at + 5, "push", "team/app", actor, "PUT", tag="v1", target=digest(f"two{at}")),
        event(at + 10, "pull", "team/app", actor, "GET", tag="v1", target=digest(f"two{at}")),
        line(at + 10, "GET", "/v2/team/app/manifests/v1", 200, actor),
        *skopeo_delete_by_tag(at + 60, actor),
    ]


def purged_at_60_days(db: Path, tmp_path: Path) -> dict[str, str]:
    """``regaudit purge`` of what is older than 30 days, 60 days after 2026-05-01, with a new signing key; returns
    the settings verify runs with."""
    key = tmp_path / "signing.pem"
    signing.generate_key(key)
    env = {
        "REGAUDIT_REPORTS__SIGNING_KEY_PATH": str(key),
        "REGAUDIT_RETENTION__REGISTRY_EVENTS_DAYS": "30",
        "REGAUDIT_RETENTION__ACCESS_LOG_DAYS": "30",
    }
    purged = regaudit(db, "purge", "--older-than", "30d", "--now", (T0 + timedelta(days=60)).date().isoformat(), **env)
    assert purged.returncode == 0, purged.stdout + purged.stderr
    return env


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """The captured registry and nginx samples, then skopeo's multi-platform pull, pushes and a delete by tag."""
    path = seeded_store(tmp_path / "audit.duckdb")
    write(path, multi_platform_pull_and_pushes() + traffic(100, "alice"))
    return path


def test_a_store_as_ingested_verifies_with_its_derived_tables_rebuilt(db):
    with duckdb.connect(str(db), read_only=True) as con:
        activity, tags = (
            con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in ("image_activity", "tag_history")
        )
    done = regaudit(db, "verify")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"derived tables ok: {activity} image_activity and {tags} tag_history rows match a replay" in done.stdout


def test_blob_only_pulls_derived_across_batches_verify_and_their_bytes_are_checked(db):
    write(db, leaked_digests(200, 3))
    write(db, [blob(500, "team/app", "alice", "late", 70), *leaked_digests(600, 2, actor="ci-cache")])
    write(db, [event(499, "pull", "team/app", "alice", "GET", tag="v1", target=digest("late"))])  # takes its blob
    done = regaudit(db, "verify")
    assert done.returncode == 0, done.stdout + done.stderr

    tamper(db, "UPDATE image_activity SET blob_bytes = 1 WHERE blob_only AND actor = 'mallory'")
    done = regaudit(db, "verify")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "blob_bytes is 1, the sealed rows give 6000" in done.stdout


def test_an_image_activity_row_whose_actor_was_changed_fails_verify(db):
    tamper(
        db,
        "UPDATE image_activity SET actor = 'mallory' WHERE activity_id = (SELECT min(activity_id)"
        " FROM image_activity WHERE actor = 'alice' AND action = 'pull')",
    )
    done = regaudit(db, "verify")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "derived tables and decisions FAILED: image_activity: 1 rows differ from a rebuild" in done.stdout
    assert "actor is 'mallory', the sealed rows give 'alice'" in done.stdout


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("DELETE FROM image_activity WHERE action = 'delete'", "missing, the sealed rows give it (deleted?)"),
        (
            "INSERT INTO image_activity SELECT * REPLACE ('ev:forged:' || activity_id AS activity_id)"
            " FROM image_activity WHERE action = 'push' LIMIT 1",
            "stored, but the sealed rows give no such row (inserted?)",
        ),
        ("UPDATE image_activity SET counts_as_pull = NOT counts_as_pull WHERE action = 'pull'", "counts_as_pull is"),
        ("UPDATE tag_history SET moved_by = 'mallory'", "moved_by is 'mallory', the sealed rows give"),
        ("DELETE FROM tag_history WHERE is_overwrite", "tag_history main:team/app:v1:"),
        (
            "UPDATE daily_identity_activity SET actions_count = actions_count + 1 WHERE actor = 'alice'",
            "daily_identity_activity: 9 rows differ from the sums of the rebuilt image_activity",
        ),
        (
            "UPDATE daily_repository_actions SET actions_count = actions_count + 1 WHERE action = 'push'",
            "daily_repository_actions: 3 rows differ from the sums of the rebuilt image_activity",
        ),
        (
            "UPDATE daily_repository_identities SET actions_count = actions_count + 1 WHERE action = 'push'",
            "daily_repository_identities: 5 rows differ from the sums of the rebuilt image_activity",
        ),
        (
            "UPDATE daily_digest_activity SET actions_count = actions_count + 1 WHERE action = 'push'",
            "daily_digest_activity: 6 rows differ from the sums of the rebuilt image_activity",
        ),
        (
            "UPDATE tag_heads SET valid_to_at = NULL",
            "tag_heads: the rows of 1 tags are not their latest tag_history interval",
        ),
    ],
    ids=[
        "deleted",
        "inserted",
        "pull-count",
        "tag-mover",
        "tag-interval",
        "daily-rollup",
        "actions-rollup",
        "twin-rollup",
        "digest-rollup",
        "tag-head",
    ],
)
def test_a_derived_row_changed_in_any_way_fails_verify(db, sql, expected):
    tamper(db, sql)
    done = regaudit(db, "verify")
    assert done.returncode == 1, done.stdout + done.stderr
    assert expected in done.stdout


def test_a_rollup_edited_before_a_batch_that_adds_to_it_by_its_difference_still_fails_verify(db, monkeypatch):
    """A batch late in its day adds the difference it made to the stored rollup rows (``rollup_delta``) rather than
    summing their keys' days again, so an edited count is carried forward, not written over: verify still names it."""
    tamper(db, "UPDATE daily_identity_activity SET actions_count = actions_count + 1 WHERE actor = 'alice'")
    chosen = []
    pays = rollup_delta.pays

    def recorded(lo, hi):
        chosen.append(pays(lo, hi))
        return chosen[-1]

    monkeypatch.setattr(rollup_delta, "pays", recorded)
    write(db, traffic(3 * 3600, "alice"))  # the same day, three hours on: alice's earlier rows lie outside its window
    assert chosen == [True]
    done = regaudit(db, "verify")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "daily_identity_activity: " in done.stdout
    assert "rows differ from the sums of the rebuilt image_activity" in done.stdout


def test_no_derived_skips_the_rebuild_and_says_so(db):
    tamper(db, "UPDATE image_activity SET actor = 'mallory'")
    done = regaudit(db, "verify", "--no-derived")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "derived tables NOT checked (--no-derived)" in done.stdout


def test_a_purge_leaves_no_false_failure_and_rows_after_it_are_still_checked(tmp_path):
    db = tmp_path / "audit.duckdb"
    write(db, multi_platform_pull_and_pushes() + traffic(100, "alice"))  # 2026-05-01
    write(db, traffic(40 * DAY, "bob"))  # 40 days later: the same tag moved again
    env = purged_at_60_days(db, tmp_path)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT DISTINCT batch_id FROM registry_events").fetchall() == [(2,)]
        # image_activity is kept 400 days: these rows' sources are gone, and rows a day past the cut are not checked
        kept = con.execute("SELECT count(*) FROM image_activity WHERE occurred_at < $t", {"t": T0 + timedelta(31)})
        unchecked = kept.fetchall()[0][0]
    assert unchecked > 0

    done = regaudit(db, "verify", **env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"not checkable: {unchecked} image_activity rows before 2026-06-01T00:00:00+00:00" in done.stdout

    tamper(db, "UPDATE image_activity SET actor = 'mallory' WHERE actor = 'bob'")
    done = regaudit(db, "verify", **env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "actor is 'mallory', the sealed rows give 'bob'" in done.stdout


def test_time_ranges_queued_by_a_batch_purged_since_are_replayed_in_their_turn(tmp_path):
    """derive_pending.sql: a batch scattered over years queued ranges, later batches derived some, then a purge
    removed the batch. The replay queues them again at its step, so the later drains take the same ranges."""
    db = tmp_path / "audit.duckdb"
    years = [event(-(i + 1) * 50 * DAY, "pull", "team/app", "mallory", "GET", tag="1.0") for i in range(120)]
    write(db, [*years, *traffic(0, "alice")])  # batch 1: 121 ranges, 64 derived, 57 queued; all of it purged below
    days = [event(d * DAY, "pull", "team/app", "bob", "GET", tag="1.0") for d in range(35, 105)]
    write(db, days)  # batch 2: 70 ranges, 6 queued; it derives 16 of batch 1's
    write(db, traffic(58 * DAY, "carol"))  # batch 3: 16 more of batch 1's; batch 2's 6 still wait, then
    env = purged_at_60_days(db, tmp_path)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT DISTINCT batch_id FROM registry_events ORDER BY 1").fetchall() == [(2,), (3,)]
        drained = con.execute("SELECT batch_id, derived_by, count(*) FROM derive_pending GROUP BY ALL ORDER BY ALL")
        assert drained.fetchall() == [(1, 2, 16), (1, 3, 16), (1, None, 25), (2, None, 6)]

    done = regaudit(db, "verify", **env)  # without batch 1's queue, the replay's batch 3 would drain batch 2's
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_sealed_rows_are_copied_a_group_of_batches_at_a_time_with_the_same_outcome(db, monkeypatch):
    whole = verify_derived.check(lambda: store.reader(db), "default")
    opened = []

    @contextlib.contextmanager
    def opener():
        opened.append(1)
        with store.reader(db) as con:
            yield con

    monkeypatch.setattr(verify_derived, "GROUP_ROWS", 10)  # the samples' batches hold 18, 30 and 21 rows
    grouped = verify_derived.check(opener, "default")
    assert grouped == whole
    assert whole.ok
    assert len(opened) == 1 + 1 + 3  # the decisions, the derived rows and chain, then one look per batch
