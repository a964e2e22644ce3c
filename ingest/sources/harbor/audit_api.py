"""Harbor's audit-log API as a ``PageSource`` for the poller (``regaudit.ingest.receive.poller``).

``GET /api/v2.0/auditlog-exts`` (2.13+) or ``/api/v2.0/audit-logs`` (the table before 2.13), with Basic auth (a
robot account with the audit-log list permission), read oldest first (``api/v2.0/swagger.yaml`` in goharbor/harbor):

    q=op_time=[<since>~<until>]  sort=op_time,id  page=<n>  page_size=<100 at most>

``q`` takes times as ``2006-01-02T15:04:05`` in UTC (``src/lib/q/builder.go``, ``parseValue``), whole seconds, both
ends inclusive. ``until`` is the clock less ``lag_seconds``: Harbor writes audit rows asynchronously, stamped with the
event's time, so a row younger than the lag may not be visible yet, and reading only older rows keeps a row from
appearing behind the cursor. A page is full when it holds ``page_size`` rows (what ``Link: rel="next"`` and
``X-Total-Count`` would also say).

The cursor: ``since`` (the second of the newest row delivered), ``page`` (the page of that query to read next),
``seen`` (the ids delivered at ``since``, so the rows of that second read again are skipped), and the endpoint it
belongs to. Seconds are Harbor's only range unit and many rows share one, so a page re-read at the same second is
normal: its delivered rows are skipped by id, and a full page moves ``page`` on. Anything delivered twice anyway (a
crash between delivery and the cursor's save) has the same event id and is stored once.

Errors (``regaudit.ingest.receive.poller``, as ``client.HarborClient`` sorts them): 401 and 403 are terminal (the
credentials are wrong or lack the permission), other 4xx terminal (a bad query: a bug or an old Harbor), 5xx and
network failures transient. A body
that is not a JSON list is returned as one dead letter and the cursor stays; a row that is not an audit row is
delivered as it is, for the normalizer to dead-letter, and does not move the cursor.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import SecretStr, ValidationError

from regaudit.errors import TerminalError
from regaudit.ingest.receive.poller import MAX_PAGE_DEPTH, Cursor, Page
from regaudit.ingest.records import RawRecord
from regaudit.ingest.sources.distribution.envelope import deeper_than
from regaudit.ingest.sources.harbor.audit import AUDIT_LOG_EXT_TYPE, AUDIT_LOG_TYPE, split_resource
from regaudit.ingest.sources.harbor.client import HarborClient
from regaudit.ingest.sources.harbor.events import REGISTRY_KIND
from regaudit.schemas.harbor import AuditLogEntry

Endpoint = Literal["auditlog-exts", "audit-logs"]
CONTENT_TYPES: dict[str, str] = {"auditlog-exts": AUDIT_LOG_EXT_TYPE, "audit-logs": AUDIT_LOG_TYPE}
_Q_TIME = "%Y-%m-%dT%H:%M:%S"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class HarborAuditSource:
    """Pages of one Harbor instance's audit log after a cursor."""

    def __init__(
        self,
        url: str,
        instance: str,
        username: str,
        password: SecretStr,
        *,
        endpoint: Endpoint = "auditlog-exts",
        page_size: int = 100,
        lag_seconds: float = 10.0,
        start: datetime | None = None,
        timeout_seconds: float = 10.0,
        ca_file: Path | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.client = HarborClient(url, username, password, timeout_seconds=timeout_seconds, ca_file=ca_file)
        self.api_url = f"{self.client.api}/{endpoint}"
        self.instance = instance
        self.endpoint = endpoint
        self.page_size = page_size
        self.lag = timedelta(seconds=lag_seconds)
        self.start = (start or _EPOCH).astimezone(UTC)
        self.clock = clock

    def close(self) -> None:
        pass  # one urllib request per page: no connection is kept

    def fetch(self, cursor: Cursor | None) -> Page | None:
        since, page, seen = self._position(cursor)
        until = (self.clock() - self.lag).replace(microsecond=0)
        if until < since:
            return None
        query: dict[str, str | int] = {
            "q": f"op_time=[{since.strftime(_Q_TIME)}~{until.strftime(_Q_TIME)}]",
            "sort": "op_time,id",
            "page": page,
            "page_size": self.page_size,
        }
        body = self.client.get(f"/{self.endpoint}", query)
        received_at = self.clock()
        try:
            rows = orjson.loads(body)
        except orjson.JSONDecodeError as error:
            return self._refused(body, f"not JSON: {error}", received_at, cursor)
        if not isinstance(rows, list):
            return self._refused(body, "not a JSON list of audit rows", received_at, cursor)
        if deeper_than(rows, MAX_PAGE_DEPTH):
            return self._refused(body, f"nested deeper than {MAX_PAGE_DEPTH} levels", received_at, cursor)
        return self._page(rows, since, page, seen, received_at, cursor)

    def _position(self, cursor: Cursor | None) -> tuple[datetime, int, set[int]]:
        if cursor is None:
            return self.start.replace(microsecond=0), 1, set()
        if cursor.get("endpoint") != self.api_url:
            raise TerminalError(f"the cursor belongs to {cursor.get('endpoint')!r}, not {self.api_url}: give each "
                                "instance and endpoint its own cursor file")  # fmt: skip
        return datetime.fromisoformat(cursor["since"]), int(cursor["page"]), set(cursor["seen"])

    def _page(
        self,
        rows: list[Any],
        since: datetime,
        page: int,
        seen: set[int],
        received_at: datetime,
        cursor: Cursor | None,
    ) -> Page | None:
        records: list[tuple[str | None, RawRecord]] = []
        newest = since
        delivered: list[tuple[datetime, int]] = []
        for row in rows:
            value = orjson.dumps(row)
            try:
                entry = AuditLogEntry.model_validate(row)
            except ValidationError:
                origin = f"harbor-api:{self.api_url}#invalid:{hashlib.sha256(value).hexdigest()[:16]}"
                records.append((None, self._record(value, origin, received_at)))
                continue
            second = entry.op_time.replace(microsecond=0)
            if second < since or (second == since and entry.id in seen):
                continue  # behind the cursor (the query asked for none: a server that ignores q), or delivered
            newest = max(newest, second)
            delivered.append((second, entry.id))
            repository = split_resource(entry.resource or "", (entry.resource_type or "").lower())[0] or None
            origin = f"harbor-api:{self.api_url}#{entry.id}"
            records.append((repository, self._record(value, origin, received_at)))  # keyed like a webhook event
        if newest > since:
            next_cursor = self._cursor(newest, 1, {row_id for second, row_id in delivered if second == newest})
        else:
            full = len(rows) >= self.page_size
            next_cursor = self._cursor(since, page + 1 if full else page, seen | {row_id for _, row_id in delivered})
        if not records and next_cursor == cursor:
            return None
        return Page(records, next_cursor)

    def _cursor(self, since: datetime, page: int, seen: set[int]) -> Cursor:
        return {"endpoint": self.api_url, "since": since.isoformat(), "page": page, "seen": sorted(seen)}

    def _record(self, value: bytes, origin: str, received_at: datetime) -> RawRecord:
        content_type = CONTENT_TYPES[self.endpoint]
        return RawRecord("event", value, origin, received_at, self.instance, None, content_type, None, REGISTRY_KIND)

    def _refused(self, body: bytes, reason: str, received_at: datetime, cursor: Cursor | None) -> Page:
        """A page that is no page: one dead letter (keyed by its content, so a re-fetch stores it once)."""
        key = hashlib.sha256(self.api_url.encode() + b"\0" + body).hexdigest()[:32]
        record = RawRecord(
            "deadletter", body, f"harbor-api:{self.api_url}", received_at, self.instance, key,
            "application/json", f"Harbor audit-log page refused: {reason}"[:500], REGISTRY_KIND,
        )  # fmt: skip
        return Page([(None, record)], cursor if cursor is not None else self._cursor(*self._position(None)))
