-- regaudit store, schema version 21: time ranges a batch queued for later derivation. A batch's rows are derived
-- per time range (RANGE_GAP in derive.py), and each range costs every windowed derive statement once. A
-- batch whose events lie scattered over years (a hostile producer with a token, a broken clock, a shuffled
-- backlog) had more than MAX_RANGES (64) of them, and was then derived as one range from its first row to its
-- last: 65 events spread over the window cost 14 s at 1M stored events and 139 s at 10M, all of the store read
-- once per windowed statement, so such a batch every second would stop ingestion as the store grows. Now a batch
-- derives at once its MAX_RANGES ranges that hold the most rows (the live stream's) and queues the others here;
-- every later batch derives up to DRAIN_RANGES (16) of them after its own, oldest first, and marks them with its
-- id, and an idle consumer or the end of an import derives them in batches of no rows. `regaudit verify` replays
-- the same.
CREATE TABLE IF NOT EXISTS derive_pending (
    batch_id BIGINT NOT NULL,  -- the batch whose rows lie in the range
    lo TIMESTAMPTZ NOT NULL,
    hi TIMESTAMPTZ NOT NULL,
    rows_count BIGINT NOT NULL,  -- the batch's rows in it
    derived_by BIGINT,  -- the batch that derived it; NULL while it waits
    PRIMARY KEY (batch_id, lo)
);
