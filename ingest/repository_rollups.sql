-- regaudit store, schema version 16: the rollup per repository and identity (issue 19), a twin of schema 14's
-- daily_identity_repositories (page_rollups.sql) in the other order. Each settled day of that one is in order by
-- (identity, repository), so a filter on an identity reads the few row groups of each day that hold it; a filter on a
-- repository glob without an identity finds its repositories in every row group, and reads them all: at 100 million
-- events (54.7M rollup rows a month) the activity explorer widened to a month with repository "team0/*" counted in
-- 0.7-1.8 s and the reports page's count of a scope of repository globs in 1.4-1.9 s. Per UTC day:
--
--   daily_repository_identities  per registry, repository, raw identity (actor, NULL for none), action and is_check
--
-- with how many image_activity rows it sums (actions_count), their blob bytes, and the first and last time among
-- them; no counted_as (no query that reads it filters on it), so a little shorter than its twin. The explorer's count
-- and page bounds and the reports page's count read it when the filters name a repository but no identity.
--
-- Kept by the derive step daily_pages (derive.sql) in each ingest batch's transaction with its twin: the same
-- (day, registry, identity, repository) keys are deleted and summed again from the same gathered rows. Each settled
-- day is rewritten once in order by (repository, identity) with the twin's days (page_rollup_days), as
-- daily_digest_pulls is by repository. regaudit.ingest.rollups.rebuild sums it from daily_identity_repositories, a day
-- at a time in order (cheaper than the rows). No primary key: the step deletes and inserts the same keys in one
-- transaction.
CREATE TABLE IF NOT EXISTS daily_repository_identities (
    day_at TIMESTAMPTZ NOT NULL,
    registry VARCHAR NOT NULL,
    repository VARCHAR NOT NULL,
    actor VARCHAR,
    action VARCHAR NOT NULL,
    is_check BOOLEAN NOT NULL,
    actions_count BIGINT NOT NULL,
    blob_bytes BIGINT NOT NULL,
    first_at TIMESTAMPTZ NOT NULL,
    last_at TIMESTAMPTZ NOT NULL
);
