"""image_activity as ingest/derive.sql derives it, on event sequences the real registry and skopeo produce.

The sequences copy what Distribution 2.8/3.x and skopeo 1.9.3 were seen to send in tests/e2e: skopeo deletes by
tag with a manifest GET, then a DELETE by digest that the registry notifies as a digest delete plus one tag delete
under one request id; a copy mounts layers with POST .../uploads/?mount=&from=; a multi-platform pull GETs the
index, then each platform manifest and its blobs.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from itertools import count

import duckdb
import pytest

from regaudit.ingest import store
from regaudit.ingest.derive import MAX_RANGES, batch_time_ranges, time_ranges
from regaudit.ingest.normalize import Normalizer
from regaudit.ingest.records import RawRecord
from regaudit.ingest.sinks.duckdb import DuckDBSink

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
INDEX = "application/vnd.oci.image.index.v1+json"
BLOB = "application/octet-stream"
ADDR = "10.0.0.7"
_ids = count()


def digest(name: str) -> str:
    return "sha256:" + name.encode().hex().ljust(64, "0")[:64]


def event(
    at: float,
    action: str,
    repository: str,
    actor: str,
    method: str,
    *,
    tag: str | None = None,
    target: str | None = None,
    media: str | None = MANIFEST,
    size: int = 500,
    request: str | None = None,
    source: str | None = None,
) -> RawRecord:
    """One notification event, ``at`` seconds after T0, shaped as Distribution 2.8 sends it."""
    body = {
        "id": f"ev-{next(_ids)}",
        "timestamp": (T0 + timedelta(seconds=at)).isoformat().replace("+00:00", "Z"),
        "action": action,
        "target": {"repository": repository, "mediaType": media, "digest": target, "size": size, "tag": tag,
                   "fromRepository": source},
        "request": {"id": request or f"rq-{next(_ids)}", "addr": ADDR, "method": method, "useragent": "skopeo/1.9.3"},
        "actor": {"name": actor},
    }  # fmt: skip
    body["target"] = {key: value for key, value in body["target"].items() if value is not None}
    return RawRecord("event", json.dumps(body).encode(), f"test:{body['id']}", T0, "main")


def line(at: float, method: str, uri: str, status: int, user: str) -> RawRecord:
    """One nginx JSON access-log line (FORMATS.md 3.1 keys that the normalizer reads)."""
    record = {
        "msec": f"{(T0 + timedelta(seconds=at)).timestamp():.3f}", "remote_addr": ADDR, "xff": "",
        "remote_user": user, "method": method, "uri": uri, "status": str(status), "body_bytes_sent": "0",
        "request_time": "0.004", "ua": "skopeo/1.9.3", "tls": "TLSv1.3",
    }  # fmt: skip
    key = f"line-{next(_ids)}"
    return RawRecord("access", json.dumps(record).encode(), key, T0, key=key)


def write(db, *batches: list[RawRecord]) -> None:
    normalizer = Normalizer("main")
    try:
        for batch in batches:
            DuckDBSink(db, default_registry="main").write(normalizer.normalize(batch), "test")
    finally:
        normalizer.close()


def activity(db) -> list[tuple]:
    with store.reader(db) as con:
        return con.execute(
            """SELECT actor, action, repository, tag, digest, counts_as_pull, blob_bytes, proxy_status
               FROM image_activity ORDER BY occurred_at, activity_id"""
        ).fetchall()


@pytest.fixture
def db(tmp_path):
    return tmp_path / "audit.duckdb"


def skopeo_delete_by_tag(at: float, actor: str) -> list[RawRecord]:
    """`skopeo delete docker://…/other/app:copied` against Distribution: GET the tag, DELETE the digest."""
    return [
        event(at, "pull", "other/app", actor, "GET", tag="copied", target=digest("app")),
        event(at + 0.01, "delete", "other/app", actor, "DELETE", target=digest("app"), media=None, request="del"),
        event(at + 0.02, "delete", "other/app", actor, "DELETE", tag="copied", media=None, request="del"),
        line(at, "GET", "/v2/other/app/manifests/copied", 200, actor),
        line(at + 0.01, "DELETE", f"/v2/other/app/manifests/{digest('app')}", 202, actor),
    ]


def test_the_get_that_resolves_the_tag_to_delete_is_kept_but_not_counted_as_a_pull(db):
    write(db, [event(0, "pull", "other/app", "bob", "GET", tag="copied", target=digest("app")),
               *skopeo_delete_by_tag(5, "alice")])  # fmt: skip

    assert [(actor, action, tag, pull) for actor, action, _, tag, _, pull, *_ in activity(db)] == [
        ("bob", "pull", "copied", True),  # a pull by someone else, before: still a pull
        ("alice", "pull", "copied", False),
        ("alice", "delete", None, False),
        ("alice", "delete", "copied", False),
    ]


def test_a_pull_that_downloads_blobs_before_a_delete_still_counts(db):
    write(db, [
        event(0, "pull", "other/app", "alice", "GET", tag="copied", target=digest("app")),
        event(0.5, "pull", "other/app", "alice", "GET", target=digest("layer"), media=BLOB, size=900),
        event(2, "delete", "other/app", "alice", "DELETE", target=digest("app"), media=None),
    ])  # fmt: skip

    assert [(action, pull, blob_bytes) for _, action, _, _, _, pull, blob_bytes, _ in activity(db)] == [
        ("pull", True, 900),
        ("delete", False, 0),
    ]


def test_tag_deletes_take_the_digest_and_proxy_line_of_their_manifest_delete(db):
    write(db, skopeo_delete_by_tag(0, "alice"))

    deletes = [(tag, target, status) for _, action, _, tag, target, _, _, status in activity(db) if action == "delete"]
    assert deletes == [(None, digest("app"), 202), ("copied", digest("app"), 202)]


def test_a_mount_gets_the_proxy_line_of_its_mount_request(db):
    uri = f"/v2/other/app/blobs/uploads/?from=team%2Fapp&mount={digest('layer').replace(':', '%3A')}"
    write(db, [
        event(0, "mount", "other/app", "ci-bot", "POST", target=digest("layer"), media=BLOB, source="team/app"),
        line(0, "POST", uri, 201, "ci-bot"),
        line(0.1, "POST", "/v2/other/app/blobs/uploads/", 202, "ci-bot"),  # an ordinary upload start
    ])  # fmt: skip

    assert [(action, status) for _, action, *_, status in activity(db)] == [("mount", 201)]


def multi_platform_pull_and_pushes() -> list[RawRecord]:
    """ci-bot pushes v1 (two blobs), re-tags it latest (no upload), alice pulls a two-platform index, then GETs
    one platform manifest again within the minute and downloads its config once more."""
    up = [event(t, "push", "team/app", "ci-bot", "PUT", target=digest(f"blob{t}"), media=BLOB, size=100 * t)
          for t in (1, 2)]  # fmt: skip
    return [
        *up,
        event(3, "push", "team/app", "ci-bot", "PUT", tag="v1", target=digest("app")),
        event(4, "push", "team/app", "ci-bot", "PUT", tag="latest", target=digest("app")),
        event(10, "pull", "team/multi", "alice", "GET", tag="1.0", target=digest("index"), media=INDEX),
        event(10.1, "pull", "team/multi", "alice", "GET", target=digest("amd64")),
        event(10.2, "pull", "team/multi", "alice", "GET", target=digest("amd64-layer"), media=BLOB, size=3000),
        event(10.3, "pull", "team/multi", "alice", "GET", target=digest("arm64")),
        event(10.4, "pull", "team/multi", "alice", "GET", target=digest("arm64-layer"), media=BLOB, size=4000),
        event(40, "pull", "team/multi", "alice", "GET", target=digest("arm64")),
        event(40.1, "pull", "team/multi", "alice", "GET", target=digest("arm64-config"), media=BLOB, size=50),
    ]


EXPECTED_FOLDED = [
    # actor    action  repository    tag      counts  blob bytes
    ("ci-bot", "push", "team/app",   "v1",    False,  300),  # its two uploads
    ("ci-bot", "push", "team/app",   "latest", False, 0),    # uploaded nothing
    ("alice",  "pull", "team/multi", "1.0",   True,   7050),  # every blob of the multi-platform pull
    ("alice",  "pull", "team/multi", None,    False,  0),    # amd64 manifest
    ("alice",  "pull", "team/multi", None,    False,  0),    # arm64 manifest
    ("alice",  "pull", "team/multi", None,    False,  0),    # arm64 again: the same pull
]  # fmt: skip


def test_each_blob_is_folded_into_one_action_so_bytes_are_never_counted_twice(db):
    write(db, multi_platform_pull_and_pushes())

    assert [(a, act, repo, tag, pull, size) for a, act, repo, tag, _, pull, size, _ in activity(db)] == EXPECTED_FOLDED


def test_the_derivation_does_not_depend_on_how_events_are_batched_or_ordered(db, tmp_path):
    records = multi_platform_pull_and_pushes() + skopeo_delete_by_tag(60, "alice")
    write(db, records)
    shuffled = records[:]
    random.Random(3).shuffle(shuffled)
    one_by_one = tmp_path / "one-by-one.duckdb"
    write(one_by_one, *[[record] for record in shuffled])

    assert sorted(activity(one_by_one), key=repr) == sorted(activity(db), key=repr)


def test_a_platform_manifest_stored_before_its_index_is_still_not_a_second_pull(db):
    index = event(10, "pull", "team/multi", "alice", "GET", tag="1.0", target=digest("index"), media=INDEX)
    child = event(10.1, "pull", "team/multi", "alice", "GET", target=digest("amd64"))
    write(db, [child], [index])  # e.g. two registry replicas, or two Kafka partitions read in another order

    assert [(tag, pull) for _, _, _, tag, _, pull, *_ in activity(db)] == [("1.0", True), (None, False)]


def test_a_batch_spanning_days_is_derived_per_time_range_with_the_same_rows(db, tmp_path):
    day = 86_400.0
    first = multi_platform_pull_and_pushes()
    late = [*skopeo_delete_by_tag(3 * day, "alice"), *skopeo_delete_by_tag(3 * day + 30, "bob")]
    write(db, first + late)  # one batch: a 3-day gap between its rows
    apart = tmp_path / "apart.duckdb"
    write(apart, first, late)

    with store.writer(db) as con:
        assert len(time_ranges(con, 1)) == 2
    assert sorted(activity(db), key=repr) == sorted(activity(apart), key=repr)


@pytest.mark.parametrize("days", [3, MAX_RANGES + 2], ids=["few ranges", "more than MAX_RANGES"])
def test_the_ranges_of_a_batch_stored_as_given_are_those_read_back(db, days):
    pulls = [event(d * 86_400.0 + 0.5, "pull", "team/app", "alice", "GET", tag="1.0") for d in range(days)]
    lines = [line(d * 86_400.0 + 7, "GET", "/v2/team/app/manifests/1.0", 200, "alice") for d in range(days)]
    normalizer = Normalizer("main")
    try:
        batch = normalizer.normalize(pulls + lines)
    finally:
        normalizer.close()
    DuckDBSink(db, default_registry="main").write(batch, "test")
    with store.writer(db) as con:
        assert batch_time_ranges(batch) == time_ranges(con, 1)
    assert len(batch_time_ranges(batch)) == days
    assert [r.rows for r in batch_time_ranges(batch)] == [2] * days  # a pull and its line each


def blob(at: float, repository: str, actor: str, name: str, size: int, method: str = "GET") -> RawRecord:
    """A blob download notification (Distribution notifies a blob GET as a pull of an octet-stream target)."""
    return event(at, "pull", repository, actor, method, target=digest(name), media=BLOB, size=size)


def counted(db) -> list[tuple]:
    """Per row: actor, repository, what it counts as, its bytes, and whether it is a blob-only row."""
    with store.reader(db) as con:
        return con.execute(
            """SELECT actor, repository, counted_as::VARCHAR, blob_bytes, blob_only, digest
               FROM counted_activity ORDER BY occurred_at, activity_id"""
        ).fetchall()


def leaked_digests(start: float, count_: int = 5, actor: str = "mallory") -> list[RawRecord]:
    """Layers fetched one by one by digest, a minute apart, without any manifest request."""
    return [blob(start + 60 * i, "team/secret", actor, f"layer{i}", 1_000 * (i + 1)) for i in range(count_)]


def test_blob_downloads_without_a_manifest_pull_are_one_marked_pull_carrying_their_bytes(db):
    write(db, leaked_digests(0))

    assert counted(db) == [("mallory", "team/secret", "pull", 15_000, True, None)]


def test_a_pull_keeps_its_blobs_and_makes_no_blob_only_row(db):
    write(db, [
        event(0, "pull", "team/app", "alice", "GET", tag="v1", target=digest("app")),
        blob(0.2, "team/app", "alice", "config", 100),
        blob(0.4, "team/app", "alice", "layer", 900),
        blob(0.5, "team/app", "alice", "layer", 900, method="HEAD"),  # an existence check, not a download
    ])  # fmt: skip

    assert counted(db) == [("alice", "team/app", "pull", 1_000, False, digest("app"))]


def test_blobs_after_a_head_only_are_one_pull_and_the_head_stays_a_check(db):
    # containerd with the manifest in its content store: HEAD to resolve the tag, then the missing layers only
    write(db, [
        event(0, "pull", "team/app", "kube", "HEAD", tag="v1", target=digest("app")),
        blob(1, "team/app", "kube", "layer", 700),
        blob(2, "team/app", "kube", "other", 300),
    ])  # fmt: skip

    assert [(kind, size, marked) for _, _, kind, size, marked, _ in counted(db)] == [
        ("check", 0, False),
        ("pull", 1_000, True),
    ]


def test_blob_only_rows_are_per_identity_client_and_hour(db):
    write(db, [
        *leaked_digests(3_500, 2),  # 12:58:20 and 12:59:20
        *leaked_digests(3_700, 1),  # 13:01:40: the next hour
        blob(3_500, "team/secret", "ci-cache", "layer0", 1_000),  # someone else, the same layer
    ])  # fmt: skip

    rows = [(actor, size, marked) for actor, _, _, size, marked, _ in counted(db)]
    assert sorted(rows, key=repr) == [("ci-cache", 1_000, True), ("mallory", 1_000, True), ("mallory", 3_000, True)]


def test_a_manifest_pull_arriving_late_takes_its_blobs_back_from_the_blob_only_row(db):
    layers = [blob(1, "team/app", "alice", "layer", 900), blob(700, "team/app", "alice", "late", 50)]
    write(db, layers, [event(0, "pull", "team/app", "alice", "GET", tag="v1", target=digest("app"))])

    # the layer at +1 s is the pull's; the one 11 minutes later is beyond the pull's reach: a blob-only row
    assert [(kind, size, marked) for _, _, kind, size, marked, _ in counted(db)] == [
        ("pull", 900, False),
        ("pull", 50, True),
    ]


def test_blob_only_rows_do_not_depend_on_batching_order_or_replays(db, tmp_path):
    records = [
        *leaked_digests(0, 4),
        event(30, "pull", "team/secret", "mallory", "GET", tag="v1", target=digest("secret")),
        blob(31, "team/secret", "mallory", "config", 10),
        *multi_platform_pull_and_pushes(),
    ]
    write(db, records, records)  # delivered twice
    shuffled = records[:]
    random.Random(5).shuffle(shuffled)
    one_by_one = tmp_path / "one-by-one.duckdb"
    write(one_by_one, *[[record] for record in shuffled])

    assert sorted(counted(one_by_one), key=repr) == sorted(counted(db), key=repr)
    assert [row for row in counted(db) if row[4]] == [("mallory", "team/secret", "pull", 1_000, True, digest("layer0"))]


def as_version_6(source, path) -> None:
    """The store at ``source`` as regaudit version 6 kept it: its schema and rows, no blob_only column or rows."""
    with duckdb.connect(str(path)) as con:
        for version in range(1, 7):
            con.execute(store.MIGRATIONS[version])
        con.execute("INSERT INTO schema_meta VALUES ('schema_version', '6')")
        con.execute("ATTACH $path AS fresh (READ_ONLY)", {"path": str(source)})
        for table, where in (("registry_events", ""), ("access_log", ""), ("image_activity", " WHERE NOT blob_only")):
            columns = ", ".join(
                name
                for (name,) in con.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_catalog = current_database()"
                    " AND table_name = $table ORDER BY ordinal_position",
                    {"table": table},
                ).fetchall()
            )
            con.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM fresh.{table}{where}")  # noqa: S608


def test_a_store_upgraded_from_version_6_gets_the_blob_only_rows_a_rebuild_gives(db, tmp_path):
    fresh = tmp_path / "fresh.duckdb"
    write(fresh, [*leaked_digests(0), *multi_platform_pull_and_pushes()])
    as_version_6(fresh, db)

    with store.writer(db):  # the upgrade
        pass
    assert counted(db) == counted(fresh)
    assert [row for row in counted(db) if row[4]] == [("mallory", "team/secret", "pull", 15_000, True, None)]
