-- regaudit store, schema version 7: blob downloads without a manifest pull are pulls too. Layers fetched by digest
-- with no manifest GET of the same identity, client and repository before them (a CI cache, a client that only
-- sent a HEAD, someone holding leaked digests) were in registry_events but in no image_activity row, so neither
-- bytes pulled nor who pulled what showed them. derive.sql (blob_only_downloads) now keeps them as one row per
-- registry, repository, identity, client and UTC hour, marked here, counted as a pull (counts_as_pull, so
-- counted_activity says 'pull') and carrying their bytes. Stores written before get their rows when this version
-- is reached (regaudit.ingest.store runs the derive step over the stored blob events).
ALTER TABLE image_activity ADD COLUMN blob_only BOOLEAN NOT NULL DEFAULT FALSE;
