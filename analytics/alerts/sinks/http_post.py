"""One HTTP POST with a deadline, its answer mapped onto the delivery outcomes (standard library only).

2xx: taken. 408, 425, 429 and 5xx, refused connections, timeouts and TLS failures: ``SinkUnavailable`` (429 and
503 pass their Retry-After on). Any other status: ``SinkRejected``. The URL is never logged or put in an
error message: incoming-webhook URLs carry their credential in the path.
"""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request
from collections.abc import Mapping

from regaudit import __version__
from regaudit.analytics.alerts.errors import SinkRejected, SinkUnavailable

USER_AGENT = f"regaudit/{__version__}"
_RETRYABLE = {408, 425, 429}


def post(name: str, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> int:
    """POST ``body``; returns the 2xx status or raises."""
    request = urllib.request.Request(  # noqa: S310 - the scheme is the operator's configured http(s) URL
        url, data=body, method="POST", headers={"User-Agent": USER_AGENT, **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - as above
            response.read(65536)
            return int(response.status)
    except urllib.error.HTTPError as error:
        status = error.code
        error.close()
        if status in _RETRYABLE or status >= 500:
            raise SinkUnavailable(
                f"sink {name}: HTTP {status}", _retry_after(error.headers.get("Retry-After"))
            ) from None
        raise SinkRejected(f"sink {name}: HTTP {status}") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
        reason = getattr(error, "reason", error)
        raise SinkUnavailable(f"sink {name}: {type(reason).__name__}: {reason}") from None


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
