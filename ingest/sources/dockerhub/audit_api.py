"""Docker Hub's audit log API as a ``PageSource`` for the poller (``regaudit.ingest.receive.poller``).

``GET <url>/v2/auditlogs/<account>?from=<RFC 3339>&to=<RFC 3339>&page=<n>&page_size=<n>`` with
``Authorization: Bearer <JWT>`` (docker/docs ``content/reference/api/hub/latest.yaml``, ``AuditLogs_ListAuditLogs``).
The JWT comes from ``POST <url>/v2/auth/token`` with ``{"identifier", "secret"}``: a user name and a personal access
token, or the organization's name and an organization access token. It is valid ten minutes, so it is taken again
after nine, and once more when Hub answers 401 to a JWT taken before (it may have been revoked early).

Hub's answer has no count, no next link and no event id, and the order of its logs is not documented, so the source
reads closed windows of time: ``[from, to]`` with ``to`` at most the clock less ``lag_seconds`` (Hub writes events
late), at most ``window_seconds`` long, page after page, until a page shorter than ``page_size``. A past window
holds no new events, so its pages do not shift while they are walked. The next window starts a second before the
last one ended, so an event exactly at the edge is read whether Hub's bounds are inclusive or not; read twice, it
has the same id (a digest of the event, ``audit.event_id``) and is stored once.

The cursor: the endpoint, ``from``, ``to`` of the window being walked (null between windows) and the ``page`` to
fetch next. Errors as the poller's contract says: 401 and 403 terminal (wrong secret, or an account that may not
read the organization's audit log: owners only, Team or Business plans), other 4xx terminal, 5xx, 429 and network
failures transient; a body that is not a logs page is one dead letter and the cursor stays.
"""

from __future__ import annotations

import hashlib
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from pydantic import SecretStr, ValidationError

from regaudit.errors import TerminalError, TransientError
from regaudit.ingest.receive.api_http import open_api, read_bounded
from regaudit.ingest.receive.poller import MAX_PAGE_DEPTH, Cursor, Page
from regaudit.ingest.records import RawRecord
from regaudit.ingest.sources.distribution.envelope import deeper_than
from regaudit.ingest.sources.dockerhub.audit import REGISTRY_KIND, event_id
from regaudit.schemas.dockerhub import AccessToken, AuditLogsPage

#: a page of at most 100 events is tens of KiB; far beyond it the body is kept clipped as a dead letter
MAX_PAGE_BYTES = 16 * 1024 * 1024
#: the JWT lives ten minutes (AuthCreateTokenResponse); take a new one before
TOKEN_SECONDS = 540.0
#: how far the next window reaches back over the last one's end
EDGE = timedelta(seconds=1)
#: a caught-up poller waits until the next window is this long: on a moving clock every fetch would otherwise find a
#: window a few milliseconds long, ask Hub for it at once and never rest (hundreds of requests a second, never idle)
SHORTEST_WINDOW = timedelta(seconds=60)


class DockerHubAuditSource:
    """Pages of one Docker Hub organization's audit log after a cursor."""

    def __init__(
        self,
        url: str,
        instance: str,
        account: str,
        identifier: str,
        secret: SecretStr,
        *,
        start: datetime | None = None,
        lag_seconds: float = 300.0,
        window_seconds: float = 3600.0,
        page_size: int = 100,
        timeout_seconds: float = 10.0,
        ca_file: Path | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise TerminalError(f"Docker Hub URL {url!r} is not http(s)")
        self.base = url.rstrip("/")
        self.api_url = f"{self.base}/v2/auditlogs/{urllib.parse.quote(account, safe='')}"
        self.instance = instance
        self.clock = clock
        self.lag = timedelta(seconds=lag_seconds)
        self.window = timedelta(seconds=window_seconds)
        self.page_size = page_size
        self.start = start or clock() - timedelta(days=1)
        self.timeout_seconds = timeout_seconds
        self._login = orjson.dumps({"identifier": identifier, "secret": secret.get_secret_value()})
        self._tls = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        self._jwt: str | None = None
        self._jwt_at = 0.0

    def close(self) -> None:
        pass  # one urllib request per page: no connection is kept

    def fetch(self, cursor: Cursor | None) -> Page | None:
        start, end, page_number = self._position(cursor)
        if end is None:
            end = min(start + self.window, self.clock() - self.lag)
            if end < start + EDGE + SHORTEST_WINDOW:  # caught up: nothing new worth a request yet
                return None
        query = {"from": _iso(start), "to": _iso(end), "page": page_number, "page_size": self.page_size}
        body = self._get(f"{self.api_url}?{urllib.parse.urlencode(query)}")
        received_at = self.clock()
        try:
            document = orjson.loads(body)
            if deeper_than(document, MAX_PAGE_DEPTH):
                return self._refused(body, f"nested deeper than {MAX_PAGE_DEPTH} levels", received_at, cursor)
            logs = AuditLogsPage.model_validate(document).logs
        except (orjson.JSONDecodeError, ValidationError) as error:
            return self._refused(body, f"not an audit logs page: {type(error).__name__}", received_at, cursor)
        records = [(None, self._record(log, received_at)) for log in logs]
        if len(logs) < self.page_size:  # the window's last page: the next window starts at its end
            return Page(records, self._cursor(end - EDGE, None, 1))
        return Page(records, self._cursor(start, end, page_number + 1))

    def _position(self, cursor: Cursor | None) -> tuple[datetime, datetime | None, int]:
        if cursor is None:
            return self.start, None, 1
        if cursor.get("endpoint") != self.api_url:
            raise TerminalError(f"the cursor belongs to {cursor.get('endpoint')!r}, not {self.api_url}: give each "
                                "account its own cursor file")  # fmt: skip
        end = cursor.get("to")
        return datetime.fromisoformat(cursor["from"]), datetime.fromisoformat(end) if end else None, cursor["page"]

    def _cursor(self, start: datetime, end: datetime | None, page_number: int) -> Cursor:
        return {"endpoint": self.api_url, "from": _iso(start), "to": _iso(end) if end else None, "page": page_number}

    def _record(self, log: dict[str, object], received_at: datetime) -> RawRecord:
        origin = f"dockerhub-api:{self.api_url}#{event_id(log)}"
        return RawRecord("event", orjson.dumps(log), origin, received_at, self.instance, None, "application/json",
                         None, REGISTRY_KIND)  # fmt: skip

    def _refused(self, body: bytes, reason: str, received_at: datetime, cursor: Cursor | None) -> Page:
        """A page that is no page: one dead letter (keyed by its content, so a re-fetch stores it once)."""
        key = hashlib.sha256(self.api_url.encode() + b"\0" + body).hexdigest()[:32]
        record = RawRecord(
            "deadletter", body[:MAX_PAGE_BYTES], f"dockerhub-api:{self.api_url}", received_at, self.instance, key,
            "application/json", f"Docker Hub audit logs page refused: {reason}", REGISTRY_KIND,
        )  # fmt: skip
        return Page([(None, record)], cursor if cursor is not None else self._cursor(self.start, None, 1))

    def _get(self, url: str) -> bytes:
        """The page's body; a 401 to a JWT taken earlier takes a new one and asks once more."""
        fresh = self._jwt is None or time.monotonic() - self._jwt_at > TOKEN_SECONDS
        if fresh:
            self._authenticate()
        try:
            return self._request(url, None)
        except _Unauthorized:
            if fresh:
                raise TerminalError(f"Docker Hub refused the access token at {self.api_url} (401)") from None
            self._authenticate()
            try:
                return self._request(url, None)
            except _Unauthorized:
                raise TerminalError(f"Docker Hub refused the access token at {self.api_url} (401)") from None

    def _authenticate(self) -> None:
        try:
            body = self._request(f"{self.base}/v2/auth/token", self._login)
        except _Unauthorized:
            raise TerminalError(f"Docker Hub at {self.base}/v2/auth/token refused the identifier and secret (401): "
                                "give a user name with a personal access token, or the organization's name with an "
                                "organization access token") from None  # fmt: skip
        try:
            self._jwt = AccessToken.model_validate(orjson.loads(body)).access_token
        except (orjson.JSONDecodeError, ValidationError) as error:
            raise TransientError(f"Docker Hub's token answer is not a token: {type(error).__name__}") from error
        self._jwt_at = time.monotonic()

    def _request(self, url: str, data: bytes | None) -> bytes:
        headers = {"Accept": "application/json"}
        if data is None:
            headers["Authorization"] = f"Bearer {self._jwt}"
        else:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, headers=headers)  # noqa: S310 - http(s) only, checked in __init__
        try:
            with open_api(request, timeout=self.timeout_seconds, context=self._tls) as response:
                body: bytes = read_bounded(response, MAX_PAGE_BYTES + 1)
                return body
        except urllib.error.HTTPError as error:
            raise _http_error(url.partition("?")[0], error.code) from None
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            raise TransientError(f"Docker Hub API {url.partition('?')[0]} unreachable: {error}") from error


class _Unauthorized(Exception):
    """A 401: the caller knows whether a new token can help."""


def _http_error(endpoint: str, status: int) -> Exception:
    if status == 401:
        return _Unauthorized(endpoint)
    if status == 403:
        return TerminalError(
            f"Docker Hub at {endpoint} forbids the account (403): reading an organization's audit log takes an"
            " owner's token (or an organization access token) on a Team or Business plan"
        )
    if status >= 500 or status == 429:
        return TransientError(f"Docker Hub API {endpoint} answered {status}")
    return TerminalError(f"Docker Hub API {endpoint} answered {status} to the query")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
