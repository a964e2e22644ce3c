-- regaudit store, schema version 6: the counting rules, written once. What each image_activity row counts as, for
-- the dashboard, the reports, the demo and the detections' views, which select from counted_activity instead of
-- restating the rule. A view stored in the file rather than a TEMP view each reader creates: every connection sees
-- it with no setup (the dashboard's read-only connection per query, the reports', the demo's, a DuckDB shell), the
-- store's schema version guarantees a reader finds the rules of its own version, and a report manifest's query
-- reruns on the store with plain DuckDB. A change of rule is a new migration (CREATE OR REPLACE VIEW; a new kind needs a new ENUM type).
--
-- counted_as, from the wire facts (DESIGN.md section 2, FORMATS.md):
--   'refused'  the proxy answered 400 or above (a request only nginx saw: refused, missing, or a failed login,
--              whose action is 'login'); it never counts as what it asked for
--   'check'    a manifest HEAD answered below 400: the registry notifies a HEAD as a pull, but nothing was downloaded
--   'pull'     a real download: counts_as_pull (a manifest GET, once per client, repository and top-level manifest;
--              see count_pulls_once in derive.sql; or, from version 7, blobs downloaded with no manifest pull, one
--              blob_only row per identity, client, repository and hour, see blob_only_downloads), or a manifest GET
--              the proxy served with no notification (an audit gap: the download happened, the audit feed missed it)
--   'push', 'delete', 'mount'  the action, done: the registry notified it, or the proxy answered below 400 with no
--              notification (an audit gap)
--   'none'     a manifest GET folded into another pull (a platform manifest of one pull, a repeat within a minute,
--              a delete's lookup of its digest)
-- An ENUM and an ELSE, not text and NULL: the dashboard groups and filters millions of rows by the kind; on 2
-- million rows, text cost its overview a third more CPU than the integer codes it had computed before, this a tenth.
CREATE TYPE counted_kind AS ENUM ('pull', 'check', 'push', 'delete', 'mount', 'refused', 'none');

CREATE OR REPLACE VIEW counted_activity AS
SELECT
    *,
    CASE
        WHEN proxy_status >= 400 THEN 'refused'::counted_kind
        WHEN is_check THEN 'check'::counted_kind
        WHEN counts_as_pull OR (audit_gap AND action = 'pull') THEN 'pull'::counted_kind
        WHEN action = 'push' THEN 'push'::counted_kind
        WHEN action = 'delete' THEN 'delete'::counted_kind
        WHEN action = 'mount' THEN 'mount'::counted_kind
        ELSE 'none'::counted_kind
    END AS counted_as
FROM image_activity;
