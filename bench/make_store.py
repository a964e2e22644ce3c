"""Build a large synthetic store for the dashboard's and the detections' timings: N events (default 10 million)
over D days.

    .venv/bin/python bench/make_store.py /tmp/bench-10m.duckdb --events 10000000 --days 30

Rows are generated in DuckDB SQL from ``range()`` and a hash of the row number (deterministic, no Python
loop): ``image_activity`` gets N image-level actions (the table the dashboard scans; as if every event were
image-level, the worst case), ``registry_events`` and ``access_log`` N rows each, ``tag_history`` follows
from the pushes, plus ingest batches, credentials, findings and dead letters. Skewed like a real registry: a
few identities and repositories do most of the pulls; ``latest`` and ``main`` move daily, releases rarely.
Event ids are UUIDs in no order, as Distribution's are (md5 of the row number, cast): a key on them is as costly
to keep as a real registry's.
The access log holds what the proxy detections count: logins (bare 401 challenges, accepted and wrong
passwords) on ``/v2/`` and the token endpoint, tag lists, catalog listings, refused manifests, and one burst
of failed logins for many user names from three outside addresses on the store's last day but one. The
credential inventory was imported twice (a few names dropped from the newer import), robots included.
The file is written through ``regaudit.ingest.store.writer`` so it carries the current schema, and its daily
rollups are summed from the rows at the end (``regaudit.ingest.rollups.rebuild``), as the batches would keep them,
and each tag's latest interval written from ``tag_history`` (``regaudit.ingest.tag_heads.rebuild``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from regaudit.ingest import rollups, store, tag_heads

#: rows per INSERT: one statement of 100M rows sorts and indexes them all in memory (14 GB in its first minute)
CHUNK = 5_000_000
#: DuckDB's memory for the build, so it spills rather than take the machine (its default is 80% of RAM)
MEMORY_LIMIT = "6GB"

# u: 0..9999 per row, picks the action; i: the row number; r(name): a 0..1 draw per row and name.
ACTIVITY = """
INSERT INTO image_activity (activity_id, registry, occurred_at, action, is_check, counts_as_pull, actor, client_addr,
    user_agent, repository, tag, digest, media_type, request_id, blob_bytes, source, proxy_line_key, proxy_status,
    audit_gap, blob_only)
WITH base AS (
    SELECT i, hash(i, 'u') % 10000 AS u,
           floor($identities * pow((hash(i, 'a') % 1000000) / 1e6, 2.5))::BIGINT AS who,
           floor($repositories * pow((hash(i, 'r') % 1000000) / 1e6, 2))::BIGINT AS what,
           hash(i, 't') % 20 AS tag_n,
           $start::TIMESTAMPTZ + to_microseconds((i::HUGEINT * $span_us // $events)::BIGINT) AS moment
    FROM range($first, $last) AS r(i)
),
shaped AS (
    SELECT *, CASE WHEN u < 6000 OR u >= 9600 THEN 'pull' WHEN u < 8400 THEN 'pull' WHEN u < 8900 THEN 'push'
                   WHEN u < 8920 THEN 'delete' WHEN u < 9000 THEN 'mount' WHEN u < 9500 THEN 'pull'
                   ELSE 'login' END AS action,
           u >= 6000 AND u < 8400 AS is_check, u >= 9000 AND u < 9600 AS refused,
           'team' || (what % 40) || '/app' || what AS repository,
           CASE WHEN tag_n < 3 THEN 'latest' WHEN tag_n < 5 THEN 'main' ELSE 'v1.' || tag_n || '.0' END AS tag
    FROM base
)
SELECT 'ev:default:' || md5('e' || i)::UUID, 'default', moment, action, is_check,
       action = 'pull' AND NOT is_check AND NOT refused AND (u < 5000 OR u >= 9600),
       CASE WHEN who % 211 = 7 AND action = 'pull' THEN NULL
            WHEN who % 10 = 0 THEN 'robot$team' || (who % 40) || '+ci' ELSE 'user' || who END,
       '10.' || (who % 200) || '.' || (who // 200 % 250) || '.' || (hash(i, 'c') % 4 + 1),
       ['skopeo/1.9.3', 'docker/27.3.1 go/go1.22.7', 'containerd/v1.7.22', 'kaniko/1.23.2',
        'Go-http-client/1.1'][who % 5 + 1],
       CASE WHEN action = 'login' THEN '' ELSE repository END,
       CASE WHEN action IN ('pull', 'push') THEN tag END,
       CASE WHEN action IN ('pull', 'push', 'delete') AND NOT refused THEN 'sha256:' || sha256(repository || ':' || tag
            || ':' || CASE WHEN tag IN ('latest', 'main') THEN (moment::DATE)::VARCHAR
                           WHEN hash(i, 'o') % 2000 = 0 THEN 'rebuilt' ELSE '' END) END,
       'application/vnd.oci.image.manifest.v1+json', 'req-' || i,
       CASE WHEN action IN ('pull', 'push') AND NOT is_check AND NOT refused THEN hash(i, 'b') % 400000000 ELSE 0 END,
       CASE WHEN refused THEN 'proxy' ELSE 'registry' END, CASE WHEN refused THEN 'px-' || i END,
       CASE WHEN refused THEN CASE WHEN u % 2 = 0 THEN 401 ELSE 404 END WHEN u % 3 = 0 THEN 200 END,
       NOT refused AND hash(i, 'g') % 20000 = 0, FALSE
FROM shaped ORDER BY moment
"""

EVENTS = """
INSERT INTO registry_events (registry, event_id, event_at, action, target_kind, repository, digest, size_bytes,
    request_id, http_method, client_addr, request_host, user_agent, actor, source_addr, received_at, origin,
    batch_id, raw, registry_kind)
SELECT 'default', md5('e' || i)::UUID::VARCHAR, moment, CASE WHEN i % 10 < 8 THEN 'pull' ELSE 'push' END,
       CASE WHEN i % 5 = 0 THEN 'manifest' ELSE 'blob' END, 'team' || (i % 40) || '/app' || (i % 800),
       'sha256:' || md5(i::VARCHAR), i % 100000000, 'req-' || i, 'GET', '10.0.0.1',
       'registry.example.com', 'skopeo/1.9.3', 'user' || (i % 3000), 'registry-' || (i % 3) || ':5000',
       moment + INTERVAL 1 SECOND, 'bench:' || i, i // 1000 + 1, '{}', 'distribution'
FROM (SELECT i, $start::TIMESTAMPTZ + to_microseconds((i::HUGEINT * $span_us // $events)::BIGINT) AS moment
      FROM range($first, $last) AS r(i))
"""

ACCESS = """
INSERT INTO access_log (line_key, request_at, log_host, client_addr, remote_user, auth_scheme, http_method, uri,
    endpoint, repository, status, body_bytes, request_length, request_seconds, user_agent, tls_protocol,
    server_host, log_format, shipper, received_at, origin, batch_id, raw)
WITH base AS (
    SELECT i, hash(i, 'k') % 1000 AS k,
           floor($identities * pow((hash(i, 'a') % 1000000) / 1e6, 2.5))::BIGINT AS who,
           floor($repositories * pow((hash(i, 'r') % 1000000) / 1e6, 2))::BIGINT AS what,
           i >= $events::BIGINT * 49 // 50 AND i < $events::BIGINT * 49 // 50 + $events // 20000 AS attack,
           $start::TIMESTAMPTZ + to_microseconds((i::HUGEINT * $span_us // $events)::BIGINT) AS moment
    FROM range($first, $last) AS r(i)
),
shaped AS (
    SELECT *, 'team' || (what % 40) || '/app' || what AS repository,
           CASE WHEN attack OR k < 60 THEN CASE WHEN k % 3 = 0 THEN 'token' ELSE 'ping' END
                WHEN k < 80 THEN 'tags' WHEN k = 80 THEN 'catalog' WHEN k < 300 THEN 'manifest' ELSE 'blob' END
               AS endpoint,
           CASE WHEN attack THEN 401 WHEN k < 20 THEN 401 WHEN k < 57 THEN 200 WHEN k < 60 THEN 401
                WHEN k BETWEEN 81 AND 89 THEN 404 WHEN k BETWEEN 90 AND 92 THEN 403 ELSE 200 END AS status
    FROM base
)
SELECT 'l' || i, moment, 'nginx-' || (i % 3),
       CASE WHEN attack THEN '203.0.113.' || (i % 3 + 7)
            ELSE '10.' || (who % 200) || '.' || (who // 200 % 250) || '.' || (hash(i, 'c') % 4 + 1) END,
       CASE WHEN attack THEN 'user' || (hash(i, 'v') % 60) WHEN k < 20 THEN NULL
            WHEN who % 10 = 0 THEN 'robot$team' || (who % 40) || '+ci' ELSE 'user' || who END, 'basic',
       CASE WHEN endpoint = 'blob' AND k % 4 = 0 THEN 'HEAD' ELSE 'GET' END,
       CASE endpoint WHEN 'ping' THEN '/v2/' WHEN 'token' THEN '/token' WHEN 'catalog' THEN '/v2/_catalog'
                     WHEN 'tags' THEN '/v2/' || repository || '/tags/list'
                     ELSE '/v2/' || repository || '/' || endpoint || 's/x' END,
       endpoint, CASE WHEN endpoint IN ('tags', 'manifest', 'blob') THEN repository END, status,
       CASE WHEN status = 200 THEN hash(i, 'b') % 100000 ELSE 0 END, 300, 0.01,
       ['skopeo/1.9.3', 'docker/27.3.1 go/go1.22.7', 'containerd/v1.7.22', 'kaniko/1.23.2',
        'Go-http-client/1.1'][who % 5 + 1], 'TLSv1.3', 'registry.example.com',
       'json', 'bare', moment + INTERVAL 1 SECOND, 'bench:' || i, i // 1000 + 1, '{}'
FROM shaped
"""

TAGS = """
INSERT INTO tag_history (registry, repository, tag, digest, valid_from_at, valid_to_at, previous_digest, is_overwrite,
    moved_by, client_addr, user_agent, event_id)
SELECT registry, repository, tag, digest, occurred_at, lead(occurred_at) OVER w, lag(digest) OVER w,
       coalesce(lag(digest) OVER w <> digest, FALSE), actor, client_addr, user_agent, activity_id
FROM image_activity WHERE action = 'push' AND source = 'registry' AND tag IS NOT NULL
WINDOW w AS (PARTITION BY registry, repository, tag ORDER BY occurred_at)
"""

REST = [
    """INSERT INTO ingest_batches (batch_id, committed_at, source, events_count, access_count, dead_letters_count,
           origin_first, origin_last)
       SELECT b, $start::TIMESTAMPTZ + to_microseconds((b::HUGEINT * $span_us // ($events // 1000 + 1))::BIGINT),
              'consumer', 1000, 1000, CASE WHEN b % 100 = 0 THEN 1 ELSE 0 END, 'bench:' || (b * 1000),
              'bench:' || (b * 1000 + 999)
       FROM range(1, $events // 1000 + 2) AS r(b)""",
    """INSERT INTO credentials (name, kind, owner, created_at, rotated_at, expires_at, imported_at, import_source)
       WITH people AS (
           SELECT 'user' || n AS name, 'user' AS kind, 'team' || (n % 40) AS owner, n
           FROM range($identities + 300) AS r(n) WHERE n % 10 <> 0
           UNION ALL
           SELECT 'robot$team' || n || '+ci', 'robot', 'team' || n, n FROM range(40) AS r(n)
       )
       SELECT name, kind, owner, $start::TIMESTAMPTZ - INTERVAL 400 DAY,
              CASE WHEN n % 3 = 0 THEN NULL ELSE $start::TIMESTAMPTZ - INTERVAL 100 DAY END,
              CASE WHEN n % 7 = 0 THEN $start::TIMESTAMPTZ + INTERVAL 10 DAY END, imported_at, 'bench'
       FROM people CROSS JOIN (VALUES ($start::TIMESTAMPTZ - INTERVAL 7 DAY), ($start::TIMESTAMPTZ + INTERVAL 15 DAY))
            AS i(imported_at)
       WHERE imported_at < $start::TIMESTAMPTZ OR n % 97 <> 0""",
    """INSERT INTO findings (finding_id, detection_id, severity, subject, first_seen_at, last_seen_at, summary,
           evidence, status, registry, repository, identity)
       SELECT md5('f' || n), ['pull.volume_baseline', 'tag.release_overwrite',
       'credential.unused', 'proxy.bruteforce_by_user'][n % 4 + 1], ['high', 'high', 'low', 'medium'][n % 4 + 1],
       'user' || (n % 3000), $start::TIMESTAMPTZ + to_microseconds(n * 500000000),
       $start::TIMESTAMPTZ + to_microseconds(n * 500000000), 'synthetic finding ' || n,
       json_object('ids', ['image_activity:ev:default:' || (n * 1999), 'image_activity:ev:default:' || (n * 2003)],
                   'ids_count', 2), CASE WHEN n % 10 = 0 THEN 'suppressed' ELSE 'open' END,
       'default', 'team' || (n % 800) || '/app', 'user' || (n % 3000)
       FROM range(5000) AS r(n)""",
    """INSERT INTO dead_letters (dead_letter_id, received_at, source, origin, reason, content_type, batch_id, raw)
       SELECT md5('d' || n), $start::TIMESTAMPTZ + to_microseconds(n * 5000000000),
       'events', 'bench:' || n, 'not JSON', 'application/json', n + 1, '\\x00'::BLOB FROM range(500) AS r(n)""",
]


def build(path: Path, events: int, days: int, identities: int = 3000, repositories: int = 800) -> None:
    params = {
        "events": events,
        "span_us": days * 86_400_000_000,
        "start": "2025-03-01 00:00:00+00",
        "identities": identities,
        "repositories": repositories,
    }
    with store.writer(path) as con:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
        for name, sql in (("image_activity", ACTIVITY), ("registry_events", EVENTS), ("access_log", ACCESS)):
            started = time.perf_counter()
            for first in range(0, events, CHUNK):
                chunk = {**params, "first": first, "last": min(first + CHUNK, events)}
                con.execute(sql, {k: v for k, v in chunk.items() if f"${k}" in sql})
                con.execute("CHECKPOINT")
            print(f"{name}: {events:,} rows in {time.perf_counter() - started:.1f}s", flush=True)
        con.execute(TAGS)
        tag_heads.rebuild(con)  # tag_history was written here, not by batches, which keep tag_heads
        for sql in REST:
            con.execute(sql, {k: v for k, v in params.items() if f"${k}" in sql})
        started = time.perf_counter()
        rollups.rebuild(con)  # image_activity was written here, not by batches, which keep the rollups
        print(f"daily rollups in {time.perf_counter() - started:.1f}s", flush=True)
        con.execute("CHECKPOINT")
        tables = ("image_activity", "registry_events", "access_log", "tag_history", "findings")
        counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in tables}  # noqa: S608
    print(" ".join(f"{t}={c:,}" for t, c in counts.items()), f"size={path.stat().st_size / 1e9:.2f}GB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args()
    if args.path.exists():
        parser.error(f"{args.path} exists; choose a new file")
    build(args.path, args.events, args.days)


if __name__ == "__main__":
    main()
