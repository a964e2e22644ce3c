"""Quay's logs API as a ``PageSource`` for the poller (``regaudit.ingest.receive.poller``).

``GET /api/v1/repository/<namespace>/<repository>/logs`` or ``/api/v1/organization/<org>/logs``, with an OAuth
access token as ``Authorization: Bearer`` (``endpoints/api/logs.py`` in quay/quay):

    starttime=<MM/DD/YYYY>  endtime=<MM/DD/YYYY>  next_page=<token>

The window is in whole UTC **days**: Quay reads ``endtime`` as the start of its day and adds one, so
``starttime=endtime=D`` is the logs of day D. Logs come newest first, 20 to a page in Quay's database model, and a
page that has more after it carries ``next_page``, an opaque token to send back. There is no log id, and a page can
only be asked for by day, so the source reads one day at a time:

* walk the day's pages (``next_page``) and deliver each log not delivered before, keyed by ``api_event_id`` (a
  digest of what the log says, the id the normalizer gives it too);
* after the last page of a past day, move to the next day; the current day (the clock less ``lag_seconds``) is
  walked again from its first page on every poll, its delivered ids skipped, so logs written since are picked up.

The cursor: the endpoint, ``day``, the ``next_page`` token of the walk in progress and ``seen``, the ids of the
day delivered so far. Anything delivered twice anyway (a crash between delivery and the cursor's save) has the same
id and is stored once. Errors as the poller's contract says: 401 and 403 terminal (the token lacks the
``org:admin``/``repo:admin`` scope), other 4xx terminal, 5xx, 429 and network failures transient; a body that is not a
logs page is one dead letter and the cursor stays.
"""

from __future__ import annotations

import hashlib
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import orjson
from pydantic import SecretStr, ValidationError

from regaudit.errors import TerminalError, TransientError
from regaudit.ingest.receive.api_http import open_api, read_bounded
from regaudit.ingest.receive.poller import MAX_PAGE_DEPTH, Cursor, Page
from regaudit.ingest.records import RawRecord
from regaudit.ingest.sources.distribution.envelope import deeper_than
from regaudit.ingest.sources.quay.logs import REGISTRY_KIND, api_event_id
from regaudit.schemas.quay import LogsPage

_DAY = "%m/%d/%Y"
#: a page of 20 logs is a few KiB; far beyond it the body is kept clipped as a dead letter
MAX_PAGE_BYTES = 16 * 1024 * 1024


class QuayLogsSource:
    """Pages of one Quay repository's or organization's usage logs after a cursor."""

    def __init__(
        self,
        url: str,
        instance: str,
        token: SecretStr,
        *,
        repository: str | None = None,
        organization: str | None = None,
        start: date | None = None,
        lag_seconds: float = 60.0,
        timeout_seconds: float = 10.0,
        ca_file: Path | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise TerminalError(f"Quay URL {url!r} is not http(s)")
        if (repository is None) == (organization is None):
            raise TerminalError("a Quay logs source reads one repository or one organization")
        scope = f"repository/{repository}" if repository else f"organization/{organization}"
        self.api_url = f"{url.rstrip('/')}/api/v1/{scope}/logs"
        self.instance = instance
        self.clock = clock
        self.lag = timedelta(seconds=lag_seconds)
        self.start = start or (clock() - timedelta(days=1)).date()
        self.timeout_seconds = timeout_seconds
        self._authorization = f"Bearer {token.get_secret_value()}"
        self._tls = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)

    def close(self) -> None:
        pass  # one urllib request per page: no connection is kept

    def fetch(self, cursor: Cursor | None) -> Page | None:
        day, token, seen = self._position(cursor)
        today = (self.clock() - self.lag).date()
        if day > today:
            return None
        query = {"starttime": day.strftime(_DAY), "endtime": day.strftime(_DAY)}
        if token:
            query["next_page"] = token
        body = self._get(f"{self.api_url}?{urllib.parse.urlencode(query)}")
        received_at = self.clock()
        try:
            document = orjson.loads(body)
            if deeper_than(document, MAX_PAGE_DEPTH):
                return self._refused(body, f"nested deeper than {MAX_PAGE_DEPTH} levels", received_at, cursor)
            page = LogsPage.model_validate(document)
        except (orjson.JSONDecodeError, ValidationError) as error:
            return self._refused(body, f"not a logs page: {type(error).__name__}", received_at, cursor)
        records: list[tuple[str | None, RawRecord]] = []
        for log in page.logs:
            event_id = api_event_id(log)
            if event_id not in seen:
                seen.add(event_id)
                origin = f"quay-api:{self.api_url}#{day.isoformat()}/{event_id}"
                records.append((None, self._record(orjson.dumps(log), origin, received_at)))
        next_cursor = self._next(day, today, page.next_page, seen)
        if not records and next_cursor == cursor:
            return None
        return Page(records, next_cursor)

    def _position(self, cursor: Cursor | None) -> tuple[date, str | None, set[str]]:
        if cursor is None:
            return self.start, None, set()
        if cursor.get("endpoint") != self.api_url:
            raise TerminalError(f"the cursor belongs to {cursor.get('endpoint')!r}, not {self.api_url}: give each "
                                "repository and organization its own cursor file")  # fmt: skip
        return date.fromisoformat(cursor["day"]), cursor.get("next_page"), set(cursor["seen"])

    def _next(self, day: date, today: date, token: str | None, seen: set[str]) -> Cursor:
        """Within a day's walk: its next page. After its last page: the next day, or today's first page again."""
        if token is None and day < today:
            return self._cursor(day + timedelta(days=1), None, set())
        return self._cursor(day, token, seen)

    def _cursor(self, day: date, token: str | None, seen: set[str]) -> Cursor:
        return {"endpoint": self.api_url, "day": day.isoformat(), "next_page": token, "seen": sorted(seen)}

    def _record(self, value: bytes, origin: str, received_at: datetime) -> RawRecord:
        return RawRecord("event", value, origin, received_at, self.instance, None, "application/json", None,
                         REGISTRY_KIND)  # fmt: skip

    def _refused(self, body: bytes, reason: str, received_at: datetime, cursor: Cursor | None) -> Page:
        """A page that is no page: one dead letter (keyed by its content, so a re-fetch stores it once)."""
        key = hashlib.sha256(self.api_url.encode() + b"\0" + body).hexdigest()[:32]
        record = RawRecord(
            "deadletter", body[:MAX_PAGE_BYTES], f"quay-api:{self.api_url}", received_at, self.instance, key,
            "application/json", f"Quay logs page refused: {reason}", REGISTRY_KIND,
        )  # fmt: skip
        return Page([(None, record)], cursor if cursor is not None else self._cursor(self.start, None, set()))

    def _get(self, url: str) -> bytes:
        headers = {"Authorization": self._authorization, "Accept": "application/json"}
        request = urllib.request.Request(url, headers=headers)  # noqa: S310 - http(s) only, checked in __init__
        try:
            with open_api(request, timeout=self.timeout_seconds, context=self._tls) as response:
                body: bytes = read_bounded(response, MAX_PAGE_BYTES + 1)
                return body
        except urllib.error.HTTPError as error:
            raise _http_error(self.api_url, error.code) from None
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            raise TransientError(f"Quay logs API {self.api_url} unreachable: {error}") from error


def _http_error(api_url: str, status: int) -> TerminalError | TransientError:
    if status in (401, 403):
        return TerminalError(
            f"Quay at {api_url} refused the token ({status}): it needs the repo:admin or org:admin scope"
        )
    if status >= 500 or status == 429:
        return TransientError(f"Quay logs API {api_url} answered {status}")
    return TerminalError(f"Quay logs API {api_url} answered {status} to the query")
