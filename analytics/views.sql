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
-- logins (/v2/ and token endpoint) the proxy answered with a claimed Basic user.
CREATE OR REPLACE TEMP VIEW identity_activity AS
SELECT
    actor AS identity,
    occurred_at AS seen_at,
    client_addr,
    coalesce(user_agent, proxy_user_agent) AS user_agent,
    action,
    repository,
    coalesce(proxy_status, 200) < 400 AS accepted,
    'image_activity:' || activity_id AS evidence_id
FROM image_activity
WHERE coalesce(actor, '') <> ''
UNION ALL
SELECT
    remote_user,
    request_at,
    client_addr,
    user_agent,
    'login',
    NULL,
    TRUE,
    'access_log:' || line_key
FROM access_log
WHERE coalesce(remote_user, '') <> '' AND endpoint IN ('ping', 'token') AND status < 400;
