-- regaudit store, schema version 4: people's decisions on findings (regaudit/evidence/decisions.py). One row per acknowledge,
-- suppress or reopen, never updated or deleted; each is sealed by a chain entry of kind 'decision' (seq) whose
-- detail is the row in canonical JSON, so an edited, removed or inserted decision fails `regaudit verify`.
-- findings.status and its status_* columns are the last decision's, kept beside the finding for the readers.
CREATE TABLE IF NOT EXISTS finding_decisions (
    seq BIGINT PRIMARY KEY,
    finding_id VARCHAR NOT NULL,
    decided_at TIMESTAMPTZ NOT NULL,
    decided_by VARCHAR NOT NULL,
    old_status VARCHAR NOT NULL,
    new_status VARCHAR NOT NULL,
    reason VARCHAR,
    recorded_by VARCHAR NOT NULL
);
