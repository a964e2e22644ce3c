-- regaudit store, schema version 19: image_activity keyed by (occurred_at, activity_id) instead of activity_id.
-- DuckDB keeps a primary key as an ART index and, at every checkpoint, writes each of the index's buffers an insert
-- changed, whole. activity_id follows the source's ids (`ev:<registry>:<event id>`, mostly random UUIDs), so a
-- batch's new keys land all over the index and each checkpoint rewrote nearly all of it: 289-318 MB written per
-- 25,000-row batch at 10M stored events against 45-58 MB at 1M, and the insert's key checks 1.6 s CPU against
-- 0.15 s (docs/scaling.md, "What still grows"). Led by the time, a batch's keys lie together at the index's end:
-- 4-6 MB and 0.1 s at both sizes.
--
-- As strict as the key before: every step that inserts a row gives an activity_id one occurred_at, the time of the
-- row it comes from (`ev:` rows the event's event_at, from registry_events' key (registry, event_id); `px:` rows the
-- line's request_at, from access_log's line_key; blob-only `bl:` rows the hour's first unowned blob, and the step
-- deletes the hours it derives again before inserting), and nothing updates occurred_at. The one difference: once
-- a purge removed a row's source rows but kept the row (access_log is kept for less time than image_activity), a
-- source key that comes back with another time (a recreated Kafka topic's offsets, a reinstalled Harbor's ids) is
-- a second activity stored, where the old key dropped it silently.
--
-- The table is written again in time order, with the columns and constraints of version 18 (schema.sql, then
-- blob_only.sql and outcome.sql); the view counted_activity reads it by name and needs nothing.
CREATE TABLE image_activity_by_time (
    activity_id VARCHAR NOT NULL,
    registry VARCHAR NOT NULL,
    occurred_at TIMESTAMPTZ NOT NULL,
    action VARCHAR NOT NULL,
    is_check BOOLEAN NOT NULL,
    counts_as_pull BOOLEAN NOT NULL,
    actor VARCHAR,
    client_addr VARCHAR,
    user_agent VARCHAR,
    repository VARCHAR NOT NULL,
    tag VARCHAR,
    digest VARCHAR,
    media_type VARCHAR,
    from_repository VARCHAR,
    request_id VARCHAR,
    blob_bytes BIGINT NOT NULL DEFAULT 0,
    source VARCHAR NOT NULL,
    proxy_line_key VARCHAR,
    proxy_status INTEGER,
    proxy_bytes_sent BIGINT,
    proxy_request_seconds DOUBLE,
    proxy_tls VARCHAR,
    proxy_user_agent VARCHAR,
    audit_gap BOOLEAN NOT NULL DEFAULT FALSE,
    blob_only BOOLEAN NOT NULL DEFAULT FALSE,
    outcome VARCHAR,
    PRIMARY KEY (occurred_at, activity_id)
);

INSERT INTO image_activity_by_time
SELECT activity_id, registry, occurred_at, action, is_check, counts_as_pull, actor, client_addr, user_agent, repository,
       tag, digest, media_type, from_repository, request_id, blob_bytes, source, proxy_line_key, proxy_status,
       proxy_bytes_sent, proxy_request_seconds, proxy_tls, proxy_user_agent, audit_gap, blob_only, outcome
FROM image_activity
ORDER BY occurred_at, activity_id;

DROP TABLE image_activity;

ALTER TABLE image_activity_by_time RENAME TO image_activity;
