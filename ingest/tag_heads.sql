-- regaudit store, schema version 18: each tag's latest interval (issue 19). The derive step rebuild_tag_history
-- looks up, for every tag a batch moved, the interval live at the batch's first move of it, and closes it: it read
-- tag_history for that, whose open intervals lie in every row group (tag_history is appended in time order, and a
-- tag's interval stays open until it moves), so the lookup read all of it and grew with the store (49,437 rows at
-- 1M stored events, 499,043 at 10M). Per (registry, repository, tag) that has an interval:
--
--   tag_heads  the tag's latest interval (greatest valid_from_at, then event_id): its tag_history row's columns
--              less previous_digest and is_overwrite, which the step does not read
--
-- so the lookup reads one row per tag, not one per move. Kept by rebuild_tag_history (derive.sql) in each ingest
-- batch's transaction: the moved tags' rows are deleted and written again. regaudit.ingest.tag_heads.rebuild
-- writes it from tag_history (a store upgraded from version 17, a synthetic or fixture store), and `regaudit
-- verify` checks it against tag_history. No primary key: the step deletes and inserts the same keys in one
-- transaction, and an index would be one more structure for every batch and checkpoint to maintain.
CREATE TABLE IF NOT EXISTS tag_heads (
    registry VARCHAR NOT NULL,
    repository VARCHAR NOT NULL,
    tag VARCHAR NOT NULL,
    digest VARCHAR NOT NULL,
    valid_from_at TIMESTAMPTZ NOT NULL,
    valid_to_at TIMESTAMPTZ,
    moved_by VARCHAR,
    client_addr VARCHAR,
    user_agent VARCHAR,
    event_id VARCHAR NOT NULL
);
