-- regaudit store, schema version 14: daily rollups for the dashboard's pages that filter rows (issue 19). The
-- rollups of version 11 are keyed by repository or by identity, never both, so a page about one identity or one
-- repository (its repositories, who pulled each digest, its totals) and the activity explorer's count of an
-- identity's or a repository glob's rows read every row of the store: at 100 million events an identity's page took
-- 14 s and a repository's 19 s. Per UTC day:
--
--   daily_identity_repositories  per registry, raw identity (actor, NULL for none), repository, action, is_check and
--                                counted_as (counting.sql's kinds): what the explorer, the reports page and the
--                                identity and repository pages filter on
--   daily_digest_pulls           the counted pulls per registry, repository, digest, raw identity and tag: who pulled
--                                each digest of a repository
--
-- Each row holds how many image_activity rows it sums (actions_count), their blob bytes, and the first and last
-- time among them. On the 10-million-event synthetic store nearly every row is its own key overall (8.1M and 5.1M
-- rows), but one identity's or one repository's rows are a few keys a day: the busiest identity's 618,000 rows are
-- 24,000 rollup rows, the busiest repository's 350,000 rows 122,000 and its 210,000 pulls 142,000.
--
-- Kept like the rollups of version 11 (rollups.sql), in each ingest batch's transaction by the derive step
-- daily_pages (derive.sql): every (day, registry, actor, repository) the batch's derive steps can have changed is
-- summed again from image_activity. A function of image_activity through counted_activity: a change of the counting
-- rules must rebuild them (regaudit.ingest.rollups.rebuild). No primary key: the step deletes and inserts the same
-- keys in one transaction.
CREATE TABLE IF NOT EXISTS daily_identity_repositories (
    day_at TIMESTAMPTZ NOT NULL,
    registry VARCHAR NOT NULL,
    actor VARCHAR,
    repository VARCHAR NOT NULL,
    action VARCHAR NOT NULL,
    is_check BOOLEAN NOT NULL,
    counted_as counted_kind NOT NULL,
    actions_count BIGINT NOT NULL,
    blob_bytes BIGINT NOT NULL,
    first_at TIMESTAMPTZ NOT NULL,
    last_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS daily_digest_pulls (
    day_at TIMESTAMPTZ NOT NULL,
    registry VARCHAR NOT NULL,
    repository VARCHAR NOT NULL,
    digest VARCHAR,
    actor VARCHAR,
    tag VARCHAR,
    actions_count BIGINT NOT NULL,
    blob_bytes BIGINT NOT NULL,
    first_at TIMESTAMPTZ NOT NULL,
    last_at TIMESTAMPTZ NOT NULL
);

-- Each day of the two tables is rewritten in order (by identity and repository, by repository and digest) once the
-- batches have moved past it (page_rollup_days says which days are), so that a page about one identity or one
-- repository reads the few row groups of each day that hold it: DuckDB skips a row group by the least and greatest
-- value in it. Batches write a day's keys in the order they touch them, and a page over every day then reads nearly
-- every row group of the tables (on the 10-million-event store, the busiest identity's repositories took 0.21 s on
-- rows in that order and 0.04 s in order, the busiest repository's pullers 0.44 s and 0.13 s).
CREATE TABLE IF NOT EXISTS page_rollup_days (
    day_at TIMESTAMPTZ PRIMARY KEY,
    sorted BOOLEAN NOT NULL
);
