-- regaudit store, schema version 10: one identity across registries (issue 18). Every registry names its callers
-- its own way: `alice` (Distribution's basic auth), `arn:aws:iam::123456789012:user/alice` (ECR), `alice@corp.example`
-- (Artifact Registry, ACR), `robot$ci-builder` (a Harbor robot). `identities` maps such a raw identity to one
-- person or principal (`person_id`), optionally only on one registry instance (`registry`) or on every registry of
-- a kind (`registry_kind`, as registry_events.registry_kind; `nginx` for the proxy's access log), written by
-- `regaudit identities import`. An import replaces what the same import source said before (as the credential
-- inventory): current_identities is each source's latest import.
CREATE TABLE IF NOT EXISTS identities (
    raw_identity VARCHAR NOT NULL,
    registry VARCHAR,
    registry_kind VARCHAR,
    person_id VARCHAR NOT NULL,
    display_name VARCHAR,
    import_source VARCHAR NOT NULL,
    imported_at TIMESTAMPTZ NOT NULL
);

-- The mapping as it stands: each import source's latest import, and per raw identity and scope the latest row
-- (two sources naming the same identity in the same scope: the newer import wins).
CREATE OR REPLACE VIEW current_identities AS
WITH latest_import AS (
    SELECT import_source, max(imported_at) AS imported_at FROM identities GROUP BY import_source
)
SELECT i.*
FROM identities AS i
JOIN latest_import AS l ON i.import_source = l.import_source AND i.imported_at = l.imported_at
QUALIFY row_number() OVER (
    PARTITION BY i.raw_identity, i.registry, i.registry_kind ORDER BY i.imported_at DESC, i.import_source
) = 1;

-- The registry-scoped mappings per registry instance: an instance's own mapping of a raw identity before one for
-- its kind. image_activity has no registry_kind: an instance's kind is the one its events carry.
CREATE OR REPLACE VIEW scoped_identities AS
WITH kinds AS (  -- the mapping's kinds on the build side: with none, the scan of registry_events stops at once
    SELECT DISTINCT e.registry, e.registry_kind
    FROM (SELECT DISTINCT registry_kind FROM current_identities WHERE registry IS NULL) AS m
    JOIN registry_events AS e ON e.registry_kind = m.registry_kind
),
scoped AS (
    SELECT raw_identity, registry, person_id, display_name, 1 AS rank FROM current_identities WHERE registry IS NOT NULL
    UNION ALL
    SELECT m.raw_identity, k.registry, m.person_id, m.display_name, 2
    FROM current_identities AS m
    JOIN kinds AS k ON k.registry_kind = m.registry_kind
    WHERE m.registry IS NULL AND m.registry_kind IS NOT NULL
)
SELECT raw_identity, registry, person_id, display_name
FROM scoped
QUALIFY row_number() OVER (PARTITION BY raw_identity, registry ORDER BY rank, person_id) = 1;

-- Every counted_activity row with the identity it belongs to: `identity` is the person the mapping names (its
-- instance's mapping, else its kind's, else an unscoped one), or the raw `actor` when nothing maps it, so with no
-- mapping imported `identity` is `actor` on every row. `person_name` is the mapping's display name. The detections
-- that learn a baseline per identity and the dashboard's identity page read this; `actor` keeps the raw identity.
CREATE OR REPLACE VIEW identified_activity AS
SELECT a.*, coalesce(s.person_id, g.person_id, a.actor) AS identity, coalesce(s.display_name, g.display_name) AS person_name
FROM counted_activity AS a
LEFT JOIN scoped_identities AS s ON s.raw_identity = a.actor AND s.registry = a.registry
LEFT JOIN current_identities AS g ON g.raw_identity = a.actor AND g.registry IS NULL AND g.registry_kind IS NULL;
