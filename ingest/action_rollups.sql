-- regaudit store, schema version 15: daily rollups of actions per identity and per repository (issue 19). The
-- activity explorer widened to a month with no filter but actions and HEAD checks counted the month's rows, distinct
-- identities and distinct repositories: schema 14's rollup per identity and repository (page_rollups.sql) is
-- nearly as long as the rows (54.7M rows a month at 100 million events), so the count read the rows, 3.1 s cold at
-- 100M. A day's identities and repositories are a few thousand, each with a few actions: on the 10-million-event
-- synthetic store (2,700 identities, 800 repositories) 11,200 and 3,500 rows a day, against 268,000 of the former:
--
--   daily_identity_actions    per registry, raw identity (actor, NULL for none), action and is_check
--   daily_repository_actions  per registry, repository, action and is_check
--
-- Each row holds how many image_activity rows it sums (actions_count), their blob bytes, and the first and last time
-- among them. The explorer's count for filters on nothing but actions and HEAD checks reads whole days from them and
-- the range's ragged ends from the rows: the rows from the repositories' table, the distinct identities from the
-- identities' table, the distinct repositories from the repositories' table.
--
-- Both are sums of daily_identity_repositories (every column they keep is a column of its key), so the derive step
-- daily_pages (derive.sql) keeps them in each ingest batch's transaction right after it: the (day, registry,
-- identity) and (day, registry, repository) of every (day, registry, identity, repository) it summed again are summed
-- again from that day's rows of daily_identity_repositories, a few thousand keys. regaudit.ingest.rollups.rebuild
-- sums them from daily_identity_repositories (cheaper than the rows). No primary key: the step deletes and inserts
-- the same keys in one transaction.
CREATE TABLE IF NOT EXISTS daily_identity_actions (
    day_at TIMESTAMPTZ NOT NULL,
    registry VARCHAR NOT NULL,
    actor VARCHAR,
    action VARCHAR NOT NULL,
    is_check BOOLEAN NOT NULL,
    actions_count BIGINT NOT NULL,
    blob_bytes BIGINT NOT NULL,
    first_at TIMESTAMPTZ NOT NULL,
    last_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS daily_repository_actions (
    day_at TIMESTAMPTZ NOT NULL,
    registry VARCHAR NOT NULL,
    repository VARCHAR NOT NULL,
    action VARCHAR NOT NULL,
    is_check BOOLEAN NOT NULL,
    actions_count BIGINT NOT NULL,
    blob_bytes BIGINT NOT NULL,
    first_at TIMESTAMPTZ NOT NULL,
    last_at TIMESTAMPTZ NOT NULL
);
