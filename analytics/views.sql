-- Helper views the detections share, created as TEMP views on every connection the runner opens.

-- The credential inventory as it stands: each import source's latest import, and per name its latest row.
-- A name dropped from a source's newest import is no longer current.
CREATE OR REPLACE TEMP VIEW current_credentials AS
WITH latest_import AS (
    SELECT import_source, max(imported_at) AS imported_at FROM credentials GROUP BY import_source
)
SELECT c.*
FROM credentials AS c
JOIN latest_import AS l ON c.import_source = l.import_source AND c.imported_at = l.imported_at
QUALIFY row_number() OVER (PARTITION BY c.name ORDER BY c.imported_at DESC) = 1;

-- Every time an identity was presented: image-level actions (refused ones included, from the proxy) and
-- logins (/v2/ and token endpoint) the proxy answered with a claimed Basic user. Refused is the store's
-- counting rule (counted_activity, ingest/counting.sql).
-- `identity` is the person the identity mapping names (identified_activity, schema version 10; the proxy's users
-- by an unscoped mapping or one for kind nginx), else the raw identity, so the baselines learnt per identity
-- (identity_days, identity_history) follow one person across registries; with no mapping it is the raw identity.
-- `raw_identity` is what the registry recorded: a detection about a credential itself (never used, expired,
-- shared from many networks at once) reads that.
-- The proxy's users mapped to identities: by an unscoped mapping or one for kind nginx (the access log's).
CREATE OR REPLACE TEMP VIEW proxy_identities AS
SELECT raw_identity, person_id FROM current_identities
WHERE registry IS NULL AND coalesce(registry_kind, 'nginx') = 'nginx'
QUALIFY row_number() OVER (PARTITION BY raw_identity ORDER BY registry_kind NULLS LAST) = 1;

CREATE OR REPLACE TEMP VIEW identity_activity AS
SELECT
    identity,
    occurred_at AS seen_at,
    client_addr,
    coalesce(user_agent, proxy_user_agent) AS user_agent,
    action,
    repository,
    counted_as <> 'refused' AS accepted,
    'image_activity:' || activity_id AS evidence_id,
    actor AS raw_identity
FROM identified_activity
WHERE coalesce(actor, '') <> ''
UNION ALL
SELECT
    coalesce(m.person_id, l.remote_user),
    l.request_at,
    l.client_addr,
    l.user_agent,
    'login',
    NULL,
    TRUE,
    'access_log:' || l.line_key,
    l.remote_user
FROM access_log AS l
LEFT JOIN proxy_identities AS m ON m.raw_identity = l.remote_user
WHERE coalesce(l.remote_user, '') <> '' AND l.endpoint IN ('ping', 'token') AND l.status < 400;

-- identity_activity summed per UTC day, identity, raw identity, client address, user agent and acceptance, from the
-- store's daily rollups (ingest/client_rollups.sql: the registries' rows per registry and raw actor, the proxy's
-- logins per user), mapped to identities here as identity_activity maps its rows (the mapping is a function of the
-- raw identity and the registry). uses_count rows, the first and last time among them. At 10M events this is a
-- sixth of the rows; the baselines that judge an identity's day by its addresses and clients read it, and read
-- identity_activity's rows only for a finding's evidence or an exact time.
CREATE OR REPLACE TEMP VIEW identity_day_clients AS
SELECT
    coalesce(s.person_id, g.person_id, c.actor) AS identity,
    c.actor AS raw_identity,
    c.day_at AS day,
    c.client_addr,
    c.user_agent,
    c.counted_as <> 'refused' AS accepted,
    c.actions_count AS uses_count,
    c.first_at,
    c.last_at
FROM daily_identity_clients AS c
LEFT JOIN scoped_identities AS s ON s.raw_identity = c.actor AND s.registry = c.registry
LEFT JOIN current_identities AS g ON g.raw_identity = c.actor AND g.registry IS NULL AND g.registry_kind IS NULL
WHERE coalesce(c.actor, '') <> ''
UNION ALL
SELECT coalesce(m.person_id, l.remote_user), l.remote_user, l.day_at, l.client_addr, l.user_agent, TRUE,
       l.logins_count, l.first_at, l.last_at
FROM daily_proxy_logins AS l
LEFT JOIN proxy_identities AS m ON m.raw_identity = l.remote_user;

-- identity_day_clients before `now_at`: the rollups' whole days before now_at's day, and that day's rows before
-- now_at summed the same way from identity_activity (a run as of a time inside a day sees only its part).
CREATE OR REPLACE TEMP MACRO identity_clients(now_at) AS TABLE
SELECT * FROM identity_day_clients WHERE day < date_trunc('day', now_at)
UNION ALL
SELECT identity, raw_identity, date_trunc('day', seen_at), client_addr, user_agent, accepted, count(*), min(seen_at),
       max(seen_at)
FROM identity_activity
WHERE seen_at >= date_trunc('day', now_at) AND seen_at < now_at
GROUP BY ALL;

-- Every move of a tag to another digest. Besides tag_history's overwrites, a tag's first interval in the store
-- is a move too when pulls observed the tag resolving to another digest before it: the earlier push predates
-- the store (inferred, previous_digest from the last such pull).
CREATE OR REPLACE TEMP VIEW tag_moves AS
WITH first_intervals AS (
    SELECT * FROM tag_history WHERE previous_digest IS NULL
),
inferred AS (
    SELECT f.registry, f.repository, f.tag, f.digest, f.valid_from_at, f.moved_by, f.client_addr, f.user_agent,
           f.event_id, arg_max(a.digest, (a.occurred_at, a.activity_id)) AS previous_digest
    FROM first_intervals AS f
    JOIN image_activity AS a
      ON a.registry = f.registry AND a.repository = f.repository AND a.tag = f.tag
     AND a.source = 'registry' AND a.action = 'pull' AND a.digest IS NOT NULL AND a.occurred_at < f.valid_from_at
    GROUP BY ALL
    HAVING arg_max(a.digest, (a.occurred_at, a.activity_id)) <> f.digest
)
SELECT registry, repository, tag, digest, previous_digest, valid_from_at, moved_by, client_addr, user_agent,
       event_id, FALSE AS inferred
FROM tag_history
WHERE is_overwrite
UNION ALL
SELECT registry, repository, tag, digest, previous_digest, valid_from_at, moved_by, client_addr, user_agent,
       event_id, TRUE
FROM inferred;

-- Every digest a tag was seen pointing to, and when: from tag history and from pulls by tag.
CREATE OR REPLACE TEMP VIEW tag_observations AS
SELECT registry, repository, tag, digest, valid_from_at AS seen_at, 'tag_history:' || event_id AS evidence_id
FROM tag_history
UNION ALL
SELECT registry, repository, tag, digest, occurred_at, 'image_activity:' || activity_id
FROM image_activity
WHERE source = 'registry' AND action = 'pull' AND tag IS NOT NULL AND digest IS NOT NULL;

-- Failed logins: 401 answers on the login endpoints (GET /v2/ and the token endpoint) that carried a claimed
-- Basic user (the bare challenge that starts every login is not one), from `since_at` less a window up to `now_at`.
-- Each is listed once per window that holds it: windows of `window_minutes` start every half window, so a burst
-- across a boundary still falls whole into one. Brute force and password spraying count these per window.
-- A registry whose own audit log reports failed logins (Quay's login_failure, Harbor's audit log: schema version
-- 9's outcome 'failure', counted as refused) adds them under the identity they claimed; their line_key is the
-- image_activity row's id, and evidence_id names each row's table.
CREATE OR REPLACE TEMP MACRO failed_login_windows(since_at, now_at, window_minutes) AS TABLE
WITH events AS (
    SELECT client_addr, remote_user, request_at, line_key, 'access_log:' || line_key AS evidence_id,
           time_bucket(to_seconds(window_minutes * 30), request_at) AS half_at
    FROM access_log
    WHERE status = 401 AND endpoint IN ('ping', 'token') AND coalesce(remote_user, '') <> ''
      AND request_at >= time_bucket(to_seconds(window_minutes * 30), since_at) - to_seconds(window_minutes * 60)
      AND request_at < now_at
    UNION ALL
    SELECT client_addr, actor, occurred_at, activity_id, 'image_activity:' || activity_id,
           time_bucket(to_seconds(window_minutes * 30), occurred_at)
    FROM counted_activity
    WHERE source = 'registry' AND action = 'login' AND counted_as = 'refused' AND coalesce(actor, '') <> ''
      AND occurred_at >= time_bucket(to_seconds(window_minutes * 30), since_at) - to_seconds(window_minutes * 60)
      AND occurred_at < now_at
)
SELECT e.*, e.half_at - to_seconds(window_minutes * 30) * h.back AS window_at
FROM events AS e CROSS JOIN range(2) AS h(back);

-- Baselines learn before they judge (issue 16): what a detection may know about an identity on a UTC day is what
-- happened before that day. Per identity and day with accepted activity: its first active day, how many days it
-- was active before this one, and the previous active day and last use. Every column reads only earlier days, so
-- a backfill judges each day exactly as a live run on that day would. A detection that calls something "new" or
-- "unusual" for an identity joins the day it judges here and requires enough prior days.
CREATE OR REPLACE TEMP VIEW identity_days AS
SELECT identity, day, events_count, first_at, last_at,
       min(day) OVER w AS first_day,
       row_number() OVER w - 1 AS prior_active_days_count,
       lag(day) OVER w AS previous_day,
       lag(last_at) OVER w AS previous_last_at
FROM (  -- identity_activity's accepted rows per identity and day, summed from the rollups (every stored day)
    SELECT identity, day, sum(uses_count)::BIGINT AS events_count, min(first_at) AS first_at, max(last_at) AS last_at
    FROM identity_day_clients
    WHERE accepted
    GROUP BY ALL
)
WINDOW w AS (PARTITION BY identity ORDER BY day);

-- identity_days with the number of days the identity was active in the `window_days` days before each day
-- (recent_active_days_count): an identity seen once a month ago has a first day but no baseline.
CREATE OR REPLACE TEMP MACRO identity_history(window_days) AS TABLE
SELECT *,
       count(*) OVER (
           PARTITION BY identity ORDER BY day
           RANGE BETWEEN INTERVAL 1 DAY * window_days PRECEDING AND INTERVAL 1 DAY PRECEDING
       ) AS recent_active_days_count
FROM identity_days;

-- When the store began watching: its first event or proxy line (first_event_at) and that UTC day (first_day).
-- A store younger than a baseline has not learnt it for anybody: "new" means nothing in its first days.
CREATE OR REPLACE TEMP VIEW store_start AS
SELECT min(seen_at) AS first_event_at, date_trunc('day', min(seen_at)) AS first_day
FROM (
    SELECT min(occurred_at) AS seen_at FROM image_activity
    UNION ALL
    SELECT min(request_at) FROM access_log
);
