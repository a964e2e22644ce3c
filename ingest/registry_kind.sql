-- regaudit store, schema version 8: every event says which kind of registry sent it (issue 17, the source seam).
-- `registry` names the instance (the receiver's configured name, or <instance> of /events/harbor/<instance>);
-- `registry_kind` says what software it is (distribution, harbor), so readers can tell which facts a row can carry
-- (Harbor reports no client address and no blob pulls: docs/sources.md). Rows stored before this version came
-- from the Distribution receiver, the only one there was.
ALTER TABLE registry_events ADD COLUMN registry_kind VARCHAR NOT NULL DEFAULT 'distribution';
