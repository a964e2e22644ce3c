-- Proxy access-log lines: unwrap the shipper envelope (Vector, Filebeat, Fluent Bit, or none), then a container
-- runtime prefix (CRI or Docker json-file), then parse the payload by its shape: nginx JSON (FORMATS.md 3.1 keys, or
-- the registry_json keys of samples/nginx-1.22-registry.conf), nginx's predefined `combined` line, or a JFrog
-- Artifactory 7 request-log line (artifactory-request.log, FORMATS-more-registries.md 5.1: eleven pipe-separated
-- fields; its Docker API paths /api/docker/<repo-key>/v2/... are read as /v2/<repo-key>/...).
-- Input: table `batch` with `text` (the line, decoded with replacement). Output: canonical rows or a reason, one
-- per record in the records' order; normalize.py adds each record's origin, receive time and line (raw) to them.
-- A request time outside $earliest..$latest (schemas/registry.py TIME_WINDOW) is refused, as for events.
WITH src AS (
    -- One parse of a JSON line into every top-level key any shape below reads: the shipper envelopes' keys as
    -- JSON (their type decides the shipper) and the nginx record's keys as text. A line that is not a JSON
    -- object (a `combined` line) is never parsed as JSON. Not JSON after its `{`: try() makes it NULL, as a
    -- json_valid() before the transform did, without parsing every good line twice (a tenth of the JSON lines' time).
    SELECT origin, received_at, key, text,
        CASE WHEN ltrim(text, ' ' || chr(9) || chr(10) || chr(13)) LIKE '{%'
            THEN try(json_transform(text, $line_keys)) END AS doc
    FROM batch
    WHERE kind = 'access'
),
shipped AS (
    SELECT *,
        CASE
            WHEN doc IS NULL THEN 'bare'
            WHEN json_type(doc."@metadata", '$.beat') = 'VARCHAR' AND json_type(doc.message) = 'VARCHAR' THEN 'filebeat'
            WHEN json_type(doc.source_type) = 'VARCHAR' AND json_type(doc.message) = 'VARCHAR' THEN 'vector'
            WHEN json_type(doc.log) = 'VARCHAR' AND json_type(doc."@timestamp") IN ('DOUBLE', 'UBIGINT', 'BIGINT') THEN 'fluentbit'
            WHEN json_type(doc.log) = 'VARCHAR' AND json_type(doc.stream) = 'VARCHAR' THEN 'docker'
            WHEN coalesce(doc.method, doc.request_method, doc.uri, doc.request_uri) IS NOT NULL THEN 'bare'
            ELSE 'unknown'
        END AS shipper
    FROM src
),
unwrapped AS (
    SELECT *,
        CASE shipper
            WHEN 'filebeat' THEN doc.message ->> '$'
            WHEN 'vector' THEN doc.message ->> '$'
            WHEN 'fluentbit' THEN doc.log ->> '$'
            WHEN 'docker' THEN doc.log ->> '$'
            ELSE text
        END AS payload1,
        CASE shipper
            WHEN 'filebeat' THEN text ->> '$.host.name'
            WHEN 'vector' THEN doc.host
        END AS shipper_host,
        -- Filebeat's position of the line, and the line's digest: nginx reopens the same path after a rotation
        -- and writes from offset 0 again, so host, path and offset alone name a line of the new file as the old
        -- file's line at that offset (and its key would drop it as a replay); Filebeat's resend of a line is the
        -- same message at the same offset, one key still
        CASE WHEN shipper = 'filebeat' AND json_type(text, '$.log.offset') IN ('UBIGINT', 'BIGINT')
             THEN coalesce(text ->> '$.host.name', '') || ':' || coalesce(text ->> '$.log.file.path', '') || ':'
                  || (text ->> '$.log.offset') || ':' || left(sha256(doc.message ->> '$'), 16) END AS shipper_key
    FROM shipped
),
stripped AS (
    -- CRI prefix "<time> stdout F <line>"; a Docker json-file record inside a shipper's message; trailing \n.
    -- A bare JSON record is its own line (parsed above).
    -- The trailing \n and \r are trimmed only from a line that ends in one: rtrim reads every character, 15% of
    -- this query's time on combined lines, and the lines of a file or a shipper have theirs cut off already.
    SELECT * EXCLUDE (unprefixed),
        CASE WHEN shipper = 'bare' AND doc IS NOT NULL THEN text
             WHEN suffix(unprefixed, chr(10)) OR suffix(unprefixed, chr(13)) THEN rtrim(unprefixed, chr(10) || chr(13))
             ELSE unprefixed END AS line
    FROM (SELECT *,
        CASE
            WHEN shipper = 'bare' AND doc IS NOT NULL THEN NULL
            WHEN regexp_matches(payload1, '^\d{4}-\d\d-\d\dT\S+ (stdout|stderr) [FP] ')
                THEN regexp_replace(payload1, '^\S+ \S+ [FP] ', '')
            WHEN payload1 LIKE '{%' AND json_valid(payload1) AND json_type(payload1, '$.log') = 'VARCHAR'
                 AND json_type(payload1, '$.stream') = 'VARCHAR'
                THEN payload1 ->> '$.log'
            ELSE payload1
        END AS unprefixed
    FROM unwrapped)
),
lines AS (
    -- Whether the line may be a text line (combined, Artifactory): not a bare JSON record, which was parsed
    -- above. The CASE tests json_valid only on the rows it may hold: an AND of it computed it for every JSON line
    -- too (a seventh of this query's time on JSON lines), as the two regexes below share the condition.
    SELECT *,
        CASE WHEN shipper <> 'unknown' AND (doc IS NULL OR shipper <> 'bare') THEN NOT json_valid(line)
             ELSE false END AS text_line
    FROM stripped
),
formats AS (
    SELECT *,
        CASE WHEN shipper = 'bare' AND doc IS NOT NULL THEN doc
             WHEN shipper <> 'unknown' AND ltrim(line, ' ' || chr(9) || chr(10) || chr(13)) LIKE '{%'
                  AND json_valid(line) THEN json_transform(line, $line_keys) END AS j,
        -- combined, in two halves of four groups: RE2 extracts up to four groups in one pass over the line and
        -- falls back to backtracking for more (eight at once cost twice the time of both halves). The second
        -- half matches the whole pattern, and the first half is read only where the second matched.
        CASE WHEN text_line
             THEN regexp_extract(line,
                 '^\S+ - \S+ \[[^\]]+\] "[^"]*" (\d{3}) (\d+|-) "([^"]*)" "([^"]*)"',
                 ['status', 'bytes', 'referer', 'ua']) END AS c2,
        CASE WHEN c2['status'] <> '' THEN regexp_extract(line, '^(\S+) - (\S+) \[([^\]]+)\] "([^"]*)" ',
                 ['remote_addr', 'remote_user', 'time_local', 'request']) END AS c1,
        -- Artifactory: time|trace id|remote address|username|method|URL|status|request length|response length|
        -- duration ms|user agent (the user agent last, so a | inside it stays in it)
        CASE WHEN text_line
             THEN regexp_extract(line,
                 '^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d))\|([^|]*)\|([^|]*)\|([^|]*)\|([A-Z]+)\|([^|]*)\|(\d{3})\|(-1|\d+)\|(-1|\d+)\|(-1|\d+)\|(.*)$',
                 ['ts', 'trace_id', 'remote_addr', 'username', 'method', 'url', 'status', 'request_length',
                  'response_length', 'duration_ms', 'ua']) END AS a
    FROM lines
),
fields AS (
    SELECT origin, received_at, key, text, shipper, shipper_host, shipper_key,
        CASE WHEN j IS NOT NULL THEN 'json' WHEN c2.status <> '' THEN 'combined'
             WHEN a.status <> '' THEN 'artifactory' END AS log_format,
        CASE WHEN j IS NOT NULL THEN coalesce(
                 try(to_timestamp(try_cast(nullif(j.msec, '') AS DOUBLE))),
                 try_cast(nullif(coalesce(j.ts, j.time), '') AS TIMESTAMPTZ))
             WHEN c2.status <> '' THEN try(strptime(c1.time_local, '%d/%b/%Y:%H:%M:%S %z'))
             WHEN a.status <> '' THEN try_cast(a.ts AS TIMESTAMPTZ) END AS request_at,
        nullif(coalesce(j.remote_addr, nullif(c1.remote_addr, ''), a.remote_addr), '') AS client_addr,
        nullif(coalesce(j.xff, j.http_x_forwarded_for), '') AS forwarded_for,
        -- Artifactory names no claimed user when it refuses one: its placeholders are not identities
        CASE WHEN a.status <> '' THEN
                 CASE WHEN a.username NOT IN ('anonymous', 'non_authenticated_user') THEN nullif(a.username, '') END
             ELSE nullif(nullif(coalesce(j.remote_user, c1.remote_user), ''), '-') END AS remote_user,
        nullif(j.auth, '') AS auth_scheme,
        nullif(coalesce(j.method, j.request_method, nullif(split_part(c1.request, ' ', 1), ''), a.method), '')
            AS http_method,
        nullif(coalesce(j.uri, j.request_uri, nullif(split_part(c1.request, ' ', 2), ''),
                        CASE WHEN a.url LIKE '/%' OR a.url = '' THEN a.url ELSE '/' || a.url END), '') AS uri,
        try_cast(nullif(coalesce(j.status, nullif(c2.status, ''), a.status), '') AS INTEGER) AS status,
        try_cast(nullif(nullif(nullif(coalesce(j.body_bytes_sent, nullif(c2.bytes, ''), a.response_length), ''),
                               '-'), '-1') AS BIGINT) AS body_bytes,
        try_cast(nullif(nullif(coalesce(j.request_length, a.request_length), ''), '-1') AS BIGINT) AS request_length,
        coalesce(try_cast(nullif(j.request_time, '') AS DOUBLE),
                 try_cast(nullif(a.duration_ms, '-1') AS DOUBLE) / 1000) AS request_seconds,
        nullif(nullif(coalesce(j.ua, j.http_user_agent, nullif(c2.ua, ''), a.ua), ''), '-') AS user_agent,
        nullif(coalesce(j.req_id, j.request_id, a.trace_id), '') AS proxy_request_id,
        nullif(coalesce(j.digest, j.upstream_digest), '') AS served_digest,
        nullif(coalesce(j.tls, j.ssl_protocol), '') AS tls_protocol,
        nullif(j.host, '') AS server_host
    FROM formats
),
routed AS (
    -- Artifactory serves the Docker API under /api/docker/<repo-key>/v2/ (its request log shows that path whichever
    -- of its Docker access methods the client used): read as /v2/<repo-key>/..., the name a client of the
    -- repository-path method pulls, so <repo-key>/<image> is the repository, as in its webhooks
    SELECT * REPLACE (CASE WHEN log_format <> 'artifactory' THEN path
        WHEN regexp_matches(path, '^/api/docker/[^/]+/v2/?$') THEN '/v2/'
        WHEN regexp_matches(path, '^/api/docker/[^/]+/v2/_catalog$') THEN '/v2/_catalog'
        ELSE regexp_replace(path, '^/api/docker/([^/]+)/v2/', '/v2/\1/') END AS path)
    FROM (SELECT *, split_part(uri, '?', 1) AS path FROM fields)
),
endpoints AS (
    -- Each pattern behind a substring test it implies (a blob's path was tried against three patterns before its
    -- own): the same endpoints, 6% less of this query's time on JSON lines.
    SELECT *,
        CASE
            WHEN path IN ('/v2', '/v2/') THEN 'ping'
            WHEN path = '/v2/_catalog' THEN 'catalog'
            WHEN contains(path, '/manifests/') AND regexp_matches(path, '^/v2/.+/manifests/[^/]+$') THEN 'manifest'
            WHEN contains(path, '/blobs/uploads') AND regexp_matches(path, '^/v2/.+/blobs/uploads(/[^/]*)?$') THEN 'upload'
            WHEN contains(path, '/blobs/') AND regexp_matches(path, '^/v2/.+/blobs/[^/]+$') THEN 'blob'
            WHEN suffix(path, '/tags/list') AND regexp_matches(path, '^/v2/.+/tags/list$') THEN 'tags'
            WHEN contains(path, '/referrers/') AND regexp_matches(path, '^/v2/.+/referrers/[^/]+$') THEN 'referrers'
            WHEN (suffix(path, 'token') OR suffix(path, 'jwt/auth')) AND regexp_matches(path, '(^|/)(token|jwt/auth)$')
                THEN 'token'
            ELSE 'other'
        END AS endpoint
    FROM routed
),
named AS (
    -- The endpoint's pattern matched already, so its repository and reference are cut out by length: the last
    -- segment is the reference, and what lies between /v2/ and the endpoint's fixed suffix is the repository.
    -- The same strings the patterns' groups give, at a fraction of the cost: extracting a group of `.+` was
    -- half of this query's time on JSON lines.
    SELECT * EXCLUDE (last_part),
        CASE endpoint
            WHEN 'manifest' THEN substr(path, 5, length(path) - 15 - length(last_part))  -- /manifests/<ref>
            WHEN 'upload' THEN CASE WHEN suffix(path, '/blobs/uploads') THEN substr(path, 5, length(path) - 18)
                                    ELSE substr(path, 5, length(path) - 19 - length(last_part)) END
            WHEN 'blob' THEN substr(path, 5, length(path) - 11 - length(last_part))  -- /blobs/<ref>
            WHEN 'tags' THEN substr(path, 5, length(path) - 14)  -- /tags/list
            WHEN 'referrers' THEN substr(path, 5, length(path) - 15 - length(last_part))  -- /referrers/<ref>
        END AS repository,
        CASE WHEN endpoint IN ('manifest', 'blob', 'referrers') THEN last_part END AS reference
    FROM (SELECT *, split_part(path, '/', -1) AS last_part FROM endpoints)
),
checked AS (
    SELECT *,
        -- a digest has a colon, a tag never: the pattern is tried only where it may match
        CASE WHEN contains(reference, ':')
             THEN regexp_matches(reference, '^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$') ELSE false END
            AS reference_is_digest,
        CASE
            WHEN shipper = 'unknown' THEN 'JSON object is neither a known shipper envelope nor an nginx record'
            WHEN log_format IS NULL THEN 'not an nginx JSON record or combined line, nor an Artifactory request line'
            WHEN request_at IS NULL THEN 'access line has no parseable time'
            WHEN NOT (request_at >= $earliest AND request_at < $latest)
                THEN 'access line time ' || request_at::VARCHAR || ' outside ' || $time_window
            WHEN uri IS NULL OR http_method IS NULL THEN 'access line has no request method and URI'
        END AS reason
    FROM named
)
SELECT
    reason,
    coalesce(key, shipper_key, origin) AS line_key,
    request_at, shipper_host AS log_host, client_addr, forwarded_for, remote_user, auth_scheme,
    http_method, uri, endpoint, repository, reference,
    CASE WHEN endpoint = 'manifest' AND NOT reference_is_digest THEN reference END AS tag,
    CASE WHEN reference_is_digest THEN reference WHEN endpoint = 'manifest' THEN served_digest END AS digest,
    status, body_bytes, request_length, request_seconds, user_agent, proxy_request_id, tls_protocol, server_host,
    log_format, shipper
FROM checked
