"""The audit-API pollers' HTTP: their credentials go to the configured origin only, and a body is bounded in bytes
and in time.

urllib's redirect handler copies every header of a request onto the redirected one, ``Authorization`` included, to
whatever host the ``Location`` names (CPython's ``HTTPRedirectHandler.redirect_request``). A registry API that
answers 302 to another host (a compromised or hostile server, or anyone on the path of a plain-http URL) would be
handed the poller's Bearer token or Basic credentials, and the poller would fetch whatever URL it was told (SSRF).
So a redirect is followed only within the origin (scheme, host and port) of the URL asked for; one leaving it is a
``TerminalError`` naming both origins: the configured URL is wrong, retrying cannot help.

``urlopen``'s timeout bounds each read of the socket, not the whole answer: a server sending a byte every few
seconds would hold the poller for days. ``read_bounded`` reads at most ``limit`` bytes and gives up with a
``TransientError`` once ``seconds`` have passed (the poller backs off and asks again).
"""

from __future__ import annotations

import ssl
import time
import urllib.parse
import urllib.request
from http.client import HTTPMessage
from typing import IO, Any

from regaudit.errors import TerminalError, TransientError

#: how long a whole answer may take to arrive; a page is tens of KiB
BODY_SECONDS = 60.0
_CHUNK = 64 * 1024


def open_api(request: urllib.request.Request, *, timeout: float, context: ssl.SSLContext) -> Any:
    """``urlopen`` that follows redirects within ``request``'s origin only (raises ``TerminalError`` otherwise)."""
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context), _SameOriginRedirects())
    return opener.open(request, timeout=timeout)


def read_bounded(response: Any, limit: int, seconds: float = BODY_SECONDS) -> bytes:
    """At most ``limit`` bytes of ``response``; ``TransientError`` if they take longer than ``seconds``."""
    deadline = time.monotonic() + seconds
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk: bytes = response.read1(min(_CHUNK, limit - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if time.monotonic() > deadline:
            raise TransientError(f"{_origin(response.url)} sent {size} bytes in {seconds:g} s and was not done")
    return b"".join(chunks)


def _origin(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:  # a port that is no number: an origin of its own, never the one asked for
        return f"{parts.scheme}://{parts.hostname}:?"
    return f"{parts.scheme}://{parts.hostname}:{port}"


class _SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only when it stays on the origin asked for (see the module docstring)."""

    def redirect_request(
        self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str, headers: HTTPMessage, newurl: str
    ) -> urllib.request.Request | None:
        if _origin(newurl) != _origin(req.full_url):
            fp.close()
            raise TerminalError(
                f"{_origin(req.full_url)} redirected ({code}) to another origin, {_origin(newurl)}: refused, the "
                "credentials are sent to the configured URL only; configure the API's own URL"
            )
        return super().redirect_request(req, fp, code, msg, headers, newurl)
