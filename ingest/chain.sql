-- regaudit store, schema version 2: the tamper-evidence hash chain (regaudit/evidence/chain.py, regaudit/evidence/canonical.py).
-- One entry per ingest batch (kind 'batch') and per purge (kind 'purge': a signed checkpoint of what was removed).
-- batch_hash covers previous_hash, the entry's own fields and, for a batch, the digests of its rows of
-- registry_events, access_log and dead_letters. For a purge the counts are rows removed and the digests are NULL.
CREATE TABLE IF NOT EXISTS chain (
    seq BIGINT PRIMARY KEY,
    kind VARCHAR NOT NULL,
    batch_id BIGINT,
    previous_hash VARCHAR NOT NULL,
    batch_hash VARCHAR NOT NULL,
    events_count BIGINT NOT NULL,
    events_digest VARCHAR,
    access_count BIGINT NOT NULL,
    access_digest VARCHAR,
    dead_letters_count BIGINT NOT NULL,
    dead_letters_digest VARCHAR,
    committed_at TIMESTAMPTZ NOT NULL,
    detail VARCHAR,
    signature VARCHAR
);
