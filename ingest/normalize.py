"""Normalize: a batch of raw records in, canonical rows and dead letters out, without touching the store.

The work is pushed into DuckDB (``normalize_events.sql``, ``normalize_access.sql``) on an in-memory
connection: Python only lays the records out as Arrow columns, so a batch of 50,000 events costs one vectorized
query instead of 50,000 model validations. The SQL keeps the contract of the pydantic wire models in
``regaudit.schemas`` (required fields, strict types, empty means missing); a differential test holds the two
to the same verdicts.

Pure in the pipeline sense: no clock (``received_at`` travels with each record), no file, no network. Bad input
never raises: it comes back as a dead-letter row with its raw bytes and the reason.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from importlib import resources

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from regaudit.evidence.canonical import AUDIT_TABLES, row_parts
from regaudit.ingest.records import RawRecord
from regaudit.ingest.sources.acr.normalize import normalize_records as normalize_acr
from regaudit.ingest.sources.artifactory.normalize import normalize_records as normalize_artifactory
from regaudit.ingest.sources.dockerhub.normalize import normalize_records as normalize_dockerhub
from regaudit.ingest.sources.dockerhub.normalize import normalize_usage as normalize_dockerhub_usage
from regaudit.ingest.sources.ecr.normalize import normalize_records as normalize_ecr
from regaudit.ingest.sources.gar.normalize import normalize_records as normalize_gar
from regaudit.ingest.sources.ghcr.normalize import normalize_records as normalize_ghcr
from regaudit.ingest.sources.harbor.normalize import normalize_records as normalize_harbor
from regaudit.ingest.sources.quay.normalize import normalize_records as normalize_quay
from regaudit.schemas.registry import EARLIEST_AT, LATEST_AT, RFC3339_PATTERN, TIME_WINDOW

log = logging.getLogger(__name__)

#: Each source's normalizer lives in its source package (``regaudit.ingest.sources.<kind>``).
EVENTS_SQL = resources.files("regaudit.ingest.sources.distribution").joinpath("normalize_events.sql").read_text("utf-8")
ACCESS_SQL = resources.files("regaudit.ingest.sources.nginx").joinpath("normalize_access.sql").read_text("utf-8")

#: a source's normalizer: its records of the batch, the events schema and the default registry in, events rows out
SourceNormalizer = Callable[[pa.Table, pa.Schema, str], pa.Table]
#: the normalizers of registry kinds other than Distribution's, by the kind their records carry (``RawRecord``)
SOURCES: dict[str, SourceNormalizer] = {
    "harbor": normalize_harbor,
    "ecr": normalize_ecr,
    "quay": normalize_quay,
    "artifactory": normalize_artifactory,
    "acr": normalize_acr,
    "gar": normalize_gar,
    "dockerhub": normalize_dockerhub,
    "dockerhub-usage": normalize_dockerhub_usage,  # the Usage page's CSV lines: rows of kind dockerhub
    "ghcr": normalize_ghcr,
}

EVENT_COLUMNS = (
    "registry", "event_id", "event_at", "action", "target_kind", "repository", "tag", "digest", "media_type",
    "size_bytes", "from_repository", "url", "request_id", "http_method", "client_addr", "request_host",
    "user_agent", "actor", "source_addr", "source_instance", "envelope_type", "received_at", "origin", "raw",
    "registry_kind", "outcome",
)  # fmt: skip
ACCESS_COLUMNS = (
    "line_key", "request_at", "log_host", "client_addr", "forwarded_for", "remote_user", "auth_scheme",
    "http_method", "uri", "endpoint", "repository", "reference", "tag", "digest", "status", "body_bytes",
    "request_length", "request_seconds", "user_agent", "proxy_request_id", "tls_protocol", "server_host",
    "log_format", "shipper", "received_at", "origin", "raw",
)  # fmt: skip
#: ``json_transform`` structure of a JSON access line (``$line_keys`` in normalize_access.sql): the shipper
#: envelopes' keys as JSON, whose type tells the shipper, and the nginx record's keys as text (FORMATS.md 3.1
#: and the registry_json keys), so a bare nginx JSON line is parsed once.
_NGINX_KEYS = (
    "ts", "time", "msec", "req_id", "request_id", "remote_addr", "xff", "http_x_forwarded_for", "remote_user",
    "auth", "host", "method", "request_method", "uri", "request_uri", "status", "body_bytes_sent",
    "request_length", "request_time", "ua", "http_user_agent", "digest", "upstream_digest", "tls", "ssl_protocol",
)  # fmt: skip
_ENVELOPE_KEYS = ("@metadata", "message", "source_type", "log", "@timestamp", "stream")
ACCESS_LINE_KEYS = json.dumps({name: "JSON" for name in _ENVELOPE_KEYS} | {name: "VARCHAR" for name in _NGINX_KEYS})
#: the window a record's own time must fall in, the same for the SQL as for the pydantic models
_WINDOW = {"earliest": EARLIEST_AT, "latest": LATEST_AT, "time_window": TIME_WINDOW}
DEAD_LETTER_COLUMNS = ("dead_letter_id", "received_at", "source", "origin", "reason", "content_type", "raw")

#: the columns ``Normalizer.normalize_table`` reads: one row per raw record (``to_arrow``, or a source that lays
#: its records out itself, e.g. the Kafka consumer)
BATCH_SCHEMA = pa.schema(
    [
        ("kind", pa.string()),
        ("value", pa.binary()),
        ("text", pa.string()),
        ("origin", pa.string()),
        ("received_at", pa.timestamp("us", tz="UTC")),
        ("registry", pa.string()),
        ("key", pa.string()),
        ("content_type", pa.string()),
        ("reason", pa.string()),
        ("registry_kind", pa.string()),
    ]
)


@dataclass(frozen=True)
class NormalizedBatch:
    """Canonical rows of one batch, as Arrow tables whose columns match the store tables."""

    events: pa.Table
    access: pa.Table
    dead_letters: pa.Table
    #: the hash chain's text of each row around its batch id, by store table (``canonical.row_parts``), made on
    #: the reading thread (``Normalizer.with_seal_parts``) so that the writer, which stores them as sent, need
    #: not read its rows back to build it; None: the writer reads them back (a part of a batch, a replay)
    seal_parts: Mapping[str, pa.Table] | None = None

    @property
    def counts(self) -> tuple[int, int, int]:
        return self.events.num_rows, self.access.num_rows, self.dead_letters.num_rows

    def tables(self) -> dict[str, pa.Table]:
        """The rows by the store table they go to."""
        return {"registry_events": self.events, "access_log": self.access, "dead_letters": self.dead_letters}


def dead_letter_id(origin: str, raw: bytes) -> str:
    """Deterministic, so a replayed dead letter is stored once."""
    return hashlib.sha256(origin.encode() + b"\0" + raw).hexdigest()[:32]


def to_arrow(records: Sequence[RawRecord]) -> pa.Table:
    """Lay the records out as columns; access lines are decoded here with replacement (checklist 15)."""
    return pa.table(
        [
            pa.array([r.kind for r in records], pa.string()),
            pa.array([r.value for r in records], pa.binary()),
            pa.array(
                [r.value.decode("utf-8", "replace") if r.kind == "access" else None for r in records],
                pa.string(),
            ),
            pa.array([r.origin for r in records], pa.string()),
            pa.array([r.received_at for r in records], pa.timestamp("us", tz="UTC")),
            pa.array([r.registry for r in records], pa.string()),
            pa.array([r.key for r in records], pa.string()),
            pa.array([r.content_type for r in records], pa.string()),
            pa.array([r.reason for r in records], pa.string()),
            pa.array([r.registry_kind for r in records], pa.string()),
        ],
        schema=BATCH_SCHEMA,
    )


class Normalizer:
    """Turns batches of raw records into canonical rows on its own in-memory DuckDB connection."""

    def __init__(
        self, default_registry: str = "default", sources: Mapping[str, SourceNormalizer] | None = None
    ) -> None:
        """``sources`` replaces ``SOURCES`` where a source needs its deployment's settings (Quay's log kinds)."""
        self._con = duckdb.connect(":memory:")
        self._con.execute("SET TimeZone = 'UTC'")
        # the access query's rows come out in the records' order (DuckDB's default, stated as it is relied on:
        # ``_with_records`` pairs them with the records' own columns)
        self._con.execute("SET preserve_insertion_order = true")
        self._default_registry = default_registry
        self._sources = dict(SOURCES if sources is None else sources)
        #: the empty result of a query, by name, for batches that hold none of its records
        self._empty: dict[str, pa.Table] = {}

    def close(self) -> None:
        self._con.close()

    def normalize(self, records: Sequence[RawRecord]) -> NormalizedBatch:
        return self.normalize_table(to_arrow(records))

    def normalize_table(self, batch: pa.Table) -> NormalizedBatch:
        """Normalize raw records already laid out as columns (``BATCH_SCHEMA``)."""
        kinds = batch.column("kind")
        is_access = pc.equal(kinds, "access")
        access_count = pc.sum(is_access).as_py() or 0
        event_params = {"default_registry": self._default_registry, "rfc3339": RFC3339_PATTERN, **_WINDOW}
        self._con.register("batch", batch)
        try:
            events = self._query("events", EVENTS_SQL, event_params, pc.any(pc.equal(kinds, "event")).as_py())
            access = self._query("access", ACCESS_SQL, {"line_keys": ACCESS_LINE_KEYS, **_WINDOW}, access_count > 0)
        finally:
            self._con.unregister("batch")
        access = _with_records(access, batch if access_count == batch.num_rows else batch.filter(is_access))
        events = pa.concat_tables([events, *self._other_sources(batch, events.schema)])
        return self._split(events, access, batch)

    def with_seal_parts(self, batch: NormalizedBatch) -> NormalizedBatch:
        """The batch with its rows' chain texts made here (``NormalizedBatch.seal_parts``): a writer of the store
        then only joins them around its batch id and hashes them. A table ``row_parts`` cannot make them of, or
        whose rows hold a value the store's type refuses (the INSERT then refuses it too, and isolates the row),
        is left to the writer: never an error here, on the loop's thread."""
        rows = batch.tables()
        parts = {}
        for table in AUDIT_TABLES:
            try:
                made = row_parts(self._con, table, rows[table.name])
            except duckdb.Error as error:
                log.warning("%s rows left to the writer's chain read-back: %s", table.name, str(error)[:200])
                continue
            if made is not None:
                parts[table.name] = made
        return replace(batch, seal_parts=parts)

    def _query(self, name: str, sql: str, params: dict[str, object], has_records: bool | None) -> pa.Table:
        """The query's rows of the registered batch; a batch without its records skips it (an import's or a
        topic's batches hold one kind: the other query cost 20 ms a batch to plan and find nothing)."""
        if not has_records and name in self._empty:
            return self._empty[name]
        rows = self._con.sql(sql, params=params).to_arrow_table()
        if not has_records:
            self._empty[name] = rows
        return rows

    def _other_sources(self, batch: pa.Table, schema: pa.Schema) -> list[pa.Table]:
        """Events rows of the records of other registry kinds, by their source's normalizer; an event of a kind
        none knows (a foreign producer's header) is a dead letter, never dropped."""
        kinds = pc.fill_null(batch.column("registry_kind"), "distribution")
        events = pc.equal(batch.column("kind"), "event")
        tables = []
        for kind, normalize in self._sources.items():
            records = batch.filter(pc.and_(events, pc.equal(kinds, kind)))
            if records.num_rows:
                tables.append(normalize(records, schema, self._default_registry))
        known = pa.array(["distribution", *self._sources], pa.string())
        unknown = batch.filter(pc.and_(events, pc.invert(pc.is_in(kinds, value_set=known))))
        if unknown.num_rows:
            rows = [
                {"reason": f"unknown registry kind {kind[:100]!r}", "value": value, "origin": origin,
                 "received_at": received_at, "registry": registry, "content_type": content_type}
                for kind, value, origin, received_at, registry, content_type in zip(
                    *(unknown.column(name).to_pylist()
                      for name in ("registry_kind", "value", "origin", "received_at", "registry", "content_type")),
                    strict=True,
                )
            ]  # fmt: skip
            tables.append(pa.Table.from_pylist(rows, schema=schema))
        return tables

    def _split(self, events: pa.Table, access: pa.Table, batch: pa.Table) -> NormalizedBatch:
        con = self._con
        good_events, good_access = _accepted(events, EVENT_COLUMNS), _accepted(access, ACCESS_COLUMNS)
        con.register("ev", events)
        con.register("ac", access)
        con.register("batch", batch)
        try:
            dead = con.sql(
                """
                SELECT received_at, 'events' AS source, origin, reason, content_type, value AS raw,
                       origin AS identity FROM ev WHERE reason IS NOT NULL
                UNION ALL
                SELECT received_at, 'access', origin, reason, NULL, encode(raw), origin FROM ac
                    WHERE reason IS NOT NULL
                UNION ALL
                SELECT received_at, 'receiver', origin, coalesce(reason, 'refused by the receiver'),
                       content_type, value, coalesce(key, origin) FROM batch WHERE kind = 'deadletter'
                """
            ).to_arrow_table()
        finally:
            for name in ("ev", "ac", "batch"):
                con.unregister(name)
        # a receiver's dead letter is identified by its key when it has one (the webhook's: registry + body), so
        # the registry retrying a malformed POST is stored once; the origin (Kafka offset, request id) differs
        ids = [
            dead_letter_id(o, r)
            for o, r in zip(dead.column("identity").to_pylist(), dead.column("raw").to_pylist(), strict=True)
        ]
        dead = dead.drop_columns(["identity"]).add_column(0, "dead_letter_id", pa.array(ids, pa.string()))
        return NormalizedBatch(good_events, good_access, dead)


def _with_records(rows: pa.Table, records: pa.Table) -> pa.Table:
    """The access query's rows with their records' origin, receive time and line (``raw``): the records' own
    columns, row for row, rather than every line copied back out of DuckDB (a fifth of the query's time on JSON
    lines). The query filters and projects only, and keeps the records' order."""
    if rows.num_rows != records.num_rows:
        raise RuntimeError(f"access query gave {rows.num_rows} rows for {records.num_rows} records")
    for name, column in (("received_at", "received_at"), ("origin", "origin"), ("raw", "text")):
        rows = rows.append_column(name, records.column(column))
    return rows


def _accepted(rows: pa.Table, columns: tuple[str, ...]) -> pa.Table:
    """The rows without a reason, in ``columns``: the columns themselves when every row passed (no copy of a
    batch whose lines are all good, which a backfill's are), else the rows filtered."""
    reasons = rows.column("reason")
    if reasons.null_count == rows.num_rows:
        return rows.select(list(columns))
    return rows.filter(pc.is_null(reasons)).select(list(columns))
