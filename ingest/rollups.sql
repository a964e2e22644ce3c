-- regaudit store, schema version 11: daily rollups of image_activity (issue 19), so the dashboard's pages that
-- count over days (the overview's totals, chart and top lists, each registry side by side, a repository's series)
-- read a few rows per day instead of every row: at 10 million rows the overview's month scanned 10 million rows
-- per query. Two tables, one per dimension the pages count by, because a table keyed by both (repository and
-- identity) has nearly as many rows as image_activity (a million rows gave 940,000 such keys):
--
--   daily_repository_activity  per UTC day, registry, repository and counted_as (counting.sql's kinds)
--   daily_identity_activity    per UTC day, registry, raw identity (actor, NULL for none) and counted_as
--
-- Each row holds how many image_activity rows it sums (actions_count), their blob bytes, and the first and last
-- time among them. A day is [day_at, day_at + 1 day) in UTC; day_at is that midnight.
--
-- Maintained in each ingest batch's transaction by the derive step daily_rollups (derive.sql): the keys of the days
-- the batch's derive steps can have changed are computed again from image_activity, so a replay or a late event
-- changes nothing twice. The rollups are a function of image_activity through counted_activity: a change of the
-- counting rules (a new counted_activity) must rebuild them (regaudit.ingest.rollups.rebuild) in its migration.
-- No primary key: the derive step deletes and inserts the same keys in one transaction.
CREATE TABLE IF NOT EXISTS daily_repository_activity (
    day_at TIMESTAMPTZ NOT NULL,
    registry VARCHAR NOT NULL,
    repository VARCHAR NOT NULL,
    counted_as counted_kind NOT NULL,
    actions_count BIGINT NOT NULL,
    blob_bytes BIGINT NOT NULL,
    first_at TIMESTAMPTZ NOT NULL,
    last_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS daily_identity_activity (
    day_at TIMESTAMPTZ NOT NULL,
    registry VARCHAR NOT NULL,
    actor VARCHAR,
    counted_as counted_kind NOT NULL,
    actions_count BIGINT NOT NULL,
    blob_bytes BIGINT NOT NULL,
    first_at TIMESTAMPTZ NOT NULL,
    last_at TIMESTAMPTZ NOT NULL
);
