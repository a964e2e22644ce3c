-- regaudit store, schema version 17: the rollup per digest (issue 19). The activity explorer's search by digest
-- ("who pulled or pushed this image?", the first question after an advisory names a bad digest) read every row of
-- the range: rows are stored in time order and digests are random, so no row group could be skipped (at 100 million
-- events over all time, one digest counted in 19.4 s, its page in 16.4 s). Per UTC day:
--
--   daily_digest_activity  per registry, digest, repository, raw identity (actor, NULL for none), action and is_check
--
-- with how many image_activity rows it sums (actions_count), their blob bytes, and the first and last time among
-- them; only rows with a digest. The explorer's count and page bounds read it when the filters name a digest or a
-- digest prefix (a reference starting with sha256:) and no client address, with the digest as a range of the raw
-- column, so DuckDB reads only the row groups of each settled day whose digests hold it.
--
-- Kept by the derive step daily_pages (derive.sql) in each ingest batch's transaction with the pages' rollups: the
-- same touched (day, registry, identity, repository) keys are deleted and summed again from the same gathered rows
-- (it is keyed finer). Each settled day is rewritten once in order by (digest, repository, identity) with theirs
-- (page_rollup_days). regaudit.ingest.rollups.rebuild sums it from the rows, a day at a time in order. No primary key:
-- the step deletes and inserts the same keys in one transaction.
CREATE TABLE IF NOT EXISTS daily_digest_activity (
    day_at TIMESTAMPTZ NOT NULL,
    registry VARCHAR NOT NULL,
    digest VARCHAR NOT NULL,
    repository VARCHAR NOT NULL,
    actor VARCHAR,
    action VARCHAR NOT NULL,
    is_check BOOLEAN NOT NULL,
    actions_count BIGINT NOT NULL,
    blob_bytes BIGINT NOT NULL,
    first_at TIMESTAMPTZ NOT NULL,
    last_at TIMESTAMPTZ NOT NULL
);
