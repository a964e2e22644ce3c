-- Store migration: the alert outbox (regaudit.analytics.alerts). Every timestamp is UTC and ends in _at.

-- One row per alert, written in the transaction that found it: a streaming rule's inside its ingest batch, an
-- analyze finding's when the dispatcher picks it up. body is the alert document (regaudit.analytics.alerts.alert).
CREATE TABLE IF NOT EXISTS alert_outbox (
    alert_id VARCHAR PRIMARY KEY,
    finding_id VARCHAR NOT NULL,
    detection_id VARCHAR NOT NULL,
    severity VARCHAR NOT NULL,
    origin VARCHAR NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    event_at TIMESTAMPTZ,
    received_at TIMESTAMPTZ,
    batch_id BIGINT,
    body JSON NOT NULL
);

-- Where each alert stands with each sink: pending (attempts so far, next_attempt_at), or final: delivered,
-- rejected, filtered, deduplicated or expired. Every attempt and final outcome is also logged in alerts.
CREATE TABLE IF NOT EXISTS alert_deliveries (
    alert_id VARCHAR NOT NULL,
    sink VARCHAR NOT NULL,
    finding_id VARCHAR NOT NULL,
    state VARCHAR NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (alert_id, sink)
);

-- The one dispatcher allowed to deliver (in `regaudit consume` or `regaudit alerts dispatch`), renewed each cycle.
CREATE TABLE IF NOT EXISTS alert_dispatcher_lease (
    name VARCHAR PRIMARY KEY,
    owner VARCHAR NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
