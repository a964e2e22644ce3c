-- regaudit store, schema version 5: what a finding is about, in columns of its own (analytics/findings.py), so
-- reports, the dashboard and alerts select and scope findings without parsing the subject. NULL where a column
-- does not apply to the detection. The finding id (detection, subject, window) is unchanged.
ALTER TABLE findings ADD COLUMN registry VARCHAR;
ALTER TABLE findings ADD COLUMN repository VARCHAR;
ALTER TABLE findings ADD COLUMN tag VARCHAR;
ALTER TABLE findings ADD COLUMN digest VARCHAR;
ALTER TABLE findings ADD COLUMN identity VARCHAR;
ALTER TABLE findings ADD COLUMN client_addr VARCHAR;

-- Findings stored before: a column is filled only where it is safe, i.e. when the finding lists all of its
-- evidence (ids_count not above the ids kept) and every row it cites holds the same value there; otherwise it
-- stays NULL until the next analysis that sees the finding refreshes it.
UPDATE findings SET
    registry = agreed.registry, repository = agreed.repository, tag = agreed.tag, digest = agreed.digest,
    identity = agreed.identity, client_addr = agreed.client_addr
FROM (
    WITH refs AS (
        SELECT finding_id, unnest(json_extract_string(evidence, '$.ids[*]')) AS ref
        FROM findings
        WHERE CAST(json_extract(evidence, '$.ids_count') AS BIGINT) = json_array_length(evidence, '$.ids')
    ),
    cited AS (
        SELECT r.finding_id, a.registry, a.repository, a.tag, a.digest, a.actor AS identity, a.client_addr
        FROM refs AS r JOIN image_activity AS a ON r.ref = 'image_activity:' || a.activity_id
        UNION ALL
        SELECT r.finding_id, t.registry, t.repository, t.tag, t.digest, t.moved_by, t.client_addr
        FROM refs AS r JOIN tag_history AS t ON r.ref = 'tag_history:' || t.event_id
        UNION ALL
        SELECT r.finding_id, NULL, l.repository, l.tag, l.digest, nullif(l.remote_user, ''), l.client_addr
        FROM refs AS r JOIN access_log AS l ON r.ref = 'access_log:' || l.line_key
        UNION ALL
        SELECT DISTINCT r.finding_id, NULL, NULL, NULL, NULL, c.name, NULL
        FROM refs AS r JOIN credentials AS c ON r.ref = 'credentials:' || c.name
    ),
    counted AS (
        SELECT finding_id, count(*) AS rows_count,
               count(registry) AS registry_count, count(DISTINCT registry) AS registries, min(registry) AS registry,
               count(repository) AS repository_count, count(DISTINCT repository) AS repositories,
               min(repository) AS repository,
               count(tag) AS tag_count, count(DISTINCT tag) AS tags, min(tag) AS tag,
               count(digest) AS digest_count, count(DISTINCT digest) AS digests, min(digest) AS digest,
               count(identity) AS identity_count, count(DISTINCT identity) AS identities, min(identity) AS identity,
               count(client_addr) AS client_addr_count, count(DISTINCT client_addr) AS client_addrs,
               min(client_addr) AS client_addr
        FROM cited
        GROUP BY finding_id
    )
    SELECT finding_id,
           CASE WHEN registry_count = rows_count AND registries = 1 THEN registry END AS registry,
           CASE WHEN repository_count = rows_count AND repositories = 1 THEN repository END AS repository,
           CASE WHEN tag_count = rows_count AND tags = 1 THEN tag END AS tag,
           CASE WHEN digest_count = rows_count AND digests = 1 THEN digest END AS digest,
           CASE WHEN identity_count = rows_count AND identities = 1 THEN identity END AS identity,
           CASE WHEN client_addr_count = rows_count AND client_addrs = 1 THEN client_addr END AS client_addr
    FROM counted
) AS agreed
WHERE findings.finding_id = agreed.finding_id;
