-- Registry notification events: one batch of raw records in (table `batch`), canonical rows or a reason out.
-- Mirrors schemas/registry.py `Event`: required id, RFC 3339 timestamp inside $earliest..$latest (TIME_WINDOW:
-- later steps add margins to event times and convert them to Python), action, target.repository; optional
-- fields must have their wire type (strings stay strings); empty strings count as missing.
-- A record may hold one event or a whole envelope {"events": [...]} from a foreign producer.
WITH src AS (
    SELECT origin, received_at, coalesce(registry, $default_registry) AS registry, content_type,
           value, try(decode(value)) AS text
    FROM batch
    WHERE kind = 'event' AND coalesce(registry_kind, 'distribution') = 'distribution'  -- other kinds: their source
),
parsed AS (
    -- each JSON function parses the document: an "events" key is looked for only where the text can hold one,
    -- spelled out or with a \u escape in it (no other escape stands for a letter)
    SELECT *, CASE WHEN contains(text, 'events') OR contains(text, '\u') THEN json_type(doc, '$.events') = 'ARRAY'
                   ELSE FALSE END AS from_envelope
    FROM (SELECT *, TRY_CAST(text AS JSON) AS doc FROM src)
),
items AS (
    SELECT origin, received_at, registry, content_type, value, text, doc,
           CASE WHEN doc IS NULL THEN [NULL::JSON]
                WHEN from_envelope THEN json_extract(doc, '$.events[*]')
                ELSE [doc] END AS docs,
           from_envelope
    FROM parsed
),
unnested AS (
    SELECT origin, received_at, registry, content_type, value, text, doc, from_envelope,
           unnest(docs) AS e, unnest(generate_series(0, len(docs) - 1)) AS item
    FROM items
),
leaves AS (
    SELECT *, ltrim(e, ' ' || chr(9) || chr(10) || chr(13)) LIKE '{%' AS e_is_object,
           json_transform(e, '{"id":"JSON","timestamp":"JSON","action":"JSON",
             "target":{"mediaType":"JSON","digest":"JSON","size":"JSON","length":"JSON","repository":"JSON",
                       "fromRepository":"JSON","url":"JSON","tag":"JSON"},
             "request":{"id":"JSON","addr":"JSON","host":"JSON","method":"JSON","useragent":"JSON"},
             "actor":{"name":"JSON","user_type":"JSON","user":"JSON"},
             "source":{"addr":"JSON","instanceID":"JSON"}}') AS s
    FROM unnested
),
typed AS (
    SELECT *,
        CASE WHEN starts_with(s.timestamp, '"') AND regexp_full_match(s.timestamp ->> '$', $rfc3339)
             THEN try_cast(s.timestamp ->> '$' AS TIMESTAMPTZ) END AS event_at,
        nullif(s.target.mediaType ->> '$', '') AS media_type,
        nullif(s.target.digest ->> '$', '') AS digest,
        nullif(s.target.tag ->> '$', '') AS tag,
        -- the first string field of the wrong JSON type, if any (StrictStr in the pydantic model)
        CASE
            WHEN NOT starts_with(s.target.mediaType, '"') THEN 'target.mediaType'
            WHEN NOT starts_with(s.target.digest, '"') THEN 'target.digest'
            WHEN NOT starts_with(s.target.tag, '"') THEN 'target.tag'
            WHEN NOT starts_with(s.target.url, '"') THEN 'target.url'
            WHEN NOT starts_with(s.target.fromRepository, '"') THEN 'target.fromRepository'
            WHEN coalesce(json_type(s.target.size), 'BIGINT') NOT IN ('BIGINT', 'UBIGINT', 'NULL') THEN 'target.size'
            WHEN coalesce(json_type(s.target.length), 'BIGINT') NOT IN ('BIGINT', 'UBIGINT', 'NULL') THEN 'target.length'
            WHEN NOT starts_with(s.request.id, '"') THEN 'request.id'
            WHEN NOT starts_with(s.request.addr, '"') THEN 'request.addr'
            WHEN NOT starts_with(s.request.host, '"') THEN 'request.host'
            WHEN NOT starts_with(s.request.method, '"') THEN 'request.method'
            WHEN NOT starts_with(s.request.useragent, '"') THEN 'request.useragent'
            WHEN NOT starts_with(s.actor.name, '"') THEN 'actor.name'
            WHEN NOT starts_with(s.actor.user_type, '"') THEN 'actor.user_type'
            WHEN NOT starts_with(s.source.addr, '"') THEN 'source.addr'
            WHEN NOT starts_with(s.source.instanceID, '"') THEN 'source.instanceID'
        END AS wrong_type
    FROM leaves
),
checked AS (
    SELECT *,
        CASE
            WHEN text IS NULL THEN 'not UTF-8'
            WHEN doc IS NULL THEN 'not JSON'
            WHEN NOT e_is_object THEN 'event is not a JSON object'
            WHEN NOT coalesce(starts_with(s.id, '"'), FALSE) OR s.id = '""' THEN 'event has no id'
            WHEN event_at IS NULL THEN 'event timestamp missing or not RFC 3339 with an offset'
            WHEN NOT (event_at >= $earliest AND event_at < $latest)
                THEN 'event timestamp ' || (s.timestamp ->> '$') || ' outside ' || $time_window
            WHEN NOT coalesce(starts_with(s.action, '"'), FALSE) OR s.action = '""' THEN 'event has no action'
            WHEN json_type(e, '$.target') IS DISTINCT FROM 'OBJECT' THEN 'event has no target object'
            WHEN NOT coalesce(starts_with(s.target.repository, '"'), FALSE) OR s.target.repository = '""'
                THEN 'event target has no repository'
            WHEN wrong_type IS NOT NULL THEN 'event field ' || wrong_type || ' has the wrong JSON type'
        END AS reason
    FROM typed
)
SELECT
    reason,
    origin || CASE WHEN from_envelope THEN '#' || item ELSE '' END AS origin,
    received_at, registry, content_type,
    -- the bytes are kept only for dead letters; a stored event keeps its JSON in raw
    CASE WHEN reason IS NULL THEN NULL WHEN from_envelope AND e IS NOT NULL THEN encode(e::VARCHAR) ELSE value END
        AS value,
    -- GitLab's actor.user is a JWT, a secret: kept without its signature, as the webhook keeps it
    -- (envelope.strip_actor_jwt), for a record a foreign producer wrote to Kafka itself
    CASE WHEN reason IS NULL AND s.actor.user IS NOT NULL AND NOT coalesce(json_type(s.actor.user) = 'VARCHAR'
                  AND (regexp_full_match(s.actor.user ->> '$', '[^.]*\.[^.]*') OR s.actor.user ->> '$' = '[redacted]'),
                  FALSE)
         THEN json_merge_patch(e, json_object('actor', json_object('user',
             CASE WHEN json_type(s.actor.user) = 'VARCHAR'
                       AND regexp_full_match(s.actor.user ->> '$', '[^.]*\.[^.]*\.[^.]*')
                  THEN regexp_extract(s.actor.user ->> '$', '^([^.]*\.[^.]*)', 1) ELSE '[redacted]' END)))
         WHEN reason IS NULL THEN e END AS raw,
    s.id ->> '$' AS event_id,
    event_at,
    s.action ->> '$' AS action,
    CASE
        WHEN media_type = 'application/octet-stream' THEN 'blob'
        WHEN media_type IS NOT NULL THEN 'manifest'
        WHEN s.action ->> '$' = 'delete' AND digest IS NOT NULL THEN 'digest'
        WHEN s.action ->> '$' = 'delete' AND tag IS NOT NULL THEN 'tag'
        WHEN s.action ->> '$' = 'delete' THEN 'repository'
        ELSE 'unknown'
    END AS target_kind,
    s.target.repository ->> '$' AS repository,
    tag, digest, media_type,
    try_cast(coalesce(s.target.size, s.target.length) AS BIGINT) AS size_bytes,
    nullif(s.target.fromRepository ->> '$', '') AS from_repository,
    nullif(s.target.url ->> '$', '') AS url,
    nullif(s.request.id ->> '$', '') AS request_id,
    nullif(s.request.method ->> '$', '') AS http_method,
    -- checklist 11: strip :port and [ ] of IPv6; a bare IPv6 address keeps its colons
    CASE
        WHEN s.request.addr ->> '$' LIKE '[%]%' THEN regexp_extract(s.request.addr ->> '$', '^\[([^\]]*)\]', 1)
        WHEN regexp_matches(s.request.addr ->> '$', '^[^:]+:[0-9]+$') THEN split_part(s.request.addr ->> '$', ':', 1)
        ELSE nullif(s.request.addr ->> '$', '')
    END AS client_addr,
    nullif(s.request.host ->> '$', '') AS request_host,
    s.request.useragent ->> '$' AS user_agent,
    nullif(s.actor.name ->> '$', '') AS actor,
    nullif(s.source.addr ->> '$', '') AS source_addr,
    nullif(s.source.instanceID ->> '$', '') AS source_instance,
    CASE WHEN content_type IN ('application/vnd.docker.distribution.events.v1+json',
                               'application/vnd.docker.distribution.events.v2+json',
                               'application/json') THEN content_type END AS envelope_type,
    'distribution' AS registry_kind,
    NULL::VARCHAR AS outcome  -- a notification reports what was done, never a refusal
FROM checked
