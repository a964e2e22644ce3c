-- regaudit store, schema version 9: sources that report outcomes (issue 17). A registry's own audit log can say
-- that something was refused, which a Distribution notification never does: Quay logs login_failure,
-- pull_repo_failed, push_repo_failed and delete_tag_failed, Harbor's audit log records failed logins. Such an event
-- is stored with the action it attempted (a login is action 'login') and `outcome` 'failure'; a source that
-- reports the outcome of a success says 'success' (Quay's login_success); NULL is a source that only reports what
-- was done (Distribution, Harbor webhooks), as every row stored before this version. docs/sources.md states the
-- convention. image_activity carries the outcome of its event, and counted_activity counts a failure as 'refused',
-- like a request the proxy refused: a failed login from a registry's audit log is a refused row whose action is
-- 'login', the same as a 401 on /v2/ that only nginx saw.
ALTER TABLE registry_events ADD COLUMN IF NOT EXISTS outcome VARCHAR;
ALTER TABLE image_activity ADD COLUMN IF NOT EXISTS outcome VARCHAR;

CREATE OR REPLACE VIEW counted_activity AS
SELECT
    *,
    CASE
        WHEN proxy_status >= 400 OR outcome = 'failure' THEN 'refused'::counted_kind
        WHEN is_check THEN 'check'::counted_kind
        WHEN counts_as_pull OR (audit_gap AND action = 'pull') THEN 'pull'::counted_kind
        WHEN action = 'push' THEN 'push'::counted_kind
        WHEN action = 'delete' THEN 'delete'::counted_kind
        WHEN action = 'mount' THEN 'mount'::counted_kind
        ELSE 'none'::counted_kind
    END AS counted_as
FROM image_activity;
