"""Build a large synthetic store for the dashboard's timings: N events (default 10 million) over D days.

    .venv/bin/python bench/make_store.py /tmp/bench-10m.duckdb --events 10000000 --days 30

Rows are generated in DuckDB SQL from ``range()`` and a hash of the row number (deterministic, no Python
loop): ``image_activity`` gets N image-level actions (the table the dashboard scans; as if every event were
image-level, the worst case), ``registry_events`` and ``access_log`` N rows each, ``tag_history`` follows
from the pushes, plus ingest batches, credentials, findings and dead letters. Skewed like a real registry: a
few identities and repositories do most of the pulls; ``latest`` and ``main`` move daily, releases rarely.
The file is written through ``regaudit.ingest.store.writer`` so it carries the current schema.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from regaudit.ingest import store

# u: 0..9999 per row, picks the action; i: the row number; r(name): a 0..1 draw per row and name.
ACTIVITY = """
INSERT INTO image_activity
WITH base AS (
    SELECT i, hash(i, 'u') % 10000 AS u,
           floor($identities * pow((hash(i, 'a') % 1000000) / 1e6, 2.5))::BIGINT AS who,
           floor($repositories * pow((hash(i, 'r') % 1000000) / 1e6, 2))::BIGINT AS what,
           hash(i, 't') % 20 AS tag_n,
           $start::TIMESTAMPTZ + to_microseconds((i::HUGEINT * $span_us // $events)::BIGINT) AS moment
    FROM range($events) AS r(i)
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
SELECT 'ev:default:' || i, 'default', moment, action, is_check,
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
       'application/vnd.oci.image.manifest.v1+json', NULL, 'req-' || i,
       CASE WHEN action IN ('pull', 'push') AND NOT is_check AND NOT refused THEN hash(i, 'b') % 400000000 ELSE 0 END,
       CASE WHEN refused THEN 'proxy' ELSE 'registry' END, CASE WHEN refused THEN 'px-' || i END,
       CASE WHEN refused THEN CASE WHEN u % 2 = 0 THEN 401 ELSE 404 END WHEN u % 3 = 0 THEN 200 END,
       NULL, NULL, NULL, NULL, FALSE
FROM shaped ORDER BY moment
"""

EVENTS = """
INSERT INTO registry_events
SELECT 'default', 'e' || i, moment, CASE WHEN i % 10 < 8 THEN 'pull' ELSE 'push' END,
       CASE WHEN i % 5 = 0 THEN 'manifest' ELSE 'blob' END, 'team' || (i % 40) || '/app' || (i % 800),
       NULL, 'sha256:' || md5(i::VARCHAR), NULL, i % 100000000, NULL, NULL, 'req-' || i, 'GET', '10.0.0.1',
       'registry.example.com', 'skopeo/1.9.3', 'user' || (i % 3000), 'registry-' || (i % 3) || ':5000', NULL,
       NULL, moment + INTERVAL 1 SECOND, 'bench:' || i, i // 1000 + 1, '{}'
FROM (SELECT i, $start::TIMESTAMPTZ + to_microseconds((i::HUGEINT * $span_us // $events)::BIGINT) AS moment
      FROM range($events) AS r(i))
"""

ACCESS = """
INSERT INTO access_log
SELECT 'l' || i, moment, 'nginx-' || (i % 3), '10.0.0.1', NULL, 'user' || (i % 3000), 'basic', 'GET',
       '/v2/', CASE WHEN i % 5 = 0 THEN 'manifest' ELSE 'blob' END, 'team' || (i % 40) || '/app' || (i % 800),
       NULL, NULL, NULL, 200, i % 100000, 300, 0.01, 'skopeo/1.9.3', NULL, 'TLSv1.3', 'registry.example.com',
       'json', 'bare', moment + INTERVAL 1 SECOND, 'bench:' || i, i // 1000 + 1, '{}'
FROM (SELECT i, $start::TIMESTAMPTZ + to_microseconds((i::HUGEINT * $span_us // $events)::BIGINT) AS moment
      FROM range($events) AS r(i))
"""

TAGS = """
INSERT INTO tag_history
SELECT registry, repository, tag, digest, occurred_at, lead(occurred_at) OVER w, lag(digest) OVER w,
       coalesce(lag(digest) OVER w <> digest, FALSE), actor, client_addr, user_agent, activity_id
FROM image_activity WHERE action = 'push' AND source = 'registry' AND tag IS NOT NULL
WINDOW w AS (PARTITION BY registry, repository, tag ORDER BY occurred_at)
"""

REST = [
    """INSERT INTO ingest_batches
       SELECT b, $start::TIMESTAMPTZ + to_microseconds((b::HUGEINT * $span_us // ($events // 1000 + 1))::BIGINT),
              'consumer', 1000, 1000, CASE WHEN b % 100 = 0 THEN 1 ELSE 0 END, 'bench:' || (b * 1000),
              'bench:' || (b * 1000 + 999)
       FROM range(1, $events // 1000 + 2) AS r(b)""",
    """INSERT INTO credentials SELECT 'user' || n, 'user', 'team' || (n % 40), $start::TIMESTAMPTZ - INTERVAL 400 DAY,
       CASE WHEN n % 3 = 0 THEN NULL ELSE $start::TIMESTAMPTZ - INTERVAL 100 DAY END,
       CASE WHEN n % 7 = 0 THEN $start::TIMESTAMPTZ + INTERVAL 10 DAY END, $start::TIMESTAMPTZ, 'bench'
       FROM range($identities) AS r(n)""",
    """INSERT INTO findings SELECT md5('f' || n), ['pull.volume_baseline', 'tag.release_overwrite',
       'credential.unused', 'proxy.bruteforce_by_user'][n % 4 + 1], ['high', 'high', 'low', 'medium'][n % 4 + 1],
       'user' || (n % 3000), NULL, NULL, $start::TIMESTAMPTZ + to_microseconds(n * 500000000),
       $start::TIMESTAMPTZ + to_microseconds(n * 500000000), 'synthetic finding ' || n,
       json_object('ids', ['image_activity:ev:default:' || (n * 1999), 'image_activity:ev:default:' || (n * 2003)],
                   'ids_count', 2), CASE WHEN n % 10 = 0 THEN 'suppressed' ELSE 'open' END, NULL, NULL, NULL
       FROM range(5000) AS r(n)""",
    """INSERT INTO dead_letters SELECT md5('d' || n), $start::TIMESTAMPTZ + to_microseconds(n * 5000000000),
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
        for name, sql in (("image_activity", ACTIVITY), ("registry_events", EVENTS), ("access_log", ACCESS)):
            started = time.perf_counter()
            con.execute(sql, {k: v for k, v in params.items() if f"${k}" in sql})
            print(f"{name}: {events:,} rows in {time.perf_counter() - started:.1f}s", flush=True)
        con.execute(TAGS)
        for sql in REST:
            con.execute(sql, {k: v for k, v in params.items() if f"${k}" in sql})
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
