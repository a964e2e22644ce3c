-- regaudit store, schema version 20: registry_events keyed by (registry, event_at, event_id) instead of
-- (registry, event_id). DuckDB keeps a primary key as an ART index and, at every checkpoint, writes each of the
-- index's buffers an insert changed, whole. Registries' event ids are random (Distribution's, Harbor's, ECR's and
-- Quay's are UUIDs), so a batch's new keys landed all over the index and each checkpoint rewrote nearly all of it:
-- a table keyed (registry, UUID) wrote 81 MB per 25,000-row batch at 1M rows and 654 MB at 10M, and the insert's
-- key checks grew 0.31 -> 1.3 s CPU (docs/scaling.md, "What still grows"). Led by the time within a registry, a
-- batch's keys lie together at the end of its registry's range: 2.6-4.8 MB and under 0.1 s at both sizes.
--
-- Replays are still stored once: every source takes an event's id and its time from the same record (the payload's
-- own id and time; where a payload has neither, a digest of the payload and the receive time that travels with it
-- through Kafka, or a Pub/Sub message's id and publish time), so a record delivered again carries the same key.
-- What changes is two records that share an id but not a time: both are stored now, where the key before kept the
-- first and dropped the second without a trace (a forged or reused id is evidence, not a duplicate).
--
-- The table is written again in time order, with the columns, defaults and compression of version 19 (schema.sql,
-- registry_kind.sql, outcome.sql); nothing refers to it by anything but its name.
CREATE TABLE registry_events_by_time (
    registry VARCHAR NOT NULL,
    event_id VARCHAR NOT NULL,
    event_at TIMESTAMPTZ NOT NULL,
    action VARCHAR NOT NULL,
    target_kind VARCHAR NOT NULL,
    repository VARCHAR NOT NULL,
    tag VARCHAR,
    digest VARCHAR,
    media_type VARCHAR,
    size_bytes BIGINT,
    from_repository VARCHAR,
    url VARCHAR,
    request_id VARCHAR,
    http_method VARCHAR,
    client_addr VARCHAR,
    request_host VARCHAR,
    user_agent VARCHAR,
    actor VARCHAR,
    source_addr VARCHAR,
    source_instance VARCHAR,
    envelope_type VARCHAR,
    received_at TIMESTAMPTZ NOT NULL,
    origin VARCHAR NOT NULL,
    batch_id BIGINT NOT NULL,
    raw JSON USING COMPRESSION zstd NOT NULL,
    registry_kind VARCHAR NOT NULL DEFAULT 'distribution',
    outcome VARCHAR,
    PRIMARY KEY (registry, event_at, event_id)
);

INSERT INTO registry_events_by_time
SELECT registry, event_id, event_at, action, target_kind, repository, tag, digest, media_type, size_bytes,
       from_repository, url, request_id, http_method, client_addr, request_host, user_agent, actor, source_addr,
       source_instance, envelope_type, received_at, origin, batch_id, raw, registry_kind, outcome
FROM registry_events
ORDER BY registry, event_at, event_id;

DROP TABLE registry_events;

ALTER TABLE registry_events_by_time RENAME TO registry_events;
