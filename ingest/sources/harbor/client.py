"""Harbor's REST API (``/api/v2.0``) over HTTP Basic auth: the one GET the audit-log poller and the robot inventory
share, with Harbor's answers sorted into what the caller does next (``regaudit.errors``).

401 and 403 are terminal (the account's name or secret is wrong, or it lacks the permission); 429, 5xx, timeouts and
refused connections transient; any other status terminal (a bad query: a bug, or a Harbor too old for the API).
"""

from __future__ import annotations

import base64
import ssl
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from pydantic import SecretStr

from regaudit.errors import TerminalError, TransientError
from regaudit.ingest.receive.api_http import open_api, read_bounded

#: a page of 100 audit rows or robots is a few tens of KiB; the body is cut beyond this (and then is no JSON)
MAX_BODY_BYTES = 16 * 1024 * 1024


class HarborClient:
    """GETs under ``<url>/api/v2.0`` as one account."""

    def __init__(
        self,
        url: str,
        username: str,
        password: SecretStr,
        *,
        timeout_seconds: float = 10.0,
        ca_file: Path | None = None,
    ) -> None:
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise TerminalError(f"Harbor's URL must be http:// or https://, not {url!r}")
        self.api = f"{url.rstrip('/')}/api/v2.0"
        self.timeout_seconds = timeout_seconds
        token = base64.b64encode(f"{username}:{password.get_secret_value()}".encode()).decode()
        self._headers = {"Authorization": f"Basic {token}", "Accept": "application/json"}
        self._tls = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)

    def get(self, path: str, query: dict[str, str | int]) -> bytes:
        """The body of ``GET <api><path>?<query>``; raises TerminalError or TransientError as the module says."""
        url = f"{self.api}{path}?{urllib.parse.urlencode(query)}"
        request = urllib.request.Request(url, headers=self._headers)  # noqa: S310 - http(s) only, checked above
        try:
            with open_api(request, timeout=self.timeout_seconds, context=self._tls) as response:
                body: bytes = read_bounded(response, MAX_BODY_BYTES)
                return body
        except urllib.error.HTTPError as error:
            raise _http_error(f"{self.api}{path}", error.code) from None
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            raise TransientError(f"Harbor API {self.api}{path} unreachable: {error}") from error


def _http_error(endpoint: str, status: int) -> TerminalError | TransientError:
    if status in (401, 403):
        return TerminalError(
            f"Harbor at {endpoint} refused the credentials ({status}): check the account's name, its secret and "
            "that it may list what is asked (the audit log, robot accounts)"
        )
    if status >= 500 or status == 429:
        return TransientError(f"Harbor API {endpoint} answered {status}")
    return TerminalError(f"Harbor API {endpoint} answered {status} to the query")
