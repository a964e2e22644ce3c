-- regaudit store, schema version 13: daily rollups of where and with what each identity was used (issue 19). The
-- detections that judge an identity's day against its 30 days before (a new network, a new client family, a first
-- use from outside) read every accepted use of every identity and group it by identity, day and address or user
-- agent: 84 s for credential.first_external_use alone at 100M events. Per day, an identity uses a few addresses and
-- clients: on 10M synthetic events, 361k (day, actor, address) keys. Two tables, because their rows change
-- differently:
--
--   daily_identity_clients  counted_activity per UTC day, registry, raw identity (actor, NULL for none), client
--                           address, user agent (the registry's, else the proxy's, as identity_activity reads it)
--                           and counted_as: how many rows (actions_count), their blob bytes, first and last time.
--                           image_activity rows are rewritten by later batches (a pull no longer counted, a proxy
--                           line joined, an audit gap closed), so the derive step daily_clients sums the
--                           (day, registry, actor) keys a batch can have changed again, as daily_rollups does.
--   daily_proxy_logins      the proxy's answered logins (GET /v2/ and the token endpoint below 400 with a claimed
--                           Basic user) per UTC day, remote user, client address and user agent. access_log is
--                           sealed (rows are only inserted, a purge removes whole batches), so the derive step
--                           daily_logins adds each batch's new lines, as daily_feeds does; their identity mapping is
--                           the proxy's (kind nginx), not a registry's, and they have no registry or kind.
--
-- The identity mapping is not applied here: it is a function of the raw identity and the registry, applied when
-- read (analytics/views.sql identity_clients), so an import of the mapping changes no rollup. A day is
-- [day_at, day_at + 1 day) in UTC. No primary key: the derive steps delete and insert the same keys in one
-- transaction.
CREATE TABLE IF NOT EXISTS daily_identity_clients (
    day_at TIMESTAMPTZ NOT NULL,
    registry VARCHAR NOT NULL,
    actor VARCHAR,
    client_addr VARCHAR,
    user_agent VARCHAR,
    counted_as counted_kind NOT NULL,
    actions_count BIGINT NOT NULL,
    blob_bytes BIGINT NOT NULL,
    first_at TIMESTAMPTZ NOT NULL,
    last_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS daily_proxy_logins (
    day_at TIMESTAMPTZ NOT NULL,
    remote_user VARCHAR NOT NULL,
    client_addr VARCHAR,
    user_agent VARCHAR,
    logins_count BIGINT NOT NULL,
    first_at TIMESTAMPTZ NOT NULL,
    last_at TIMESTAMPTZ NOT NULL
);
