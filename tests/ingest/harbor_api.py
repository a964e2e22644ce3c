"""A Harbor audit-log API on a real HTTP server, for the poller's tests. It answers ``GET /api/v2.0/auditlog-exts`` and
``/api/v2.0/audit-logs`` as Harbor's handler does (``src/server/v2.0/handler/auditlog.go``,
``src/lib/q/builder.go``): Basic auth (401 with Harbor's error body otherwise), ``q=op_time=[<from>~<to>]`` in whole
UTC seconds, both ends inclusive, ``sort=op_time,id``, ``page`` and ``page_size``, ``X-Total-Count`` and ``Link``
headers; and ``GET /api/v2.0/robots`` paged the same way. The rows it serves are the fixtures
(tests/fixtures/harbor); ``hostile`` replaces the next answers' bodies to play a broken or malicious server.
"""

from __future__ import annotations

import base64
import json
import threading
import urllib.parse
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_Q_TIME = "%Y-%m-%dT%H:%M:%S"
UNAUTHORIZED = b'{"errors":[{"code":"UNAUTHORIZED","message":"unauthorized"}]}'


def op_time(row: dict) -> datetime:
    return datetime.fromisoformat(row["op_time"].replace("Z", "+00:00"))


class HarborAuditAPI:
    def __init__(self, rows: list[dict], username: str, secret: str, robots: list[dict] | None = None) -> None:
        self.rows = list(rows)
        self.robots = list(robots or [])
        self.credentials = base64.b64encode(f"{username}:{secret}".encode()).decode()
        self.hostile: list[bytes] = []
        self.requests: list[dict[str, str]] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                api.answer(self)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> HarborAuditAPI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        if handler.headers.get("Authorization") != f"Basic {self.credentials}":
            return self._send(handler, 401, UNAUTHORIZED, {})
        path, _, query = handler.path.partition("?")
        if path == "/api/v2.0/robots":
            params = {key: values[0] for key, values in urllib.parse.parse_qs(query).items()}
            page, size = int(params.get("page", "1")), int(params.get("page_size", "10"))
            body = json.dumps(self.robots[(page - 1) * size : page * size]).encode()
            return self._send(handler, 200, body, {"X-Total-Count": str(len(self.robots))})
        if path not in ("/api/v2.0/auditlog-exts", "/api/v2.0/audit-logs"):
            return self._send(handler, 404, b'{"errors":[{"code":"NOT_FOUND","message":"not found"}]}', {})
        params = {key: values[0] for key, values in urllib.parse.parse_qs(query).items()}
        self.requests.append(params)
        if self.hostile:
            return self._send(handler, 200, self.hostile.pop(0), {})
        rows = self._matching(params.get("q", ""))
        page, size = int(params.get("page", "1")), int(params.get("page_size", "10"))
        body = json.dumps(rows[(page - 1) * size : page * size]).encode()
        headers = {"X-Total-Count": str(len(rows))}
        if page * size < len(rows):
            headers["Link"] = f'<{path}?page={page + 1}&page_size={size}>; rel="next"'
        return self._send(handler, 200, body, headers)

    def _matching(self, q: str) -> list[dict]:
        rows = sorted(self.rows, key=lambda row: (op_time(row), row["id"]))
        if not q:
            return rows
        low, _, high = q.removeprefix("op_time=[").removesuffix("]").partition("~")
        low_at = datetime.strptime(low, _Q_TIME).replace(tzinfo=UTC) if low else None
        high_at = datetime.strptime(high, _Q_TIME).replace(tzinfo=UTC) if high else None
        return [
            row
            for row in rows
            if (low_at is None or op_time(row) >= low_at) and (high_at is None or op_time(row) <= high_at)
        ]

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str]) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)
