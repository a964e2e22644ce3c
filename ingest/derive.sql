-- Derived tables, maintained inside each ingest batch's transaction. Every statement is idempotent and
-- restricted to what the batch can have changed ($batch_id; a time range $lo..$hi of its rows: statements that
-- use one run once per range, see RANGE_GAP in derive.py), so events and access lines may arrive in any
-- order, in any batch, and a replay changes nothing. A step with such statements binds no $batch_id: a range a
-- batch queued (derive_pending.sql, MAX_RANGES) is derived later by those steps alone.
--
-- LINE_REACH: a row that carries an access-log line (proxy_line_key) is at most 70 seconds from the line's time:
-- join_proxy and join_proxy_mounts pair within 10 seconds, a tag delete takes the line of its manifest delete
-- within a minute (tag_deletes_share_their_request), proxy rows and audit gaps are at the line's own time. So the
-- checks "no row carries this line yet" read image_activity 3 minutes around the lines they check, not all of it
-- (0.2-0.4 s CPU a batch each at 10M stored events otherwise).

-- name: activity_from_events
-- One row per image-level action: manifest pulls (HEAD kept as a check), pushes, deletes, mounts, and the logins
-- a registry's audit log reports (Quay, Harbor). A refused attempt (outcome 'failure', schema version 9) is kept
-- with its outcome, counted as refused (counted_activity), and never as a pull.
INSERT INTO image_activity (activity_id, registry, occurred_at, action, is_check, counts_as_pull, actor,
    client_addr, user_agent, repository, tag, digest, media_type, from_repository, request_id, source, outcome)
SELECT 'ev:' || registry || ':' || event_id, registry, event_at, action,
       action = 'pull' AND coalesce(http_method = 'HEAD', FALSE),  -- a source that does not say (Quay) is a GET
       action = 'pull' AND coalesce(http_method, 'GET') = 'GET' AND outcome IS DISTINCT FROM 'failure',
       actor, client_addr, user_agent, repository, tag, digest, media_type, from_repository, request_id, 'registry',
       outcome
FROM registry_events
WHERE batch_id = $batch_id
  AND (target_kind IN ('manifest', 'tag', 'digest', 'repository') OR action IN ('mount', 'login'))
ON CONFLICT DO NOTHING;

-- name: count_pulls_once
-- A real pull is counted once per (client, repository, top-level manifest): the platform manifest fetched by
-- digest right after its index, and a repeated GET of the same digest within a minute, are not new pulls.
-- The pulls re-examined reach a minute past the batch, so a parent that arrives after its child still counts.
UPDATE image_activity AS a SET counts_as_pull = FALSE
FROM (
    SELECT DISTINCT c.activity_id
    FROM (  -- each pull judged, once for the minute it is in and once for the minute before (see p below)
        SELECT *, unnest([epoch_us(occurred_at) // 60000000, epoch_us(occurred_at) // 60000000 - 1]) AS minute
        FROM image_activity
        WHERE action = 'pull' AND counts_as_pull AND NOT blob_only
          AND occurred_at BETWEEN $lo AND $hi + INTERVAL 60 SECOND
          -- a row of Docker Hub's usage export (event id usage:...) is a pull Hub counted in its hour, not a request
          -- to judge: its N pulls share one time, digest and user and would count as one
          AND NOT starts_with(activity_id, 'ev:' || registry || ':usage:')
    ) AS c
    JOIN image_activity p
      ON p.registry = c.registry AND p.repository = c.repository
     AND coalesce(p.actor, '') = coalesce(c.actor, '') AND coalesce(p.client_addr, '') = coalesce(c.client_addr, '')
     -- p is at most 60 seconds before c, so in c's minute or the one before: an equality the join hashes on,
     -- instead of comparing every pair of one client's pulls of a repository over the whole range
     AND epoch_us(p.occurred_at) // 60000000 = c.minute
     AND p.action = 'pull' AND NOT p.is_check AND p.activity_id <> c.activity_id
     AND p.occurred_at <= c.occurred_at AND c.occurred_at - p.occurred_at <= INTERVAL 60 SECOND
     AND (p.occurred_at < c.occurred_at OR (p.occurred_at = c.occurred_at AND p.activity_id < c.activity_id))
     -- implied by the two above; stated so the scan of p reads only the range, not the whole table
     AND p.occurred_at BETWEEN $lo - INTERVAL 60 SECOND AND $hi + INTERVAL 60 SECOND
    WHERE NOT p.blob_only
      AND ((c.tag IS NULL AND p.digest IS DISTINCT FROM c.digest
            AND (p.media_type LIKE '%index%' OR p.media_type LIKE '%manifest.list%'))
        OR p.digest = c.digest)
) AS children
WHERE a.activity_id = children.activity_id
  -- implied by the key (the same row); stated so the scan of a reads only the range
  AND a.occurred_at BETWEEN $lo AND $hi + INTERVAL 60 SECOND;

-- name: lookups_before_delete
-- A delete by tag is two requests: the client GETs the tag to learn its digest, then DELETEs that digest
-- (skopeo delete; Distribution 2.8 deletes by digest only). Such a GET, followed within 10 seconds by a delete
-- of the same digest from the same identity and client with no blob download in between, is the delete's
-- lookup, not a pull: kept, but not counted.
UPDATE image_activity AS a SET counts_as_pull = FALSE
FROM (
    SELECT DISTINCT g.activity_id
    FROM image_activity g
    JOIN image_activity d
      ON d.registry = g.registry AND d.repository = g.repository AND d.digest = g.digest
     AND coalesce(d.actor, '') = coalesce(g.actor, '') AND coalesce(d.client_addr, '') = coalesce(g.client_addr, '')
     AND d.action = 'delete' AND d.source = 'registry'
     AND d.occurred_at >= g.occurred_at AND d.occurred_at - g.occurred_at <= INTERVAL 10 SECOND
     -- implied by the two above; stated so the scan of d reads only the range, not the whole table
     AND d.occurred_at BETWEEN $lo - INTERVAL 10 SECOND AND $hi + INTERVAL 10 SECOND
    WHERE g.action = 'pull' AND g.counts_as_pull AND g.source = 'registry' AND g.tag IS NOT NULL
      AND g.occurred_at BETWEEN $lo - INTERVAL 10 SECOND AND $hi
      AND NOT EXISTS (
          SELECT 1 FROM registry_events b
          WHERE b.registry = g.registry AND b.repository = g.repository AND b.target_kind = 'blob'
            AND b.action = 'pull' AND b.http_method = 'GET'
            AND coalesce(b.actor, '') = coalesce(g.actor, '') AND coalesce(b.client_addr, '') = coalesce(g.client_addr, '')
            AND b.event_at BETWEEN g.occurred_at AND d.occurred_at
            AND b.event_at BETWEEN $lo - INTERVAL 10 SECOND AND $hi + INTERVAL 10 SECOND)  -- implied, like d's
) AS lookups
WHERE a.activity_id = lookups.activity_id
  -- implied by the key (the same row); stated so the scan of a reads only the range
  AND a.occurred_at BETWEEN $lo - INTERVAL 10 SECOND AND $hi;

-- name: fold_blob_bytes
-- Each blob event is folded into exactly one image action of the same identity, client and repository, so
-- summing blob_bytes never counts a blob twice: a blob download into the latest counted pull at most 10 minutes
-- before it (a multi-platform pull's layers go to the pull that counts, the index), a blob upload or mount into
-- the first manifest push at most 10 minutes after it (each platform manifest of an index push gets its own).
-- Recomputed for every action a blob of the batch's range can belong to: blobs within 20 minutes of the range,
-- against the candidates within 30 minutes, written to the actions within 10 minutes.
UPDATE image_activity AS a SET blob_bytes = folded.bytes
FROM (
    WITH owners AS (
        SELECT activity_id, registry, repository, coalesce(actor, '') AS who, coalesce(client_addr, '') AS addr,
               occurred_at, action = 'pull' AS is_pull
        FROM image_activity
        WHERE source = 'registry' AND ((action = 'pull' AND counts_as_pull AND NOT blob_only) OR action = 'push')
          AND occurred_at BETWEEN $lo - INTERVAL 30 MINUTE AND $hi + INTERVAL 30 MINUTE
    ),
    blobs AS (  -- each blob once for its own 10 minutes and once for those its owner may be in (see the join)
        SELECT registry, event_id, repository, coalesce(actor, '') AS who, coalesce(client_addr, '') AS addr,
               event_at, coalesce(size_bytes, 0) AS size_bytes, action = 'pull' AS is_download,
               unnest([epoch_us(event_at) // 600000000,
                       epoch_us(event_at) // 600000000 + CASE WHEN action = 'pull' THEN -1 ELSE 1 END]) AS slot
        FROM registry_events
        WHERE target_kind = 'blob' AND ((action = 'pull' AND http_method = 'GET') OR action IN ('push', 'mount'))
          AND event_at BETWEEN $lo - INTERVAL 20 MINUTE AND $hi + INTERVAL 20 MINUTE
    ),
    assigned AS (
        SELECT b.registry, b.event_id, any_value(b.size_bytes) AS size_bytes,
               CASE WHEN any_value(b.is_download)
                    THEN arg_max(o.activity_id, (o.occurred_at, o.activity_id))
                    ELSE arg_min(o.activity_id, (o.occurred_at, o.activity_id)) END AS owner
        FROM blobs b
        JOIN owners o
          ON o.registry = b.registry AND o.repository = b.repository AND o.who = b.who AND o.addr = b.addr
         AND o.is_pull = b.is_download
         -- the owner is within 10 minutes of the blob, so in its 10 minutes or the 10 before (a download) or after
         -- (an upload): an equality the join hashes on, not every pair of one client's rows of a repository
         AND epoch_us(o.occurred_at) // 600000000 = b.slot
         AND CASE WHEN b.is_download
                  THEN o.occurred_at <= b.event_at AND o.occurred_at > b.event_at - INTERVAL 10 MINUTE
                  ELSE o.occurred_at >= b.event_at AND o.occurred_at < b.event_at + INTERVAL 10 MINUTE END
        GROUP BY b.registry, b.event_id
    )
    SELECT o.activity_id, coalesce(sum(s.size_bytes), 0) AS bytes
    FROM image_activity o
    LEFT JOIN assigned s ON s.owner = o.activity_id
    WHERE o.source = 'registry' AND o.action IN ('pull', 'push') AND NOT o.blob_only
      AND o.occurred_at BETWEEN $lo - INTERVAL 10 MINUTE AND $hi + INTERVAL 10 MINUTE
    GROUP BY o.activity_id
) AS folded
WHERE a.activity_id = folded.activity_id AND a.blob_bytes IS DISTINCT FROM folded.bytes
  -- implied by the key (the same row); stated so the scan of a reads only the range
  AND a.occurred_at BETWEEN $lo - INTERVAL 10 MINUTE AND $hi + INTERVAL 10 MINUTE;

-- name: blob_only_downloads
-- Blob downloads that belong to no manifest pull (no counted pull of the same identity, client and repository in
-- the 10 minutes before: the rule fold_blob_bytes folds by) are pulls all the same: a client fetching layers by
-- digest (a CI cache, a client that had the manifest already and only sent a HEAD) or someone holding leaked
-- digests. They become one row per registry, repository, identity, client and UTC hour, marked blob_only,
-- counted as a pull and carrying their bytes (blob_bytes), at the hour's first such blob; the digest is the blob's
-- when the row holds one blob. Fixed hours, not gaps between requests, so a row's key never depends on the order
-- events arrive in. Every hour a blob within 20 minutes of the range falls in is recomputed from all its blobs:
-- its row replaced, or removed when a late manifest pull now owns all of them.
DELETE FROM image_activity AS a
USING (
    SELECT DISTINCT registry, repository, time_bucket(INTERVAL 1 HOUR, event_at) AS hour
    FROM registry_events
    WHERE target_kind = 'blob' AND action = 'pull' AND http_method = 'GET'
      AND event_at BETWEEN $lo - INTERVAL 20 MINUTE AND $hi + INTERVAL 20 MINUTE
) AS touched
WHERE a.blob_only AND a.registry = touched.registry AND a.repository = touched.repository
  AND time_bucket(INTERVAL 1 HOUR, a.occurred_at) = touched.hour
  AND a.occurred_at BETWEEN time_bucket(INTERVAL 1 HOUR, $lo - INTERVAL 20 MINUTE)
                        AND $hi + INTERVAL 80 MINUTE;

INSERT INTO image_activity (activity_id, registry, occurred_at, action, is_check, counts_as_pull, actor,
    client_addr, user_agent, repository, tag, digest, media_type, blob_bytes, source, blob_only)
WITH touched AS (
    SELECT DISTINCT registry, repository, time_bucket(INTERVAL 1 HOUR, event_at) AS hour
    FROM registry_events
    WHERE target_kind = 'blob' AND action = 'pull' AND http_method = 'GET'
      AND event_at BETWEEN $lo - INTERVAL 20 MINUTE AND $hi + INTERVAL 20 MINUTE
),
blobs AS (  -- every blob download of the touched hours
    SELECT b.registry, b.repository, t.hour, b.event_id, b.event_at, b.digest, b.media_type, b.user_agent,
           coalesce(b.actor, '') AS who, coalesce(b.client_addr, '') AS addr, coalesce(b.size_bytes, 0) AS size_bytes
    FROM registry_events b
    JOIN touched t ON t.registry = b.registry AND t.repository = b.repository
                  AND t.hour = time_bucket(INTERVAL 1 HOUR, b.event_at)
    WHERE b.target_kind = 'blob' AND b.action = 'pull' AND b.http_method = 'GET'
      AND b.event_at BETWEEN time_bucket(INTERVAL 1 HOUR, $lo - INTERVAL 20 MINUTE) AND $hi + INTERVAL 80 MINUTE
),
unowned AS (
    SELECT * FROM blobs b
    WHERE NOT EXISTS (
        SELECT 1 FROM image_activity o
        WHERE o.source = 'registry' AND o.action = 'pull' AND o.counts_as_pull AND NOT o.blob_only
          AND o.registry = b.registry AND o.repository = b.repository
          AND coalesce(o.actor, '') = b.who AND coalesce(o.client_addr, '') = b.addr
          AND o.occurred_at <= b.event_at AND o.occurred_at > b.event_at - INTERVAL 10 MINUTE
          -- implied by the two above; stated so the scan of o reads only the range, not the whole table
          AND o.occurred_at BETWEEN time_bucket(INTERVAL 1 HOUR, $lo - INTERVAL 20 MINUTE) - INTERVAL 10 MINUTE
                                AND $hi + INTERVAL 80 MINUTE)
)
SELECT 'bl:' || registry || ':' || repository || ':' || strftime(timezone('UTC', hour), '%Y-%m-%dT%H') || ':'
           || left(md5(who || chr(0) || addr), 16),
       registry, min(event_at), 'pull', FALSE, TRUE, nullif(who, ''), nullif(addr, ''),
       arg_min(user_agent, (event_at, event_id)), repository, NULL,
       CASE WHEN count(DISTINCT digest) = 1 THEN any_value(digest) END, arg_min(media_type, (event_at, event_id)),
       sum(size_bytes), 'registry', TRUE
FROM unowned
GROUP BY registry, repository, hour, who, addr;

-- name: join_proxy
-- Each registry action gets the access-log line of the same request: same method, repository, reference (tag
-- or digest) and client address (nginx's peer or the first X-Forwarded-For entry). Proxy times may have only
-- second resolution, so unmatched actions and unmatched lines are paired in order within each such group, and a
-- pair is accepted when the two are at most 10 seconds apart. A second pass pairs what is left without the
-- address (a proxy location that does not forward X-Forwarded-For makes the registry see the proxy itself),
-- requiring the same identity and at most 2 seconds. A third pairs pushes and deletes whose source reports neither
-- (Artifactory's webhooks) with a line up to 60 seconds before them.
UPDATE image_activity AS a
SET proxy_line_key = m.line_key, proxy_status = m.status, proxy_bytes_sent = m.body_bytes,
    proxy_request_seconds = m.request_seconds, proxy_tls = m.tls_protocol, proxy_user_agent = m.user_agent
FROM (
    WITH acts AS (
        SELECT activity_id, occurred_at, repository, coalesce(tag, digest) AS ref, client_addr,
               coalesce(actor, '') AS who,
               CASE action WHEN 'push' THEN 'PUT' WHEN 'delete' THEN 'DELETE'
                           ELSE CASE WHEN is_check THEN 'HEAD' ELSE 'GET' END END AS method
        FROM image_activity
        WHERE source = 'registry' AND proxy_line_key IS NULL AND action IN ('pull', 'push', 'delete') AND NOT blob_only
          AND occurred_at BETWEEN $lo - INTERVAL 1 MINUTE AND $hi + INTERVAL 1 MINUTE
    ),
    lines AS (
        SELECT l.line_key, l.request_at, l.repository, l.http_method, l.reference, l.status, l.body_bytes,
               l.request_seconds, l.tls_protocol, l.user_agent, coalesce(l.remote_user, '') AS who,
               coalesce(nullif(trim(split_part(l.forwarded_for, ',', 1)), ''), l.client_addr) AS peer
        FROM access_log l
        WHERE l.endpoint = 'manifest' AND l.status < 400
          AND l.request_at BETWEEN $lo - INTERVAL 1 MINUTE AND $hi + INTERVAL 1 MINUTE
          AND NOT EXISTS (SELECT 1 FROM image_activity u WHERE u.proxy_line_key = l.line_key AND u.source = 'registry'
                          AND u.occurred_at BETWEEN $lo - INTERVAL 3 MINUTE AND $hi + INTERVAL 3 MINUTE)  -- LINE_REACH
    ),
    -- pass 1: the address agrees (grp = the address)
    pairs1 AS (
        SELECT a.activity_id, a.occurred_at, a.repository, a.method, a.ref, a.client_addr AS grp,
               l.line_key, l.request_at
        FROM acts a JOIN lines l
          ON l.repository = a.repository AND l.http_method = a.method AND l.reference = a.ref AND l.peer = a.client_addr
         AND abs(epoch(l.request_at) - epoch(a.occurred_at)) <= 10
    ),
    strict AS (
        SELECT ra.activity_id, rl.line_key
        FROM (SELECT *, row_number() OVER (PARTITION BY repository, method, ref, grp ORDER BY occurred_at, activity_id) AS n
              FROM (SELECT DISTINCT activity_id, occurred_at, repository, method, ref, grp FROM pairs1)) ra
        JOIN (SELECT *, row_number() OVER (PARTITION BY repository, method, ref, grp ORDER BY request_at, line_key) AS n
              FROM (SELECT DISTINCT line_key, request_at, repository, method, ref, grp FROM pairs1)) rl
          USING (repository, method, ref, grp, n)
        WHERE EXISTS (SELECT 1 FROM pairs1 p WHERE p.activity_id = ra.activity_id AND p.line_key = rl.line_key)
    ),
    -- pass 2: what is left, same identity (grp), at most 2 seconds apart, address ignored
    pairs2 AS (
        SELECT a.activity_id, a.occurred_at, a.repository, a.method, a.ref, a.who AS grp, l.line_key, l.request_at
        FROM acts a JOIN lines l
          ON l.repository = a.repository AND l.http_method = a.method AND l.reference = a.ref AND l.who = a.who
         AND abs(epoch(l.request_at) - epoch(a.occurred_at)) <= 2
        WHERE a.activity_id NOT IN (SELECT activity_id FROM strict)
          AND l.line_key NOT IN (SELECT line_key FROM strict)
    ),
    relaxed AS (
        SELECT ra.activity_id, rl.line_key
        FROM (SELECT *, row_number() OVER (PARTITION BY repository, method, ref, grp ORDER BY occurred_at, activity_id) AS n
              FROM (SELECT DISTINCT activity_id, occurred_at, repository, method, ref, grp FROM pairs2)) ra
        JOIN (SELECT *, row_number() OVER (PARTITION BY repository, method, ref, grp ORDER BY request_at, line_key) AS n
              FROM (SELECT DISTINCT line_key, request_at, repository, method, ref, grp FROM pairs2)) rl
          USING (repository, method, ref, grp, n)
        WHERE EXISTS (SELECT 1 FROM pairs2 p WHERE p.activity_id = ra.activity_id AND p.line_key = rl.line_key)
    ),
    -- pass 3: a push or delete whose source names neither identity nor address (JFrog's webhooks, timed when
    -- regaudit received them) takes the line of the same request up to a minute before it
    pairs3 AS (
        SELECT a.activity_id, a.occurred_at, a.repository, a.method, a.ref, l.line_key, l.request_at
        FROM acts a JOIN lines l
          ON l.repository = a.repository AND l.http_method = a.method AND l.reference = a.ref
         AND l.request_at BETWEEN a.occurred_at - INTERVAL 60 SECOND AND a.occurred_at + INTERVAL 2 SECOND
        WHERE a.client_addr IS NULL AND a.who = '' AND a.method IN ('PUT', 'DELETE')
          AND a.activity_id NOT IN (SELECT activity_id FROM strict UNION ALL SELECT activity_id FROM relaxed)
          AND l.line_key NOT IN (SELECT line_key FROM strict UNION ALL SELECT line_key FROM relaxed)
    ),
    blind AS (
        SELECT ra.activity_id, rl.line_key
        FROM (SELECT *, row_number() OVER (PARTITION BY repository, method, ref ORDER BY occurred_at, activity_id) AS n
              FROM (SELECT DISTINCT activity_id, occurred_at, repository, method, ref FROM pairs3)) ra
        JOIN (SELECT *, row_number() OVER (PARTITION BY repository, method, ref ORDER BY request_at, line_key) AS n
              FROM (SELECT DISTINCT line_key, request_at, repository, method, ref FROM pairs3)) rl
          USING (repository, method, ref, n)
        WHERE EXISTS (SELECT 1 FROM pairs3 p WHERE p.activity_id = ra.activity_id AND p.line_key = rl.line_key)
    )
    SELECT pair.activity_id, l.line_key, l.status, l.body_bytes, l.request_seconds, l.tls_protocol, l.user_agent
    FROM (SELECT * FROM strict UNION ALL SELECT * FROM relaxed UNION ALL SELECT * FROM blind) AS pair
    JOIN lines l USING (line_key)
) AS m
WHERE a.activity_id = m.activity_id
  -- implied by the key (the same row); stated so the scan of a reads only the range
  AND a.occurred_at BETWEEN $lo - INTERVAL 1 MINUTE AND $hi + INTERVAL 1 MINUTE;

-- name: join_proxy_mounts
-- A mount gets the access-log line of its request, POST /v2/<repository>/blobs/uploads/?mount=<digest>&from=
-- <source> answered 201: same repository, digest and source repository, the same client address or identity,
-- paired in order, at most 10 seconds apart.
UPDATE image_activity AS a
SET proxy_line_key = m.line_key, proxy_status = m.status, proxy_bytes_sent = m.body_bytes,
    proxy_request_seconds = m.request_seconds, proxy_tls = m.tls_protocol, proxy_user_agent = m.user_agent
FROM (
    WITH acts AS (
        SELECT activity_id, occurred_at, repository, digest, from_repository, client_addr, coalesce(actor, '') AS who
        FROM image_activity
        WHERE source = 'registry' AND action = 'mount' AND proxy_line_key IS NULL
          AND occurred_at BETWEEN $lo - INTERVAL 1 MINUTE AND $hi + INTERVAL 1 MINUTE
    ),
    lines AS (
        SELECT line_key, request_at, repository, status, body_bytes, request_seconds, tls_protocol, user_agent,
               url_decode(regexp_extract(uri, '[?&]mount=([^&]*)', 1)) AS digest,
               url_decode(regexp_extract(uri, '[?&]from=([^&]*)', 1)) AS from_repository,
               coalesce(nullif(trim(split_part(forwarded_for, ',', 1)), ''), client_addr) AS peer,
               coalesce(remote_user, '') AS who
        FROM access_log l
        WHERE endpoint = 'upload' AND http_method = 'POST' AND status = 201 AND uri LIKE '%mount=%'
          AND request_at BETWEEN $lo - INTERVAL 1 MINUTE AND $hi + INTERVAL 1 MINUTE
          AND NOT EXISTS (SELECT 1 FROM image_activity u WHERE u.proxy_line_key = l.line_key
                          AND u.occurred_at BETWEEN $lo - INTERVAL 3 MINUTE AND $hi + INTERVAL 3 MINUTE)  -- LINE_REACH
    ),
    pairs AS (
        SELECT a.activity_id, a.occurred_at, l.line_key, l.request_at, a.repository, a.digest, a.from_repository
        FROM acts a JOIN lines l
          ON l.repository = a.repository AND l.digest = a.digest AND l.from_repository = a.from_repository
         AND (l.peer = a.client_addr OR l.who = a.who)
         AND abs(epoch(l.request_at) - epoch(a.occurred_at)) <= 10
    ),
    ranked_acts AS (
        SELECT *, row_number() OVER (PARTITION BY repository, digest, from_repository
                                     ORDER BY occurred_at, activity_id) AS n
        FROM (SELECT DISTINCT activity_id, occurred_at, repository, digest, from_repository FROM pairs)
    ),
    ranked_lines AS (
        SELECT *, row_number() OVER (PARTITION BY repository, digest, from_repository
                                     ORDER BY request_at, line_key) AS n
        FROM (SELECT DISTINCT line_key, request_at, repository, digest, from_repository FROM pairs)
    )
    SELECT ra.activity_id, l.line_key, l.status, l.body_bytes, l.request_seconds, l.tls_protocol, l.user_agent
    FROM ranked_acts ra
    JOIN ranked_lines rl USING (repository, digest, from_repository, n)
    JOIN lines l ON l.line_key = rl.line_key
    WHERE EXISTS (SELECT 1 FROM pairs p WHERE p.activity_id = ra.activity_id AND p.line_key = rl.line_key)
) AS m
WHERE a.activity_id = m.activity_id
  -- implied by the key (the same row); stated so the scan of a reads only the range
  AND a.occurred_at BETWEEN $lo - INTERVAL 1 MINUTE AND $hi + INTERVAL 1 MINUTE;

-- name: tag_deletes_share_their_request
-- A manifest DELETE is one request and one access-log line, but Distribution notifies a delete of the digest
-- and then one delete per tag that pointed at it, under the same request id, the tag deletes without a digest.
-- Each tag delete takes the digest and the proxy columns of the manifest delete of its request, which the
-- registry notified while it served that one request: within a minute of the tag delete, so only that minute of
-- image_activity is read, not every delete ever stored (3 s a batch at 10M events).
UPDATE image_activity AS t
SET digest = d.digest, proxy_line_key = d.proxy_line_key, proxy_status = d.proxy_status,
    proxy_bytes_sent = d.proxy_bytes_sent, proxy_request_seconds = d.proxy_request_seconds,
    proxy_tls = d.proxy_tls, proxy_user_agent = d.proxy_user_agent
FROM image_activity d
WHERE t.source = 'registry' AND t.action = 'delete' AND t.tag IS NOT NULL
  AND t.occurred_at BETWEEN $lo - INTERVAL 1 MINUTE AND $hi + INTERVAL 1 MINUTE
  AND d.source = 'registry' AND d.action = 'delete' AND d.tag IS NULL AND d.digest IS NOT NULL
  AND d.registry = t.registry AND d.repository = t.repository AND d.request_id = t.request_id
  AND d.occurred_at BETWEEN t.occurred_at - INTERVAL 1 MINUTE AND t.occurred_at + INTERVAL 1 MINUTE
  -- implied by the two time conditions above; stated so the scan of d reads only the range
  AND d.occurred_at BETWEEN $lo - INTERVAL 2 MINUTE AND $hi + INTERVAL 2 MINUTE
  AND (t.digest IS DISTINCT FROM d.digest OR t.proxy_line_key IS DISTINCT FROM d.proxy_line_key);

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

-- name: proxy_only_pulls
-- A manifest download that only a request log reports, where the registry's own feed reports no pulls at all:
-- Artifactory's request log beside its webhooks, which report pushes and deletes only (docs/sources.md). It is the
-- record of the pull (a GET counts as one, a HEAD is a check), not a gap in an audit feed that never had pulls.
INSERT INTO image_activity (activity_id, registry, occurred_at, action, is_check, counts_as_pull, actor,
    client_addr, user_agent, repository, tag, digest, source, proxy_line_key, proxy_status, proxy_bytes_sent,
    proxy_request_seconds, proxy_tls, proxy_user_agent, audit_gap)
SELECT 'px:' || line_key, $default_registry, request_at, 'pull', http_method = 'HEAD', http_method = 'GET',
       remote_user, client_addr, user_agent, repository, tag, digest, 'proxy', line_key, status, body_bytes,
       request_seconds, tls_protocol, user_agent, FALSE
FROM access_log
WHERE batch_id = $batch_id AND log_format = 'artifactory' AND endpoint = 'manifest' AND status BETWEEN 200 AND 299
  AND http_method IN ('GET', 'HEAD') AND repository IS NOT NULL
ON CONFLICT DO NOTHING;

-- name: clear_closed_gaps
-- A gap closes when its notification arrives late: the registry row now carries the line.
DELETE FROM image_activity
WHERE audit_gap AND proxy_line_key IN (
    SELECT proxy_line_key FROM image_activity WHERE source = 'registry' AND proxy_line_key IS NOT NULL
      AND occurred_at BETWEEN $lo - INTERVAL 1 MINUTE AND $hi + INTERVAL 1 MINUTE)
  -- LINE_REACH: a gap is at its line's time
  AND occurred_at BETWEEN $lo - INTERVAL 3 MINUTE AND $hi + INTERVAL 3 MINUTE;

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
WHERE l.endpoint = 'manifest' AND l.status BETWEEN 200 AND 299 AND l.http_method IN ('GET', 'HEAD', 'PUT', 'DELETE')
  AND NOT (l.log_format = 'artifactory' AND l.http_method IN ('GET', 'HEAD'))  -- proxy_only_pulls: no feed of pulls
  AND l.request_at BETWEEN $lo - INTERVAL 1 HOUR AND $hi
  AND l.request_at < (SELECT max(event_at) FROM registry_events) - to_seconds($gap_grace_seconds)
  AND NOT EXISTS (SELECT 1 FROM image_activity a WHERE a.proxy_line_key = l.line_key
                  AND a.occurred_at BETWEEN $lo - INTERVAL 63 MINUTE AND $hi + INTERVAL 3 MINUTE)  -- LINE_REACH
ON CONFLICT DO NOTHING;

-- name: rebuild_tag_history
-- Per (registry, repository, tag) the batch moved: its digest intervals from the batch's first move of it
-- ("since") on. Consecutive pushes of the same digest are one interval; a tag delete ends one; a push of a
-- different digest over a live interval is an overwrite; a push or delete the source reports refused (outcome
-- 'failure') moved nothing. Everything before since is summed up by the last interval that began before it:
-- live at since (the tag pointed at its digest, so it seeds the moves since as a push) or ended by a delete (the
-- moves since start afresh). So only the moves since are read, and the rows are those a rebuild from all the
-- tag's events gives (tests/ingest/test_tag_history.py). Run once per batch, not per time range (the statements
-- below bind "earliest", the time of the batch's earliest new row), since the moves since reach past a range.
-- The interval live at since is found in tag_heads (tag_heads.sql: each tag's latest interval, kept here), not in
-- tag_history, whose open intervals lie in every row group: that lookup read all of tag_history (0.027 -> 0.058 s
-- CPU a batch from 1M to 10M stored events). Only a late move (since not after the latest interval's start)
-- reads tag_history, for the interval its next one ended at or after since: row groups of intervals ended before
-- the batch are skipped. So a batch reads its tags' moves and one row per tag, not the tags' whole past
-- (docs/scaling.md: 0.031 -> 0.072 s a batch from 1M to 10M stored events before, 0.035 -> 0.041 s after).
-- 0. the tag moves from the batch's earliest new row on: the step's one read of registry_events (each read costs
-- a look at every row group's zonemap, 616 at 10M stored events), and the tags the batch moved among them, from
-- their first move in the batch, beside their latest interval before the batch
CREATE OR REPLACE TEMP TABLE tag_events AS
    SELECT registry, repository, tag, action, digest, event_at, actor, client_addr, user_agent, event_id, batch_id
    FROM registry_events
    WHERE event_at >= $earliest AND tag IS NOT NULL
      AND ((action = 'push' AND target_kind = 'manifest' AND digest IS NOT NULL)  -- no digest: no interval to open
           OR (action = 'delete' AND target_kind = 'tag'))
      AND outcome IS DISTINCT FROM 'failure';

CREATE OR REPLACE TEMP TABLE tag_keys AS
    WITH keys AS (
        SELECT registry, repository, tag, min(event_at) AS since FROM tag_events WHERE batch_id = $batch_id GROUP BY ALL
    )
    SELECT k.*, h.* EXCLUDE (registry, repository, tag)
    FROM keys k LEFT JOIN tag_heads h USING (registry, repository, tag);

-- 1. the moves since, with the interval live at since as the seed push, and the intervals they make: computed
-- once, read by the statements below (the update leaves the seed live at since, so this is what each of them
-- would compute)
CREATE OR REPLACE TEMP TABLE tag_moves AS
    WITH prior AS (  -- the interval live at since that began before it: at most one, as each ends where the next begins
        SELECT registry, repository, tag, digest, valid_from_at, moved_by, client_addr, user_agent, event_id, since
        FROM tag_keys  -- the latest interval, when it began before since: every earlier one ended before since
        WHERE valid_from_at < since AND (valid_to_at IS NULL OR valid_to_at >= since)
        UNION ALL
        SELECT h.registry, h.repository, h.tag, h.digest, h.valid_from_at, h.moved_by, h.client_addr, h.user_agent,
               h.event_id, k.since
        FROM tag_history h JOIN tag_keys k USING (registry, repository, tag)
        WHERE k.valid_from_at >= k.since  -- a late move: an earlier interval, ended by the next one (never open)
          AND h.valid_from_at < k.since AND h.valid_to_at >= k.since
          AND h.valid_to_at >= $earliest  -- implied; lets the scan skip row groups of intervals ended before
    ),
    moves AS (  -- the moves since, after the live prior interval's push as the seed
        SELECT e.registry, e.repository, e.tag, e.action, e.digest, e.event_at, e.actor, e.client_addr,
               e.user_agent, e.event_id, FALSE AS seed, k.since
        FROM tag_events e JOIN tag_keys k USING (registry, repository, tag)
        WHERE e.event_at >= k.since
        UNION ALL
        SELECT registry, repository, tag, 'push', digest, valid_from_at, moved_by, client_addr, user_agent, event_id,
               TRUE, since
        FROM prior
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
SELECT * FROM intervals;

-- 2. the live prior interval ends at the first change since (or stays open); its start is a key too, so that the
-- scan skips the row groups of intervals that began before the oldest seed (DuckDB's join filters)
UPDATE tag_history AS h SET valid_to_at = i.next_at
FROM tag_moves AS i
WHERE i.seed AND h.registry = i.registry AND h.repository = i.repository AND h.tag = i.tag
  AND h.event_id = i.event_id AND h.valid_from_at = i.event_at AND h.valid_to_at IS DISTINCT FROM i.next_at;

-- 3. the intervals since are derived again
DELETE FROM tag_history t
USING (SELECT DISTINCT registry, repository, tag, since FROM tag_moves) k  -- every moved tag has a row: its first is a change
WHERE t.registry = k.registry AND t.repository = k.repository AND t.tag = k.tag AND t.valid_from_at >= k.since
  -- implied by the one above; stated so the scan reads from the batch on
  AND t.valid_from_at >= $earliest;

INSERT INTO tag_history
SELECT registry, repository, tag, digest, event_at, next_at,
       CASE WHEN prev_action = 'push' THEN prev_digest END,
       coalesce(prev_action = 'push' AND prev_digest IS DISTINCT FROM digest, FALSE),
       actor, client_addr, user_agent, event_id
FROM tag_moves
WHERE action = 'push' AND NOT seed;

-- 4. each moved tag's latest interval again: its last push since (or the seed, now ended or not), else its latest
-- interval before since, unchanged when it ended before since. When neither is known (the tag's pushes since are
-- gone from registry_events, purged, yet their intervals were in tag_history), tag_history's latest before since.
DELETE FROM tag_heads h USING tag_keys k
WHERE h.registry = k.registry AND h.repository = k.repository AND h.tag = k.tag;

INSERT INTO tag_heads
WITH derived AS (
    SELECT registry, repository, tag, digest, event_at, next_at, actor, client_addr, user_agent, event_id
    FROM tag_moves WHERE action = 'push'
),
kept AS (
    SELECT registry, repository, tag, digest, valid_from_at, valid_to_at, moved_by, client_addr, user_agent, event_id
    FROM tag_keys WHERE valid_from_at < since AND valid_to_at < since
),
lost AS (
    SELECT h.registry, h.repository, h.tag, h.digest, h.valid_from_at, h.valid_to_at, h.moved_by, h.client_addr,
           h.user_agent, h.event_id
    FROM tag_history h
    JOIN (SELECT k.* FROM tag_keys k ANTI JOIN derived USING (registry, repository, tag)
          WHERE k.valid_from_at >= k.since) k USING (registry, repository, tag)
)
SELECT * FROM (SELECT * FROM derived UNION ALL SELECT * FROM kept UNION ALL SELECT * FROM lost)
QUALIFY row_number() OVER (PARTITION BY registry, repository, tag ORDER BY event_at DESC, event_id DESC) = 1;

DROP TABLE tag_moves;

DROP TABLE tag_keys;

DROP TABLE tag_events;

-- name: daily_rollups
-- The daily rollups (rollups.sql) follow image_activity: every (day, registry, repository) and (day, registry,
-- identity) the steps above can have changed is summed again from image_activity, whole days at a time. Those
-- steps insert, update and delete only rows within 80 minutes of a range (blob-only hours; audit gaps reach an
-- hour before it), so a key changed only if a row of it lies within ROLLUP_REACH (2 hours) of a range now
-- (inserted or updated) or lay there before (updated away or deleted: then the key's rollup row spans that time,
-- first_at..last_at). Other keys are left as they are, so the cost is the touched keys' rows of a day or two per
-- range, flat as the store grows; a replay, a late event or a later batch rewriting an earlier one's rows sums the
-- same rows again, never twice. Days are UTC, computed on epoch microseconds (no calendar per row). The runner
-- runs each statement for every range before the next: the keys of all ranges are gathered, then deleted, then
-- summed, a day two ranges share once (the first range sums its keys, the second finds them there).
-- A batch of one range late in its day (rollup_delta.py) gathers its keys otherwise: its statements replace these
-- three steps' statements up to their "summed again" line, apply the difference the batch made to each key, and
-- leave only the keys it cannot settle so (their first or last row gone) to be summed again by what follows.
CREATE OR REPLACE TEMP TABLE rollup_repositories (day_at TIMESTAMPTZ, registry VARCHAR, repository VARCHAR);

CREATE OR REPLACE TEMP TABLE rollup_identities (day_at TIMESTAMPTZ, registry VARCHAR, actor VARCHAR);

INSERT INTO rollup_repositories  -- the (day, registry, repository) keys touched
SELECT DISTINCT to_timestamp(epoch_us(occurred_at) // 86400000000 * 86400), registry, repository
FROM image_activity
WHERE occurred_at BETWEEN $lo - INTERVAL 2 HOUR AND $hi + INTERVAL 2 HOUR
UNION
SELECT day_at, registry, repository FROM daily_repository_activity
WHERE last_at >= $lo - INTERVAL 2 HOUR AND first_at <= $hi + INTERVAL 2 HOUR
  -- implied by the two above; stated so the scan reads only the window's days
  AND day_at > $lo - INTERVAL 26 HOUR AND day_at <= $hi + INTERVAL 2 HOUR;

INSERT INTO rollup_identities  -- the (day, registry, identity) keys touched
SELECT DISTINCT to_timestamp(epoch_us(occurred_at) // 86400000000 * 86400), registry, actor
FROM image_activity
WHERE occurred_at BETWEEN $lo - INTERVAL 2 HOUR AND $hi + INTERVAL 2 HOUR
UNION
SELECT day_at, registry, actor FROM daily_identity_activity
WHERE last_at >= $lo - INTERVAL 2 HOUR AND first_at <= $hi + INTERVAL 2 HOUR
  AND day_at > $lo - INTERVAL 26 HOUR AND day_at <= $hi + INTERVAL 2 HOUR  -- implied
;

-- summed again: the keys gathered above (rollup_delta.py gathers them otherwise for a batch late in its day)
DELETE FROM daily_repository_activity AS r
USING rollup_repositories AS t
WHERE r.day_at = t.day_at AND r.registry = t.registry AND r.repository = t.repository
  -- implied by the keys; stated so the scan reads only the window's days
  AND r.day_at > $lo - INTERVAL 26 HOUR AND r.day_at <= $hi + INTERVAL 2 HOUR;

DELETE FROM daily_identity_activity AS r
USING rollup_identities AS t
WHERE r.day_at = t.day_at AND r.registry = t.registry AND r.actor IS NOT DISTINCT FROM t.actor
  AND r.day_at > $lo - INTERVAL 26 HOUR AND r.day_at <= $hi + INTERVAL 2 HOUR  -- implied
;

INSERT INTO daily_repository_activity
SELECT *
FROM (
    SELECT day_at, registry, repository, counted_as, count(*), sum(blob_bytes), min(occurred_at), max(occurred_at)
    FROM (SELECT to_timestamp(epoch_us(occurred_at) // 86400000000 * 86400) AS day_at, registry, repository,
                 counted_as, blob_bytes, occurred_at
          FROM counted_activity
          -- the window's days: from the day of lo - 2 hours to the end of the day of hi + 2 hours
          WHERE occurred_at >= to_timestamp(epoch_us($lo - INTERVAL 2 HOUR) // 86400000000 * 86400)
            AND occurred_at < to_timestamp(epoch_us($hi + INTERVAL 2 HOUR) // 86400000000 * 86400 + 86400))
    SEMI JOIN rollup_repositories USING (day_at, registry, repository)
    GROUP BY day_at, registry, repository, counted_as
) AS summed
ANTI JOIN (  -- summed already by an earlier range of the batch that shares the day
    SELECT day_at, registry, repository FROM daily_repository_activity
    WHERE day_at > $lo - INTERVAL 26 HOUR AND day_at <= $hi + INTERVAL 2 HOUR
) AS done USING (day_at, registry, repository);

INSERT INTO daily_identity_activity
SELECT summed.*
FROM (
    SELECT day_at, registry, actor, counted_as, count(*), sum(blob_bytes), min(occurred_at), max(occurred_at)
    FROM (SELECT to_timestamp(epoch_us(occurred_at) // 86400000000 * 86400) AS day_at, registry, actor,
                 counted_as, blob_bytes, occurred_at
          FROM counted_activity
          WHERE occurred_at >= to_timestamp(epoch_us($lo - INTERVAL 2 HOUR) // 86400000000 * 86400)
            AND occurred_at < to_timestamp(epoch_us($hi + INTERVAL 2 HOUR) // 86400000000 * 86400 + 86400)) AS a
    SEMI JOIN rollup_identities AS t
      ON t.day_at = a.day_at AND t.registry = a.registry AND t.actor IS NOT DISTINCT FROM a.actor
    GROUP BY day_at, registry, actor, counted_as
) AS summed
ANTI JOIN (
    SELECT day_at, registry, actor FROM daily_identity_activity
    WHERE day_at > $lo - INTERVAL 26 HOUR AND day_at <= $hi + INTERVAL 2 HOUR
) AS done ON done.day_at = summed.day_at AND done.registry = summed.registry
         AND done.actor IS NOT DISTINCT FROM summed.actor;

DROP TABLE rollup_repositories;

DROP TABLE rollup_identities;

-- name: daily_feeds
-- The feeds' daily rollups (rollups.sql) gain the batch's new sealed rows: existing keys add them up, new keys are
-- inserted. Run once per batch; a replay stores no row, so it adds nothing.
CREATE OR REPLACE TEMP TABLE feed_events AS
SELECT to_timestamp(epoch_us(event_at) // 86400000000 * 86400) AS day_at, registry, registry_kind,
       count(*) AS events_count, max(event_at) AS last_event_at, max(received_at) AS last_received_at
FROM registry_events WHERE batch_id = $batch_id GROUP BY ALL;

UPDATE daily_registry_events AS r
SET events_count = r.events_count + f.events_count, last_event_at = greatest(r.last_event_at, f.last_event_at),
    last_received_at = greatest(r.last_received_at, f.last_received_at)
FROM feed_events AS f
WHERE r.day_at = f.day_at AND r.registry = f.registry AND r.registry_kind = f.registry_kind;

INSERT INTO daily_registry_events
SELECT f.* FROM feed_events AS f
ANTI JOIN daily_registry_events AS r
  ON r.day_at = f.day_at AND r.registry = f.registry AND r.registry_kind = f.registry_kind;

CREATE OR REPLACE TEMP TABLE feed_lines AS
SELECT to_timestamp(epoch_us(request_at) // 86400000000 * 86400) AS day_at, log_host, count(*) AS lines_count,
       max(request_at) AS last_request_at, max(received_at) AS last_received_at
FROM access_log WHERE batch_id = $batch_id GROUP BY ALL;

UPDATE daily_access_lines AS r
SET lines_count = r.lines_count + f.lines_count, last_request_at = greatest(r.last_request_at, f.last_request_at),
    last_received_at = greatest(r.last_received_at, f.last_received_at)
FROM feed_lines AS f
WHERE r.day_at = f.day_at AND r.log_host IS NOT DISTINCT FROM f.log_host;

INSERT INTO daily_access_lines
SELECT f.* FROM feed_lines AS f
ANTI JOIN daily_access_lines AS r ON r.day_at = f.day_at AND r.log_host IS NOT DISTINCT FROM f.log_host;

DROP TABLE feed_events;

DROP TABLE feed_lines;

-- name: daily_clients
-- daily_identity_clients (client_rollups.sql) follows image_activity as daily_rollups' tables do: every (day,
-- registry, identity) the steps above can have changed, a row of it within 2 hours of a range now or a rollup row
-- spanning that time before, has all its rows (per address, user agent and kind) summed again, whole days at a time;
-- a replay, a late event or a rewrite of an earlier batch's rows sums the same rows again, never twice.
CREATE OR REPLACE TEMP TABLE rollup_clients (day_at TIMESTAMPTZ, registry VARCHAR, actor VARCHAR);

INSERT INTO rollup_clients  -- the (day, registry, identity) keys touched
SELECT DISTINCT to_timestamp(epoch_us(occurred_at) // 86400000000 * 86400), registry, actor
FROM image_activity
WHERE occurred_at BETWEEN $lo - INTERVAL 2 HOUR AND $hi + INTERVAL 2 HOUR
UNION
SELECT day_at, registry, actor FROM daily_identity_clients
WHERE last_at >= $lo - INTERVAL 2 HOUR AND first_at <= $hi + INTERVAL 2 HOUR
  AND day_at > $lo - INTERVAL 26 HOUR AND day_at <= $hi + INTERVAL 2 HOUR  -- implied; reads the window's days only
;

-- summed again: the keys gathered above (rollup_delta.py gathers them otherwise for a batch late in its day)
DELETE FROM daily_identity_clients AS r
USING rollup_clients AS t
WHERE r.day_at = t.day_at AND r.registry = t.registry AND r.actor IS NOT DISTINCT FROM t.actor
  AND r.day_at > $lo - INTERVAL 26 HOUR AND r.day_at <= $hi + INTERVAL 2 HOUR  -- implied
;

INSERT INTO daily_identity_clients
SELECT summed.*
FROM (
    SELECT day_at, registry, actor, client_addr, user_agent, counted_as, count(*), sum(blob_bytes),
           min(occurred_at), max(occurred_at)
    FROM (SELECT to_timestamp(epoch_us(occurred_at) // 86400000000 * 86400) AS day_at, registry, actor, client_addr,
                 coalesce(user_agent, proxy_user_agent) AS user_agent, counted_as, blob_bytes, occurred_at
          FROM counted_activity
          WHERE occurred_at >= to_timestamp(epoch_us($lo - INTERVAL 2 HOUR) // 86400000000 * 86400)
            AND occurred_at < to_timestamp(epoch_us($hi + INTERVAL 2 HOUR) // 86400000000 * 86400 + 86400)) AS a
    SEMI JOIN rollup_clients AS t
      ON t.day_at = a.day_at AND t.registry = a.registry AND t.actor IS NOT DISTINCT FROM a.actor
    GROUP BY day_at, registry, actor, client_addr, user_agent, counted_as
) AS summed
ANTI JOIN (  -- summed already by an earlier range of the batch that shares the day
    SELECT day_at, registry, actor FROM daily_identity_clients
    WHERE day_at > $lo - INTERVAL 26 HOUR AND day_at <= $hi + INTERVAL 2 HOUR
) AS done ON done.day_at = summed.day_at AND done.registry = summed.registry
         AND done.actor IS NOT DISTINCT FROM summed.actor;

DROP TABLE rollup_clients;

-- name: daily_logins
-- daily_proxy_logins (client_rollups.sql) gains the batch's new answered logins: existing keys add them up, new
-- keys are inserted. Run once per batch; a replayed line is not stored again, so it adds nothing.
CREATE OR REPLACE TEMP TABLE batch_logins AS
SELECT to_timestamp(epoch_us(request_at) // 86400000000 * 86400) AS day_at, remote_user, client_addr, user_agent,
       count(*) AS logins_count, min(request_at) AS first_at, max(request_at) AS last_at
FROM access_log
WHERE batch_id = $batch_id AND coalesce(remote_user, '') <> '' AND endpoint IN ('ping', 'token') AND status < 400
GROUP BY ALL;

UPDATE daily_proxy_logins AS r
SET logins_count = r.logins_count + b.logins_count, first_at = least(r.first_at, b.first_at),
    last_at = greatest(r.last_at, b.last_at)
FROM batch_logins AS b
WHERE r.day_at = b.day_at AND r.remote_user = b.remote_user AND r.client_addr IS NOT DISTINCT FROM b.client_addr
  AND r.user_agent IS NOT DISTINCT FROM b.user_agent;

INSERT INTO daily_proxy_logins
SELECT b.* FROM batch_logins AS b
ANTI JOIN daily_proxy_logins AS r
  ON r.day_at = b.day_at AND r.remote_user = b.remote_user AND r.client_addr IS NOT DISTINCT FROM b.client_addr
 AND r.user_agent IS NOT DISTINCT FROM b.user_agent;

DROP TABLE batch_logins;

-- name: daily_pages
-- The pages' daily rollups (page_rollups.sql, the twin per repository and identity, repository_rollups.sql, and the
-- rollup per digest, digest_rollups.sql) follow image_activity as daily_rollups' tables do: every (day, registry,
-- identity, repository) with a row within 2 hours of a range now, or whose rollup row spans that time before (its
-- rows updated away or deleted), has all its rows of the day summed again; the four tables are keyed finer than
-- that, so every key of theirs that changed is among them. The touched keys' rows of every range are gathered once each (a day two ranges share), then summed once
-- into each table: a replay or a late event sums the same rows again, never twice.
CREATE OR REPLACE TEMP TABLE rollup_pairs (day_at TIMESTAMPTZ, registry VARCHAR, actor VARCHAR, repository VARCHAR);

INSERT INTO rollup_pairs  -- the (day, registry, identity, repository) keys touched
SELECT DISTINCT to_timestamp(epoch_us(occurred_at) // 86400000000 * 86400), registry, actor, repository
FROM image_activity
WHERE occurred_at BETWEEN $lo - INTERVAL 2 HOUR AND $hi + INTERVAL 2 HOUR
UNION
SELECT day_at, registry, actor, repository FROM daily_identity_repositories
WHERE last_at >= $lo - INTERVAL 2 HOUR AND first_at <= $hi + INTERVAL 2 HOUR
  AND day_at > $lo - INTERVAL 26 HOUR AND day_at <= $hi + INTERVAL 2 HOUR  -- implied; reads the window's days only
;

-- the keys whose actions and day's order follow (here all those summed again; a batch's delta adds those it changed)
CREATE OR REPLACE TEMP TABLE rollup_touched AS SELECT * FROM rollup_pairs;

-- summed again: the keys gathered above (rollup_delta.py gathers them otherwise for a batch late in its day)
DELETE FROM daily_identity_repositories AS r
USING rollup_pairs AS t
WHERE r.day_at = t.day_at AND r.registry = t.registry AND r.actor IS NOT DISTINCT FROM t.actor
  AND r.repository = t.repository
  AND r.day_at > $lo - INTERVAL 26 HOUR AND r.day_at <= $hi + INTERVAL 2 HOUR  -- implied
;

DELETE FROM daily_digest_pulls AS r
USING rollup_pairs AS t
WHERE r.day_at = t.day_at AND r.registry = t.registry AND r.actor IS NOT DISTINCT FROM t.actor
  AND r.repository = t.repository
  AND r.day_at > $lo - INTERVAL 26 HOUR AND r.day_at <= $hi + INTERVAL 2 HOUR  -- implied
;

DELETE FROM daily_repository_identities AS r  -- its twin in the other order (repository_rollups.sql): the same keys
USING rollup_pairs AS t
WHERE r.day_at = t.day_at AND r.registry = t.registry AND r.repository = t.repository
  AND r.actor IS NOT DISTINCT FROM t.actor
  AND r.day_at > $lo - INTERVAL 26 HOUR AND r.day_at <= $hi + INTERVAL 2 HOUR  -- implied
;

DELETE FROM daily_digest_activity AS r  -- the rollup per digest (digest_rollups.sql): the same keys, finer
USING rollup_pairs AS t
WHERE r.day_at = t.day_at AND r.registry = t.registry AND r.repository = t.repository
  AND r.actor IS NOT DISTINCT FROM t.actor
  AND r.day_at > $lo - INTERVAL 26 HOUR AND r.day_at <= $hi + INTERVAL 2 HOUR  -- implied
;

CREATE OR REPLACE TEMP TABLE rollup_rows (
    activity_id VARCHAR, day_at TIMESTAMPTZ, registry VARCHAR, actor VARCHAR, repository VARCHAR, action VARCHAR,
    is_check BOOLEAN, counted_as counted_kind, digest VARCHAR, tag VARCHAR, blob_bytes BIGINT,
    occurred_at TIMESTAMPTZ
);

-- the touched keys' rows of the window's days, each once (an earlier range of the batch gathered those it shares)
INSERT INTO rollup_rows
SELECT a.*
FROM (SELECT activity_id, to_timestamp(epoch_us(occurred_at) // 86400000000 * 86400) AS day_at, registry, actor,
             repository, action, is_check, counted_as, digest, tag, blob_bytes, occurred_at
      FROM counted_activity
      -- the window's days: from the day of lo - 2 hours to the end of the day of hi + 2 hours
      WHERE occurred_at >= to_timestamp(epoch_us($lo - INTERVAL 2 HOUR) // 86400000000 * 86400)
        AND occurred_at < to_timestamp(epoch_us($hi + INTERVAL 2 HOUR) // 86400000000 * 86400 + 86400)) AS a
SEMI JOIN rollup_pairs AS t
  ON t.day_at = a.day_at AND t.registry = a.registry AND t.actor IS NOT DISTINCT FROM a.actor
 AND t.repository = a.repository
ANTI JOIN rollup_rows AS done ON done.activity_id = a.activity_id;

INSERT INTO daily_identity_repositories
SELECT day_at, registry, actor, repository, action, is_check, counted_as, count(*), sum(blob_bytes),
       min(occurred_at), max(occurred_at)
FROM rollup_rows GROUP BY ALL;

INSERT INTO daily_digest_pulls
SELECT day_at, registry, repository, digest, actor, tag, count(*), sum(blob_bytes), min(occurred_at),
       max(occurred_at)
FROM rollup_rows WHERE counted_as = 'pull' GROUP BY ALL;

INSERT INTO daily_repository_identities
SELECT day_at, registry, repository, actor, action, is_check, count(*), sum(blob_bytes), min(occurred_at),
       max(occurred_at)
FROM rollup_rows GROUP BY ALL;

INSERT INTO daily_digest_activity
SELECT day_at, registry, digest, repository, actor, action, is_check, count(*), sum(blob_bytes), min(occurred_at),
       max(occurred_at)
FROM rollup_rows WHERE digest IS NOT NULL GROUP BY ALL;

DROP TABLE rollup_rows;

-- The actions per identity and per repository (action_rollups.sql) are sums of daily_identity_repositories: the
-- (day, registry, identity) and (day, registry, repository) of every key summed again above are summed again from
-- its rows of the day, whole, a few thousand keys; each range's days once (an earlier range of the batch that shares
-- a day summed its keys).
CREATE OR REPLACE TEMP TABLE rollup_actor_days AS SELECT DISTINCT day_at, registry, actor FROM rollup_touched;

CREATE OR REPLACE TEMP TABLE rollup_repository_days AS SELECT DISTINCT day_at, registry, repository FROM rollup_touched;

DELETE FROM daily_identity_actions AS r
USING rollup_actor_days AS t
WHERE r.day_at = t.day_at AND r.registry = t.registry AND r.actor IS NOT DISTINCT FROM t.actor
  AND r.day_at > $lo - INTERVAL 26 HOUR AND r.day_at <= $hi + INTERVAL 2 HOUR  -- implied; reads the window's days only
;

DELETE FROM daily_repository_actions AS r
USING rollup_repository_days AS t
WHERE r.day_at = t.day_at AND r.registry = t.registry AND r.repository = t.repository
  AND r.day_at > $lo - INTERVAL 26 HOUR AND r.day_at <= $hi + INTERVAL 2 HOUR  -- implied
;

INSERT INTO daily_identity_actions
SELECT summed.*
FROM (
    SELECT r.day_at, r.registry, r.actor, r.action, r.is_check, sum(r.actions_count), sum(r.blob_bytes),
           min(r.first_at), max(r.last_at)
    FROM daily_identity_repositories AS r
    SEMI JOIN rollup_actor_days AS t
      ON t.day_at = r.day_at AND t.registry = r.registry AND t.actor IS NOT DISTINCT FROM r.actor
    WHERE r.day_at > $lo - INTERVAL 26 HOUR AND r.day_at <= $hi + INTERVAL 2 HOUR
    GROUP BY ALL
) AS summed
ANTI JOIN (
    SELECT day_at, registry, actor FROM daily_identity_actions
    WHERE day_at > $lo - INTERVAL 26 HOUR AND day_at <= $hi + INTERVAL 2 HOUR
) AS done ON done.day_at = summed.day_at AND done.registry = summed.registry
         AND done.actor IS NOT DISTINCT FROM summed.actor;

INSERT INTO daily_repository_actions
SELECT summed.*
FROM (
    SELECT r.day_at, r.registry, r.repository, r.action, r.is_check, sum(r.actions_count), sum(r.blob_bytes),
           min(r.first_at), max(r.last_at)
    FROM daily_identity_repositories AS r
    SEMI JOIN rollup_repository_days USING (day_at, registry, repository)
    WHERE r.day_at > $lo - INTERVAL 26 HOUR AND r.day_at <= $hi + INTERVAL 2 HOUR
    GROUP BY ALL
) AS summed
ANTI JOIN (
    SELECT day_at, registry, repository FROM daily_repository_actions
    WHERE day_at > $lo - INTERVAL 26 HOUR AND day_at <= $hi + INTERVAL 2 HOUR
) AS done USING (day_at, registry, repository);

DROP TABLE rollup_actor_days;

DROP TABLE rollup_repository_days;

-- Days first summed are not in order (page_rollups.sql, repository_rollups.sql, digest_rollups.sql); a day the
-- batch's ranges have passed by more than the steps' reach is rewritten in order once (about a second for a day of 300,000 events), and stays so marked: what
-- late events change of it later is appended out of order, a few keys.
INSERT INTO page_rollup_days
SELECT DISTINCT day_at, FALSE FROM rollup_touched
ON CONFLICT DO NOTHING;

DROP TABLE rollup_pairs;

DROP TABLE rollup_touched;

CREATE OR REPLACE TEMP TABLE rollup_settled (day_at TIMESTAMPTZ);

INSERT INTO rollup_settled
SELECT day_at FROM page_rollup_days
WHERE NOT sorted AND day_at < to_timestamp(epoch_us($lo - INTERVAL 2 HOUR) // 86400000000 * 86400);

CREATE OR REPLACE TEMP TABLE rollup_in_order AS
SELECT r.* FROM daily_identity_repositories AS r SEMI JOIN rollup_settled AS s ON r.day_at = s.day_at
ORDER BY r.day_at, r.actor, r.repository;

DELETE FROM daily_identity_repositories AS r USING rollup_settled AS s WHERE r.day_at = s.day_at;

INSERT INTO daily_identity_repositories SELECT * FROM rollup_in_order;

CREATE OR REPLACE TEMP TABLE rollup_in_order AS
SELECT r.* FROM daily_digest_pulls AS r SEMI JOIN rollup_settled AS s ON r.day_at = s.day_at
ORDER BY r.day_at, r.repository, r.digest;

DELETE FROM daily_digest_pulls AS r USING rollup_settled AS s WHERE r.day_at = s.day_at;

INSERT INTO daily_digest_pulls SELECT * FROM rollup_in_order;

CREATE OR REPLACE TEMP TABLE rollup_in_order AS
SELECT r.* FROM daily_repository_identities AS r SEMI JOIN rollup_settled AS s ON r.day_at = s.day_at
ORDER BY r.day_at, r.repository, r.actor;

DELETE FROM daily_repository_identities AS r USING rollup_settled AS s WHERE r.day_at = s.day_at;

INSERT INTO daily_repository_identities SELECT * FROM rollup_in_order;

CREATE OR REPLACE TEMP TABLE rollup_in_order AS
SELECT r.* FROM daily_digest_activity AS r SEMI JOIN rollup_settled AS s ON r.day_at = s.day_at
ORDER BY r.day_at, r.digest, r.repository, r.actor;

DELETE FROM daily_digest_activity AS r USING rollup_settled AS s WHERE r.day_at = s.day_at;

INSERT INTO daily_digest_activity SELECT * FROM rollup_in_order;

UPDATE page_rollup_days AS d SET sorted = TRUE FROM rollup_settled AS s WHERE d.day_at = s.day_at;

DROP TABLE rollup_in_order;

DROP TABLE rollup_settled;
