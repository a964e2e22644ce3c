-- regaudit store, schema version 12: daily rollups of the sealed tables (issue 19), beside those of image_activity
-- (version 11, rollups.sql). The overview's ingest health and every page naming a registry's kind read the sealed
-- tables whole: each feed's newest row and count (feed_freshness: 1.2 s at 10M events on a busy machine), each
-- registry's kind (min(registry_kind) per registry: 0.5 s). Per UTC day of the event or request:
--
--   daily_registry_events  per day, registry and registry_kind: events, the newest event_at and received_at
--   daily_access_lines     per day and log_host: lines, the newest request_at and received_at
--
-- Sealed rows are only ever inserted (a purge removes whole batches): the derive step daily_feeds adds each batch's
-- new rows (those carrying its batch id: a replayed row keeps the id of the batch that stored it), and a purge sums
-- again the days up to its cut (regaudit.ingest.rollups.refresh_feeds_after_purge).
CREATE TABLE IF NOT EXISTS daily_registry_events (
    day_at TIMESTAMPTZ NOT NULL,
    registry VARCHAR NOT NULL,
    registry_kind VARCHAR NOT NULL,
    events_count BIGINT NOT NULL,
    last_event_at TIMESTAMPTZ NOT NULL,
    last_received_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS daily_access_lines (
    day_at TIMESTAMPTZ NOT NULL,
    log_host VARCHAR,
    lines_count BIGINT NOT NULL,
    last_request_at TIMESTAMPTZ NOT NULL,
    last_received_at TIMESTAMPTZ NOT NULL
);
