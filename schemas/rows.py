"""Canonical rows: one frozen model per store table, each field documented. A test holds these models and
``ingest/schema.sql`` to the same columns, so the documentation cannot drift from the store.

Timestamps are UTC and end in ``_at``; counts end in ``_count``; bytes end in ``_bytes``.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class Row(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RegistryEventRow(Row):
    """``registry_events``: one notification event, blob-level included. Key: (registry, event_at, event_id)."""

    registry: str = Field(description="Registry instance: the name the receiver was configured with or posted for.")
    event_id: str = Field(description="The event's `id`; the same across the registry's retries.")
    event_at: datetime = Field(description="The event's `timestamp`, converted to UTC.")
    action: str = Field(description="push, pull, mount, delete, or an unknown action kept verbatim.")
    target_kind: str = Field(
        description="manifest, blob, tag (tag delete), digest (digest delete), repository; Harbor's scans and quota"
        " events are about an artifact, its policy runs a replication or retention."
    )
    repository: str = Field(description="`target.repository`; empty where Harbor names none (policy runs).")
    tag: str | None = Field(description="`target.tag`; none for by-digest operations.")
    digest: str | None = Field(description="`target.digest`.")
    media_type: str | None = Field(description="`target.mediaType`.")
    size_bytes: int | None = Field(description="`target.size` (or `length`).")
    from_repository: str | None = Field(description="`target.fromRepository`, on mounts.")
    url: str | None = Field(description="`target.url`.")
    request_id: str | None = Field(description="`request.id`; shared by the events of one HTTP request.")
    http_method: str | None = Field(description="`request.method`; HEAD pulls are checks.")
    client_addr: str | None = Field(description="`request.addr` without port or brackets (spoofable).")
    request_host: str | None = Field(description="`request.host`.")
    user_agent: str | None = Field(description="`request.useragent`.")
    actor: str | None = Field(description="`actor.name`; none when anonymous.")
    source_addr: str | None = Field(description="`source.addr`: the registry node.")
    source_instance: str | None = Field(description="`source.instanceID`; changes on every restart.")
    envelope_type: str | None = Field(description="The envelope media type declared by the sender.")
    received_at: datetime = Field(description="When regaudit received the event.")
    origin: str = Field(description="Where it came from (Kafka coordinates, webhook request, file position).")
    batch_id: int = Field(description="The ingest batch that stored it (ingest_batches).")
    raw: str = Field(description="The event's JSON exactly as received, for forensics.")
    registry_kind: str = Field(
        description="The registry software that sent it: distribution (GitLab's fork too), harbor, artifactory..."
        " (docs/sources.md says what each records; what a kind does not report is NULL)."
    )
    outcome: str | None = Field(
        description="'failure' for an attempt the source reports refused (a failed login: action 'login'),"
        " 'success' where it reports a success as such; none when it reports only what was done (version 9)."
    )


class AccessLogRow(Row):
    """``access_log``: one proxy request. Key: line_key, the line's source coordinates."""

    line_key: str = Field(
        description="Shipper file position when known (Filebeat's with the line digest), else Kafka or file origin."
    )
    request_at: datetime = Field(description="nginx `$msec` or `$time_iso8601`/`$time_local`, in UTC.")
    log_host: str | None = Field(description="Host the shipper read the line on.")
    client_addr: str | None = Field(description="`$remote_addr`: the TCP peer of nginx.")
    forwarded_for: str | None = Field(description="`$http_x_forwarded_for`.")
    remote_user: str | None = Field(description="`$remote_user`: the claimed Basic-auth user, even on a 401.")
    auth_scheme: str | None = Field(description="basic, bearer, other or none (the secret is never logged).")
    http_method: str | None = Field(description="`$request_method`.")
    uri: str | None = Field(description="`$request_uri`, query included.")
    endpoint: str = Field(description="ping, manifest, blob, upload, tags, catalog, referrers, token, other.")
    repository: str | None = Field(description="Repository named in the path.")
    reference: str | None = Field(description="Tag or digest in a manifest, blob or referrers path.")
    tag: str | None = Field(description="The reference when it is a tag.")
    digest: str | None = Field(description="The reference when it is a digest, else the digest nginx served.")
    status: int | None = Field(description="`$status`.")
    body_bytes: int | None = Field(description="`$body_bytes_sent`.")
    request_length: int | None = Field(description="`$request_length`.")
    request_seconds: float | None = Field(description="`$request_time`.")
    user_agent: str | None = Field(description="`$http_user_agent`.")
    proxy_request_id: str | None = Field(description="`$request_id` (not the registry's request.id).")
    tls_protocol: str | None = Field(description="`$ssl_protocol`.")
    server_host: str | None = Field(description="`$host`.")
    log_format: str = Field(description="json or combined (nginx), or artifactory (its request log).")
    shipper: str = Field(description="bare, vector, filebeat, fluentbit or docker.")
    received_at: datetime = Field(description="When regaudit received the line.")
    origin: str = Field(description="Where the line came from.")
    batch_id: int = Field(description="The ingest batch that stored it.")
    raw: str = Field(description="The line as received (shipper envelope included).")


class ImageActivityRow(Row):
    """``image_activity``: who pushed or pulled what. One row per image-level action. Key: (occurred_at,
    activity_id) since version 19, time first so a batch's keys lie together in the index."""

    activity_id: str = Field(description="`ev:<registry>:<event id>`, or `px:<line key>` for proxy-only rows.")
    registry: str = Field(description="Registry name.")
    occurred_at: datetime = Field(description="When it happened (UTC).")
    action: str = Field(description="pull, push, delete, mount, or login (proxy-only failed logins).")
    is_check: bool = Field(description="A HEAD manifest request: an existence check, not a download.")
    counts_as_pull: bool = Field(description="A real pull, counted once per client, repository and manifest.")
    actor: str | None = Field(description="Identity (the claimed user on proxy-only rows).")
    client_addr: str | None = Field(description="Client address.")
    user_agent: str | None = Field(description="User agent the registry saw.")
    repository: str = Field(description="Repository.")
    tag: str | None = Field(description="Tag, when the request named one.")
    digest: str | None = Field(description="Manifest digest.")
    media_type: str | None = Field(description="Manifest media type.")
    from_repository: str | None = Field(description="Source repository of a mount.")
    request_id: str | None = Field(description="Registry request id.")
    blob_bytes: int = Field(description="Blob bytes folded into this pull or push.")
    source: str = Field(description="registry (a notification) or proxy (only the access log saw it).")
    proxy_line_key: str | None = Field(description="The matched access-log line.")
    proxy_status: int | None = Field(description="HTTP status nginx answered.")
    proxy_bytes_sent: int | None = Field(description="Bytes nginx sent for the manifest request.")
    proxy_request_seconds: float | None = Field(description="nginx request time.")
    proxy_tls: str | None = Field(description="TLS version of the client connection.")
    proxy_user_agent: str | None = Field(description="User agent nginx saw.")
    audit_gap: bool = Field(description="Served by the proxy with no notification: a gap in the audit feed.")
    blob_only: bool = Field(
        description="Blob downloads with no manifest pull of their own (fetched by digest), one row per identity,"
        " client, repository and UTC hour: counted as a pull, their bytes in blob_bytes."
    )
    outcome: str | None = Field(
        description="The event's outcome (registry_events.outcome): a 'failure' counts as refused (version 9)."
    )


class DailyRepositoryActivityRow(Row):
    """``daily_repository_activity`` (version 11): ``counted_activity`` summed per UTC day, registry, repository and
    what the rows count as; kept by each batch for the days it touched (derive step ``daily_rollups``)."""

    day_at: datetime = Field(description="The day's start, midnight UTC.")
    registry: str = Field(description="Registry name.")
    repository: str = Field(description="Repository ('' for rows with none, such as logins).")
    counted_as: str = Field(description="What the rows count as (counted_activity.counted_as).")
    actions_count: int = Field(description="How many image_activity rows.")
    blob_bytes: int = Field(description="Their blob bytes, summed.")
    first_at: datetime = Field(description="The first row's time.")
    last_at: datetime = Field(description="The last row's time.")


class DailyIdentityActivityRow(Row):
    """``daily_identity_activity`` (version 11): ``counted_activity`` summed per UTC day, registry, raw identity and
    what the rows count as; kept like ``daily_repository_activity``."""

    day_at: datetime = Field(description="The day's start, midnight UTC.")
    registry: str = Field(description="Registry name.")
    actor: str | None = Field(description="The raw identity (image_activity.actor; none for anonymous rows).")
    counted_as: str = Field(description="What the rows count as (counted_activity.counted_as).")
    actions_count: int = Field(description="How many image_activity rows.")
    blob_bytes: int = Field(description="Their blob bytes, summed.")
    first_at: datetime = Field(description="The first row's time.")
    last_at: datetime = Field(description="The last row's time.")


class DailyRegistryEventsRow(Row):
    """``daily_registry_events`` (version 12): ``registry_events`` summed per UTC day of the event, registry and
    kind; each batch adds its new rows (derive step ``daily_feeds``)."""

    day_at: datetime = Field(description="The day's start, midnight UTC.")
    registry: str = Field(description="Registry instance.")
    registry_kind: str = Field(description="Its kind (registry_events.registry_kind).")
    events_count: int = Field(description="How many events.")
    last_event_at: datetime = Field(description="The newest event_at.")
    last_received_at: datetime = Field(description="The newest received_at.")


class DailyAccessLinesRow(Row):
    """``daily_access_lines`` (version 12): ``access_log`` summed per UTC day of the request and log host."""

    day_at: datetime = Field(description="The day's start, midnight UTC.")
    log_host: str | None = Field(description="The host the log came from (access_log.log_host).")
    lines_count: int = Field(description="How many lines.")
    last_request_at: datetime = Field(description="The newest request_at.")
    last_received_at: datetime = Field(description="The newest received_at.")


class DailyIdentityClientsRow(Row):
    """``daily_identity_clients`` (version 13): ``counted_activity`` summed per UTC day, registry, raw identity,
    client address, user agent and what the rows count as; kept like ``daily_identity_activity`` (derive step
    ``daily_clients``). The detections' baselines of addresses and clients read it (``identity_clients``)."""

    day_at: datetime = Field(description="The day's start, midnight UTC.")
    registry: str = Field(description="Registry name.")
    actor: str | None = Field(description="The raw identity (image_activity.actor; none for anonymous rows).")
    client_addr: str | None = Field(description="The client address (image_activity.client_addr).")
    user_agent: str | None = Field(description="The registry's user agent, else the proxy's.")
    counted_as: str = Field(description="What the rows count as (counted_activity.counted_as).")
    actions_count: int = Field(description="How many image_activity rows.")
    blob_bytes: int = Field(description="Their blob bytes, summed.")
    first_at: datetime = Field(description="The first row's time.")
    last_at: datetime = Field(description="The last row's time.")


class DailyProxyLoginsRow(Row):
    """``daily_proxy_logins`` (version 13): the proxy's answered logins (``/v2/`` and the token endpoint below 400
    with a claimed Basic user) per UTC day, user, client address and user agent; each batch adds its new lines
    (derive step ``daily_logins``)."""

    day_at: datetime = Field(description="The day's start, midnight UTC.")
    remote_user: str = Field(description="The Basic user claimed (access_log.remote_user).")
    client_addr: str | None = Field(description="The client address.")
    user_agent: str | None = Field(description="The user agent.")
    logins_count: int = Field(description="How many lines.")
    first_at: datetime = Field(description="The first line's request_at.")
    last_at: datetime = Field(description="The last line's request_at.")


class DailyIdentityRepositoriesRow(Row):
    """``daily_identity_repositories`` (version 14): ``counted_activity`` summed per UTC day, registry, raw identity,
    repository, action, HEAD check or not and what the rows count as; kept by each batch for the (day, registry,
    identity, repository) keys it touched (derive step ``daily_pages``). The identity and repository pages, the
    explorer's and the reports page's counts read it."""

    day_at: datetime = Field(description="The day's start, midnight UTC.")
    registry: str = Field(description="Registry name.")
    actor: str | None = Field(description="The raw identity (image_activity.actor; none for anonymous rows).")
    repository: str = Field(description="Repository ('' for rows with none, such as logins).")
    action: str = Field(description="The rows' action (image_activity.action).")
    is_check: bool = Field(description="Whether the rows are HEAD checks (image_activity.is_check).")
    counted_as: str = Field(description="What the rows count as (counted_activity.counted_as).")
    actions_count: int = Field(description="How many image_activity rows.")
    blob_bytes: int = Field(description="Their blob bytes, summed.")
    first_at: datetime = Field(description="The first row's time.")
    last_at: datetime = Field(description="The last row's time.")


class DailyDigestPullsRow(Row):
    """``daily_digest_pulls`` (version 14): the rows counted as pulls summed per UTC day, registry, repository,
    digest, raw identity and tag; kept with ``daily_identity_repositories``. The repository page's "who pulled each
    digest" reads it."""

    day_at: datetime = Field(description="The day's start, midnight UTC.")
    registry: str = Field(description="Registry name.")
    repository: str = Field(description="Repository.")
    digest: str | None = Field(description="The manifest digest pulled (image_activity.digest).")
    actor: str | None = Field(description="The raw identity (image_activity.actor; none for anonymous rows).")
    tag: str | None = Field(description="The tag asked for, if any (image_activity.tag).")
    actions_count: int = Field(description="How many pulls.")
    blob_bytes: int = Field(description="Their blob bytes, summed.")
    first_at: datetime = Field(description="The first pull's time.")
    last_at: datetime = Field(description="The last pull's time.")


class DailyIdentityActionsRow(Row):
    """``daily_identity_actions`` (version 15): ``daily_identity_repositories`` summed per UTC day, registry, raw
    identity, action and HEAD check or not; kept with it (derive step ``daily_pages``). The explorer's count with no
    filter but actions and HEAD checks reads its distinct identities from it."""

    day_at: datetime = Field(description="The day's start, midnight UTC.")
    registry: str = Field(description="Registry name.")
    actor: str | None = Field(description="The raw identity (image_activity.actor; none for anonymous rows).")
    action: str = Field(description="The rows' action (image_activity.action).")
    is_check: bool = Field(description="Whether the rows are HEAD checks (image_activity.is_check).")
    actions_count: int = Field(description="How many image_activity rows.")
    blob_bytes: int = Field(description="Their blob bytes, summed.")
    first_at: datetime = Field(description="The first row's time.")
    last_at: datetime = Field(description="The last row's time.")


class DailyRepositoryActionsRow(Row):
    """``daily_repository_actions`` (version 15): ``daily_identity_repositories`` summed per UTC day, registry,
    repository, action and HEAD check or not; kept with it. The explorer's count with no filter but actions and HEAD
    checks reads its rows and distinct repositories from it."""

    day_at: datetime = Field(description="The day's start, midnight UTC.")
    registry: str = Field(description="Registry name.")
    repository: str = Field(description="Repository ('' for rows with none, such as logins).")
    action: str = Field(description="The rows' action (image_activity.action).")
    is_check: bool = Field(description="Whether the rows are HEAD checks (image_activity.is_check).")
    actions_count: int = Field(description="How many image_activity rows.")
    blob_bytes: int = Field(description="Their blob bytes, summed.")
    first_at: datetime = Field(description="The first row's time.")
    last_at: datetime = Field(description="The last row's time.")


class DailyRepositoryIdentitiesRow(Row):
    """``daily_repository_identities`` (version 16): ``image_activity`` summed per UTC day, registry, repository, raw
    identity, action and HEAD check or not; the twin of ``daily_identity_repositories`` (the same keys, kept with
    it by derive step ``daily_pages``) whose settled days are in order by repository, not identity. The explorer's
    and the reports page's counts read it for a repository glob without an identity."""

    day_at: datetime = Field(description="The day's start, midnight UTC.")
    registry: str = Field(description="Registry name.")
    repository: str = Field(description="Repository ('' for rows with none, such as logins).")
    actor: str | None = Field(description="The raw identity (image_activity.actor; none for anonymous rows).")
    action: str = Field(description="The rows' action (image_activity.action).")
    is_check: bool = Field(description="Whether the rows are HEAD checks (image_activity.is_check).")
    actions_count: int = Field(description="How many image_activity rows.")
    blob_bytes: int = Field(description="Their blob bytes, summed.")
    first_at: datetime = Field(description="The first row's time.")
    last_at: datetime = Field(description="The last row's time.")


class DailyDigestActivityRow(Row):
    """``daily_digest_activity`` (version 17): ``image_activity`` rows with a digest summed per UTC day, registry,
    digest, repository, raw identity, action and HEAD check or not; kept by derive step ``daily_pages`` with the
    pages' rollups, each settled day in order by digest. The explorer's count and page bounds read it for a digest or
    digest prefix."""

    day_at: datetime = Field(description="The day's start, midnight UTC.")
    registry: str = Field(description="Registry name.")
    digest: str = Field(description="The rows' digest (image_activity.digest).")
    repository: str = Field(description="Repository.")
    actor: str | None = Field(description="The raw identity (image_activity.actor; none for anonymous rows).")
    action: str = Field(description="The rows' action (image_activity.action).")
    is_check: bool = Field(description="Whether the rows are HEAD checks (image_activity.is_check).")
    actions_count: int = Field(description="How many image_activity rows.")
    blob_bytes: int = Field(description="Their blob bytes, summed.")
    first_at: datetime = Field(description="The first row's time.")
    last_at: datetime = Field(description="The last row's time.")


class TagHistoryRow(Row):
    """``tag_history``: per (registry, repository, tag), the intervals during which it pointed at a digest."""

    registry: str = Field(description="Registry name.")
    repository: str = Field(description="Repository.")
    tag: str = Field(description="Tag.")
    digest: str = Field(description="Digest the tag pointed at.")
    valid_from_at: datetime = Field(description="When the push moved the tag here.")
    valid_to_at: datetime | None = Field(description="When it moved on or was deleted; none while current.")
    previous_digest: str | None = Field(description="What the tag pointed at before, if it existed.")
    is_overwrite: bool = Field(description="The tag existed with a different digest: an overwrite.")
    moved_by: str | None = Field(description="Identity that pushed.")
    client_addr: str | None = Field(description="Client address of the push.")
    user_agent: str | None = Field(description="User agent of the push.")
    event_id: str = Field(description="The push event.")


class TagHeadRow(Row):
    """``tag_heads`` (version 18): per (registry, repository, tag), its latest ``tag_history`` interval, where the
    derive step ``rebuild_tag_history`` finds the interval a batch's moves continue from; kept by that step."""

    registry: str = Field(description="Registry name.")
    repository: str = Field(description="Repository.")
    tag: str = Field(description="Tag.")
    digest: str = Field(description="Digest the tag points at, or last pointed at before a delete.")
    valid_from_at: datetime = Field(description="When the push moved the tag here.")
    valid_to_at: datetime | None = Field(description="When the tag was deleted; none while it points here.")
    moved_by: str | None = Field(description="Identity that pushed.")
    client_addr: str | None = Field(description="Client address of the push.")
    user_agent: str | None = Field(description="User agent of the push.")
    event_id: str = Field(description="The push event (the tag_history row's).")


class DeadLetterRow(Row):
    """``dead_letters``: input that could not be parsed, kept raw with the reason."""

    dead_letter_id: str = Field(description="Hash of origin and bytes, so a replay is stored once.")
    received_at: datetime = Field(description="When regaudit received it.")
    source: str = Field(description="events, access, or receiver (refused at the webhook or shipper).")
    origin: str = Field(description="Where it came from (Kafka coordinates, webhook request, file position).")
    reason: str = Field(description="Why it was refused.")
    content_type: str | None = Field(description="Media type the sender declared.")
    batch_id: int = Field(description="The ingest batch that stored it.")
    raw: bytes = Field(description="The bytes exactly as received.")


class FindingRow(Row):
    """``findings``: one detection firing for one subject in one window (``regaudit.analytics.findings``).
    Key: finding_id. The columns from ``registry`` on say what the finding is about; readers select and scope
    findings by them, never by parsing ``subject``."""

    finding_id: str = Field(description="sha256 over detection id, subject and window bounds (32 hex digits).")
    detection_id: str = Field(description="The detection that fired, e.g. push.off_hours.")
    severity: str = Field(description="low, medium, high or critical (the detection's).")
    subject: str = Field(description="What the finding is about, as a phrase for people, e.g. 'alice to team/app'.")
    window_start_at: datetime | None = Field(description="Start of the window the finding covers.")
    window_end_at: datetime | None = Field(description="End of the window; none for a state still true.")
    first_seen_at: datetime = Field(description="When an analysis first raised it.")
    last_seen_at: datetime = Field(description="When an analysis last raised it.")
    summary: str = Field(description="The finding's sentence, with the facts that made it fire.")
    evidence: str = Field(description="JSON: the summary, the cited rows (`<table>:<key>`), their count, values.")
    status: str = Field(description="open, acknowledged or suppressed: people's decision (finding_decisions).")
    status_reason: str | None = Field(description="Why it was acknowledged or suppressed.")
    status_by: str | None = Field(description="Who decided.")
    status_at: datetime | None = Field(description="When they decided.")
    registry: str | None = Field(description="Registry the finding is about; none where it does not apply.")
    repository: str | None = Field(description="Repository the finding is about.")
    tag: str | None = Field(description="Tag the finding is about.")
    digest: str | None = Field(description="Manifest digest the finding is about.")
    identity: str | None = Field(description="Identity (user or credential) the finding is about.")
    client_addr: str | None = Field(description="Client address the finding is about.")


CANONICAL_ROWS: dict[str, type[Row]] = {
    "registry_events": RegistryEventRow,
    "access_log": AccessLogRow,
    "tag_history": TagHistoryRow,
    "dead_letters": DeadLetterRow,
}

#: Tables whose columns include migrations (image_activity gained blob_only in version 7, registry_events
#: registry_kind in version 8, both outcome in version 9; the daily rollups came in versions 11 and 12), documented the
#: same way.
UPGRADED_ROWS: dict[str, type[Row]] = {
    "image_activity": ImageActivityRow,
    "findings": FindingRow,
    "registry_events": RegistryEventRow,
    "daily_repository_activity": DailyRepositoryActivityRow,
    "daily_identity_activity": DailyIdentityActivityRow,
    "daily_registry_events": DailyRegistryEventsRow,
    "daily_access_lines": DailyAccessLinesRow,
    "daily_identity_clients": DailyIdentityClientsRow,
    "daily_proxy_logins": DailyProxyLoginsRow,
    "daily_identity_repositories": DailyIdentityRepositoriesRow,
    "daily_digest_pulls": DailyDigestPullsRow,
    "daily_identity_actions": DailyIdentityActionsRow,
    "daily_repository_actions": DailyRepositoryActionsRow,
    "daily_repository_identities": DailyRepositoryIdentitiesRow,
    "daily_digest_activity": DailyDigestActivityRow,
    "tag_heads": TagHeadRow,
}
