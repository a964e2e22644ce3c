-- Derived tables, maintained inside each ingest batch's transaction. Every statement is idempotent and
-- restricted to what the batch can have changed ($batch_id; the time range $lo..$hi around its rows), so
-- events and access lines may arrive in any order, in any batch, and a replay changes nothing.

-- name: activity_from_events
-- One row per image-level action: manifest pulls (HEAD kept as a check), pushes, deletes, mounts.
INSERT INTO image_activity (activity_id, registry, occurred_at, action, is_check, counts_as_pull, actor,
    client_addr, user_agent, repository, tag, digest, media_type, from_repository, request_id, source)
SELECT 'ev:' || registry || ':' || event_id, registry, event_at, action,
       action = 'pull' AND http_method = 'HEAD',
       action = 'pull' AND coalesce(http_method, 'GET') = 'GET',
       actor, client_addr, user_agent, repository, tag, digest, media_type, from_repository, request_id, 'registry'
FROM registry_events
WHERE batch_id = $batch_id
  AND (target_kind IN ('manifest', 'tag', 'digest', 'repository') OR action = 'mount')
ON CONFLICT DO NOTHING;

-- name: count_pulls_once
-- A real pull is counted once per (client, repository, top-level manifest): the platform manifest fetched by
-- digest right after its index, and a repeated GET of the same digest within a minute, are not new pulls.
UPDATE image_activity AS a SET counts_as_pull = FALSE
FROM (
    SELECT DISTINCT c.activity_id
    FROM image_activity c
    JOIN image_activity p
      ON p.registry = c.registry AND p.repository = c.repository
     AND coalesce(p.actor, '') = coalesce(c.actor, '') AND coalesce(p.client_addr, '') = coalesce(c.client_addr, '')
     AND p.action = 'pull' AND NOT p.is_check AND p.activity_id <> c.activity_id
     AND p.occurred_at <= c.occurred_at AND c.occurred_at - p.occurred_at <= INTERVAL 60 SECOND
     AND (p.occurred_at < c.occurred_at OR (p.occurred_at = c.occurred_at AND p.activity_id < c.activity_id))
    WHERE c.action = 'pull' AND c.counts_as_pull AND c.occurred_at BETWEEN $lo AND $hi
      AND ((c.tag IS NULL AND p.digest IS DISTINCT FROM c.digest
            AND (p.media_type LIKE '%index%' OR p.media_type LIKE '%manifest.list%'))
        OR p.digest = c.digest)
) AS children
WHERE a.activity_id = children.activity_id;

-- name: fold_blob_bytes
-- Blob downloads are folded into the manifest pull they belong to (same client, repository, within 10 minutes
-- after it); blob uploads into the manifest push that follows them within 10 minutes. Recomputed for the range.
UPDATE image_activity AS a SET blob_bytes = folded.bytes
FROM (
    SELECT act.activity_id, coalesce(sum(b.size_bytes), 0) AS bytes
    FROM image_activity act
    LEFT JOIN registry_events b
      ON b.registry = act.registry AND b.repository = act.repository AND b.target_kind = 'blob'
     AND coalesce(b.actor, '') = coalesce(act.actor, '') AND coalesce(b.client_addr, '') = coalesce(act.client_addr, '')
     AND ((act.action = 'pull' AND b.action = 'pull' AND b.http_method = 'GET'
           AND b.event_at >= act.occurred_at AND b.event_at < act.occurred_at + INTERVAL 10 MINUTE)
       OR (act.action = 'push' AND b.action IN ('push', 'mount')
           AND b.event_at <= act.occurred_at AND b.event_at > act.occurred_at - INTERVAL 10 MINUTE))
    WHERE act.source = 'registry' AND act.action IN ('pull', 'push') AND NOT act.is_check
      AND act.occurred_at BETWEEN $lo - INTERVAL 10 MINUTE AND $hi + INTERVAL 10 MINUTE
    GROUP BY act.activity_id
) AS folded
WHERE a.activity_id = folded.activity_id AND a.blob_bytes IS DISTINCT FROM folded.bytes;

-- name: join_proxy
-- Each registry action gets the access-log line of the same request: same method, repository, reference (tag
-- or digest) and client address (nginx's peer or the first X-Forwarded-For entry). Proxy times may have only
-- second resolution, so unmatched actions and unmatched lines are paired in order within each such group, and a
-- pair is accepted when the two are at most 10 seconds apart.
UPDATE image_activity AS a
SET proxy_line_key = m.line_key, proxy_status = m.status, proxy_bytes_sent = m.body_bytes,
    proxy_request_seconds = m.request_seconds, proxy_tls = m.tls_protocol, proxy_user_agent = m.user_agent
FROM (
    WITH acts AS (
        SELECT activity_id, occurred_at, repository, coalesce(tag, digest) AS ref, client_addr,
               CASE action WHEN 'push' THEN 'PUT' WHEN 'delete' THEN 'DELETE'
                           ELSE CASE WHEN is_check THEN 'HEAD' ELSE 'GET' END END AS method
        FROM image_activity
        WHERE source = 'registry' AND proxy_line_key IS NULL AND action IN ('pull', 'push', 'delete')
          AND occurred_at BETWEEN $lo - INTERVAL 1 MINUTE AND $hi + INTERVAL 1 MINUTE
    ),
    lines AS (
        SELECT l.*, coalesce(nullif(trim(split_part(l.forwarded_for, ',', 1)), ''), l.client_addr) AS peer
        FROM access_log l
        WHERE l.endpoint = 'manifest' AND l.status < 400
          AND l.request_at BETWEEN $lo - INTERVAL 1 MINUTE AND $hi + INTERVAL 1 MINUTE
          AND NOT EXISTS (SELECT 1 FROM image_activity u WHERE u.proxy_line_key = l.line_key AND u.source = 'registry')
    ),
    candidates AS (
        SELECT a.activity_id, l.line_key
        FROM acts a JOIN lines l
          ON l.repository = a.repository AND l.http_method = a.method AND l.reference = a.ref AND l.peer = a.client_addr
         AND abs(epoch(l.request_at) - epoch(a.occurred_at)) <= 10
    ),
    ranked_acts AS (
        SELECT *, row_number() OVER (PARTITION BY repository, method, ref, client_addr ORDER BY occurred_at, activity_id) AS n
        FROM acts WHERE activity_id IN (SELECT activity_id FROM candidates)
    ),
    ranked_lines AS (
        SELECT *, row_number() OVER (PARTITION BY repository, http_method, reference, peer ORDER BY request_at, line_key) AS n
        FROM lines WHERE line_key IN (SELECT line_key FROM candidates)
    )
    SELECT ra.activity_id, rl.line_key, rl.status, rl.body_bytes, rl.request_seconds, rl.tls_protocol, rl.user_agent
    FROM ranked_acts ra
    JOIN ranked_lines rl
      ON rl.repository = ra.repository AND rl.http_method = ra.method AND rl.reference = ra.ref
     AND rl.peer = ra.client_addr AND rl.n = ra.n
    WHERE abs(epoch(rl.request_at) - epoch(ra.occurred_at)) <= 10
) AS m
WHERE a.activity_id = m.activity_id;

-- name: proxy_only_failures
-- Requests only the proxy saw: refused or missing manifests (401/403/404 and other 4xx), and failed logins
-- (a claimed user refused on /v2/ or the token endpoint). Attributed to the claimed user and the client address.
INSERT INTO image_activity (activity_id, registry, occurred_at, action, is_check, counts_as_pull, actor,
    client_addr, user_agent, repository, tag, digest, source, proxy_line_key, proxy_status, proxy_bytes_sent,
    proxy_request_seconds, proxy_tls, proxy_user_agent)
SELECT 'px:' || line_key, $default_registry, request_at,
       CASE WHEN endpoint IN ('ping', 'token') THEN 'login'
            WHEN http_method = 'PUT' THEN 'push' WHEN http_method = 'DELETE' THEN 'delete' ELSE 'pull' END,
       http_method = 'HEAD', FALSE, remote_user, client_addr, user_agent, coalesce(repository, ''), tag, digest,
       'proxy', line_key, status, body_bytes, request_seconds, tls_protocol, user_agent
FROM access_log
WHERE batch_id = $batch_id AND status >= 400
  AND (endpoint = 'manifest' OR (endpoint IN ('ping', 'token') AND status IN (401, 403) AND remote_user IS NOT NULL))
ON CONFLICT DO NOTHING;

-- name: clear_closed_gaps
-- A gap closes when its notification arrives late: the registry row now carries the line.
DELETE FROM image_activity
WHERE audit_gap AND proxy_line_key IN (
    SELECT proxy_line_key FROM image_activity WHERE source = 'registry' AND proxy_line_key IS NOT NULL
      AND occurred_at BETWEEN $lo - INTERVAL 1 MINUTE AND $hi + INTERVAL 1 MINUTE);

-- name: mark_audit_gaps
-- A manifest request the proxy served successfully with no matching notification, once the notification feed
-- has moved $gap_grace_seconds past it (events can arrive later than lines): a gap in the audit feed.
INSERT INTO image_activity (activity_id, registry, occurred_at, action, is_check, counts_as_pull, actor,
    client_addr, user_agent, repository, tag, digest, source, proxy_line_key, proxy_status, proxy_bytes_sent,
    proxy_request_seconds, proxy_tls, proxy_user_agent, audit_gap)
SELECT 'px:' || l.line_key, $default_registry, l.request_at,
       CASE l.http_method WHEN 'PUT' THEN 'push' WHEN 'DELETE' THEN 'delete' ELSE 'pull' END,
       l.http_method = 'HEAD', FALSE, l.remote_user, l.client_addr, l.user_agent, l.repository, l.tag, l.digest,
       'proxy', l.line_key, l.status, l.body_bytes, l.request_seconds, l.tls_protocol, l.user_agent, TRUE
FROM access_log l
WHERE l.endpoint = 'manifest' AND l.status BETWEEN 200 AND 299 AND l.http_method IN ('GET', 'PUT', 'DELETE')
  AND l.request_at BETWEEN $lo - INTERVAL 1 HOUR AND $hi
  AND l.request_at < (SELECT max(event_at) FROM registry_events) - to_seconds($gap_grace_seconds)
  AND NOT EXISTS (SELECT 1 FROM image_activity a WHERE a.proxy_line_key = l.line_key)
ON CONFLICT DO NOTHING;

-- name: rebuild_tag_history
-- Per (registry, repository, tag) touched by the batch: the digest intervals, rebuilt from all its events.
-- Consecutive pushes of the same digest are one interval; a tag delete ends one; a push of a different digest
-- over a live interval is an overwrite.
DELETE FROM tag_history t
USING (SELECT DISTINCT registry, repository, tag FROM registry_events
       WHERE batch_id = $batch_id AND tag IS NOT NULL AND action IN ('push', 'delete')) k
WHERE t.registry = k.registry AND t.repository = k.repository AND t.tag = k.tag;

INSERT INTO tag_history
WITH keys AS (
    SELECT DISTINCT registry, repository, tag FROM registry_events
    WHERE batch_id = $batch_id AND tag IS NOT NULL AND action IN ('push', 'delete')
),
moves AS (
    SELECT e.registry, e.repository, e.tag, e.action, e.digest, e.event_at, e.actor, e.client_addr,
           e.user_agent, e.event_id
    FROM registry_events e JOIN keys USING (registry, repository, tag)
    WHERE (e.action = 'push' AND e.target_kind = 'manifest') OR (e.action = 'delete' AND e.target_kind = 'tag')
),
ordered AS (
    SELECT *,
           lag(action) OVER w AS prev_action,
           lag(digest) OVER w AS prev_digest
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
FROM intervals
WHERE action = 'push';
