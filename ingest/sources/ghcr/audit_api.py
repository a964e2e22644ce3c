"""GitHub's organization audit log API as a ``PageSource`` for the poller (``regaudit.ingest.receive.poller``).

``GET <api>/orgs/<org>/audit-log?phrase=action:packages&order=asc&per_page=100[&after=<cursor>]`` with
``Authorization: Bearer <token>`` (GitHub's REST reference, "Get the audit log for an organization": GitHub
Enterprise Cloud only). Events come oldest first; a page with more after it names the next in its ``Link`` header
(``rel="next"``, whose URL carries the ``after`` cursor to send back).

The cursor: the endpoint, ``after`` (the cursor the last page was asked with; null before the first page) and
``seen``, the ids of the events delivered from that page. While a ``next`` link exists the source follows it; on the
last page it stays, and asks for that page again on the next poll, skipping what it delivered, so events written
since are picked up. An event delivered twice anyway (a crash before the cursor's save) has the same id (its
``_document_id``) and is stored once. Errors as the poller's contract says: 401 terminal (a wrong or expired
token), 403 terminal unless it is GitHub's rate limit (``X-RateLimit-Remaining: 0``, transient), 404 terminal (no
such organization, or not Enterprise Cloud), other 4xx terminal, 5xx, 429 and network failures transient; a body
that is not a list of events is one dead letter and the cursor stays.
"""

from __future__ import annotations

import hashlib
import re
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from pydantic import SecretStr

from regaudit.errors import TerminalError, TransientError
from regaudit.ingest.receive.api_http import open_api, read_bounded
from regaudit.ingest.receive.poller import MAX_PAGE_DEPTH, Cursor, Page
from regaudit.ingest.records import RawRecord
from regaudit.ingest.sources.distribution.envelope import deeper_than
from regaudit.ingest.sources.ghcr.audit import REGISTRY_KIND, event_id

MAX_PAGE_BYTES = 16 * 1024 * 1024
_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="next"')


class GhcrAuditSource:
    """Pages of one GitHub organization's package events after a cursor."""

    def __init__(
        self,
        api_url: str,
        instance: str,
        org: str,
        token: SecretStr,
        *,
        phrase: str = "action:packages",
        per_page: int = 100,
        timeout_seconds: float = 10.0,
        ca_file: Path | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if not api_url.startswith(("http://", "https://")):
            raise TerminalError(f"GitHub API URL {api_url!r} is not http(s)")
        self.endpoint = f"{api_url.rstrip('/')}/orgs/{urllib.parse.quote(org, safe='')}/audit-log"
        self.instance = instance
        self.query = {"phrase": phrase, "order": "asc", "per_page": str(per_page)}
        self.clock = clock
        self.timeout_seconds = timeout_seconds
        self._headers = {"Authorization": f"Bearer {token.get_secret_value()}", "Accept": "application/vnd.github+json",
                         "X-GitHub-Api-Version": "2022-11-28"}  # fmt: skip
        self._tls = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)

    def close(self) -> None:
        pass  # one urllib request per page: no connection is kept

    def fetch(self, cursor: Cursor | None) -> Page | None:
        after, seen = self._position(cursor)
        query = self.query | ({"after": after} if after else {})
        body, link = self._get(f"{self.endpoint}?{urllib.parse.urlencode(query)}")
        received_at = self.clock()
        events = _events(body)
        if events is None:
            return self._refused(body, received_at, cursor)
        records: list[tuple[str | None, RawRecord]] = []
        for event in events:
            key = event_id(event) if isinstance(event, dict) else hashlib.sha256(orjson.dumps(event)).hexdigest()
            if key not in seen:
                seen.add(key)
                records.append(
                    (None, self._record(orjson.dumps(event), f"ghcr-api:{self.endpoint}#{key}", received_at))
                )
        following = _next_after(link)
        next_cursor = self._cursor(following, set()) if following else self._cursor(after, seen)
        if not records and next_cursor == cursor:
            return None
        return Page(records, next_cursor)

    def _position(self, cursor: Cursor | None) -> tuple[str | None, set[str]]:
        if cursor is None:
            return None, set()
        if cursor.get("endpoint") != self.endpoint:
            raise TerminalError(f"the cursor belongs to {cursor.get('endpoint')!r}, not {self.endpoint}: give each "
                                "organization its own cursor file")  # fmt: skip
        return cursor.get("after"), set(cursor["seen"])

    def _cursor(self, after: str | None, seen: set[str]) -> Cursor:
        return {"endpoint": self.endpoint, "after": after, "seen": sorted(seen)}

    def _record(self, value: bytes, origin: str, received_at: datetime) -> RawRecord:
        return RawRecord("event", value, origin, received_at, self.instance, None, "application/json", None,
                         REGISTRY_KIND)  # fmt: skip

    def _refused(self, body: bytes, received_at: datetime, cursor: Cursor | None) -> Page:
        """A page that is no page: one dead letter (keyed by its content, so a re-fetch stores it once)."""
        key = hashlib.sha256(self.endpoint.encode() + b"\0" + body).hexdigest()[:32]
        reason = f"GitHub audit log page refused: not a JSON list of events, or nested deeper than {MAX_PAGE_DEPTH}"
        record = RawRecord(
            "deadletter", body[:MAX_PAGE_BYTES], f"ghcr-api:{self.endpoint}", received_at, self.instance, key,
            "application/json", reason, REGISTRY_KIND,
        )  # fmt: skip
        return Page([(None, record)], cursor if cursor is not None else self._cursor(None, set()))

    def _get(self, url: str) -> tuple[bytes, str]:
        request = urllib.request.Request(url, headers=self._headers)  # noqa: S310 - http(s) only, checked in __init__
        try:
            with open_api(request, timeout=self.timeout_seconds, context=self._tls) as response:
                body: bytes = read_bounded(response, MAX_PAGE_BYTES + 1)
                return body, response.headers.get("Link", "")
        except urllib.error.HTTPError as error:
            raise _http_error(self.endpoint, error.code, error.headers.get("X-RateLimit-Remaining")) from None
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            raise TransientError(f"GitHub audit log API {self.endpoint} unreachable: {error}") from error


def _events(body: bytes) -> list[Any] | None:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return document if isinstance(document, list) and not deeper_than(document, MAX_PAGE_DEPTH) else None


def _next_after(link: str) -> str | None:
    """The ``after`` cursor of the ``Link`` header's ``rel="next"`` URL; None on the last page."""
    found = _NEXT.search(link)
    if not found:
        return None
    values = urllib.parse.parse_qs(urllib.parse.urlsplit(found.group(1)).query).get("after")
    return values[0] if values else None


def _http_error(endpoint: str, status: int, remaining: str | None) -> TerminalError | TransientError:
    if status == 401:
        return TerminalError(f"GitHub refused the token at {endpoint} (401): wrong or expired")
    if status == 403 and remaining == "0":
        return TransientError(f"GitHub's rate limit at {endpoint} (403, X-RateLimit-Remaining 0)")
    if status == 403:
        return TerminalError(f"GitHub forbids the token at {endpoint} (403): it needs the read:audit_log scope and an"
                             " organization owner")  # fmt: skip
    if status == 404:
        return TerminalError(f"GitHub answered 404 at {endpoint}: no such organization, or not GitHub Enterprise Cloud")
    if status >= 500 or status == 429:
        return TransientError(f"GitHub audit log API {endpoint} answered {status}")
    return TerminalError(f"GitHub audit log API {endpoint} answered {status} to the query")
