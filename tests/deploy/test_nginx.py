"""The production nginx configs pass ``nginx -t`` and run (Debian's nginx, paths and addresses substituted by
tests/infra/templates.py): the registry proxy answers its health check without logging it, and tls-proxy
serves the dashboard (WebSocket upgrade included) and the webhook (POST /events only) over TLS."""

from __future__ import annotations

import http.client
import shutil
import ssl
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.compose import TLS_PROXY_CONFIG
from tests.infra.credentials import write_self_signed_certificate
from tests.infra.nginx import AuthMode, NginxProcess
from tests.infra.process import LOOPBACK, ManagedProcess, free_port, tls_handshake_ok, wait_until
from tests.infra.templates import PRODUCTION_MARKERS, substitute

pytestmark = pytest.mark.stack


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class Upstream:
    """A plain HTTP server on loopback that answers 200 ``upstream`` to anything and records what it saw."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                upstream.seen.append(Seen(self.command, self.path, dict(self.headers.items()), body))
                self.send_response(200)
                self.send_header("Content-Length", "8")
                self.end_headers()
                self.wfile.write(b"upstream")

            do_GET = do_POST = _answer  # noqa: N815 - http.server's names

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        self._server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def host(self) -> str:
        return f"{LOOPBACK}:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    yield server
    server.close()


@pytest.fixture
def prefix() -> Iterator[Path]:
    """A directory nginx's workers (nobody, when the tests run as root) can enter; tmp_path is 0700."""
    path = Path(tempfile.mkdtemp(prefix="regaudit-deploy-nginx-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _request(port: int, context: ssl.SSLContext, method: str, path: str, **kwargs: Any) -> tuple[int, bytes]:
    connection = http.client.HTTPSConnection(LOOPBACK, port, context=context, timeout=10)
    try:
        connection.request(method, path, **kwargs)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.mark.parametrize("auth", ["nginx", "registry"])
def test_the_registry_proxy_answers_its_health_check_without_logging_it(
    prefix: Path, upstream: Upstream, auth: AuthMode
) -> None:
    # NginxProcess renders deploy/nginx/nginx.conf and runs `nginx -t` before it starts nginx.
    with NginxProcess(prefix, upstream.host, auth=auth, users={"alice": "pw"}) as nginx:
        context = nginx.ssl_context()
        assert _request(nginx.port, context, "GET", "/healthz") == (200, b"ok\n")
        status, _ = _request(nginx.port, context, "GET", "/v2/")

        assert status == (401 if auth == "nginx" else 200)
        # nginx writes the line once the response is sent: wait for it, then check it is the only one.
        assert wait_until(lambda: nginx.access_log_entries() != [], timeout=5)
        assert [entry["uri"] for entry in nginx.access_log_entries()] == ["/v2/"]
    assert [seen.path for seen in upstream.seen] == ([] if auth == "nginx" else ["/v2/"])


@dataclass
class TlsProxy:
    dashboard_port: int
    webhook_port: int
    context: ssl.SSLContext
    access_log: Path


@pytest.fixture
def tls_proxy(prefix: Path) -> Iterator[tuple[TlsProxy, Upstream, Upstream]]:
    dashboard, webhook = Upstream(), Upstream()
    certificate = write_self_signed_certificate(prefix / "tls")
    (prefix / "logs").mkdir()
    cache = prefix / "cache"
    cache.mkdir()
    dashboard_port, webhook_port = free_port(), free_port()
    replacements = {
        "pid /var/run/nginx.pid;": f"pid {prefix / 'nginx.pid'};",
        "error_log /var/log/nginx/error.log warn;": f"error_log {prefix / 'logs' / 'error.log'} warn;",
        "access_log /var/log/nginx/access.log combined;": f"access_log {prefix / 'logs' / 'access.log'} combined;",
        "ssl_certificate /etc/nginx/tls/tls-proxy.crt;": f"ssl_certificate {certificate.cert_path};",
        "ssl_certificate_key /etc/nginx/tls/tls-proxy.key;": f"ssl_certificate_key {certificate.key_path};",
        "server dashboard:8501;": f"server {dashboard.host};",
        "server webhook:8081;": f"server {webhook.host};",
        "listen 8501 ssl;": f"listen {LOOPBACK}:{dashboard_port} ssl;",
        "listen 8443 ssl;": f"listen {LOOPBACK}:{webhook_port} ssl;",
        **{
            f"{kind}_temp_path /var/cache/nginx/{name};": f"{kind}_temp_path {cache / name};"
            for kind, name in [("client_body", "client_temp")]
            + [(kind, f"{kind}_temp") for kind in ("proxy", "fastcgi", "uwsgi", "scgi")]
        },
    }
    # Every production address and path must be replaced; substitute() refuses a config where one is left.
    config = prefix / "tls-proxy.conf"
    forbidden = (*PRODUCTION_MARKERS, "dashboard:8501")
    config.write_text(
        substitute(TLS_PROXY_CONFIG.read_text(), replacements, source=str(TLS_PROXY_CONFIG), forbidden=forbidden)
    )

    argv = ["nginx", "-p", str(prefix), "-c", str(config), "-e", str(prefix / "logs" / "error.log")]
    checked = subprocess.run([*argv, "-t", "-q"], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr
    process = ManagedProcess("tls-proxy", [*argv, "-g", "daemon off;"], log_path=prefix / "logs" / "out.log")
    context = ssl.create_default_context(cafile=str(certificate.ca_cert_path))
    process.start(lambda: tls_handshake_ok(LOOPBACK, dashboard_port, context))
    try:
        yield TlsProxy(dashboard_port, webhook_port, context, prefix / "logs" / "access.log"), dashboard, webhook
    finally:
        process.stop()
        dashboard.close()
        webhook.close()


def test_tls_proxy_serves_the_dashboard_with_the_websocket_upgrade(
    tls_proxy: tuple[TlsProxy, Upstream, Upstream],
) -> None:
    proxy, dashboard, _ = tls_proxy
    headers = {"Upgrade": "websocket", "Connection": "Upgrade"}

    assert _request(proxy.dashboard_port, proxy.context, "GET", "/_stcore/stream", headers=headers) == (
        200,
        b"upstream",
    )
    seen = dashboard.seen[-1]
    assert (seen.path, seen.headers["Upgrade"], seen.headers["Connection"]) == (
        "/_stcore/stream",
        "websocket",
        "upgrade",
    )
    assert seen.headers["X-Forwarded-Proto"] == "https"
    assert wait_until(lambda: "/_stcore/stream" in proxy.access_log.read_text(), timeout=5)


def test_tls_proxy_passes_only_notification_posts_to_the_webhook(
    tls_proxy: tuple[TlsProxy, Upstream, Upstream],
) -> None:
    proxy, _, webhook = tls_proxy
    body = b'{"events": []}'
    headers = {"Authorization": "Bearer t0ken", "Content-Type": "application/vnd.docker.distribution.events.v1+json"}

    for path in ("/events", "/events/registry-eu"):
        assert _request(proxy.webhook_port, proxy.context, "POST", path, body=body, headers=headers)[0] == 200
    assert _request(proxy.webhook_port, proxy.context, "GET", "/events")[0] == 403
    assert _request(proxy.webhook_port, proxy.context, "GET", "/metrics")[0] == 404
    assert _request(proxy.webhook_port, proxy.context, "GET", "/healthz")[0] == 200

    posts = [seen for seen in webhook.seen if seen.method == "POST"]
    assert [(seen.path, seen.body, seen.headers["Authorization"]) for seen in posts] == [
        ("/events", body, "Bearer t0ken"),
        ("/events/registry-eu", body, "Bearer t0ken"),
    ]
    assert [seen.path for seen in webhook.seen if seen.method == "GET"] == ["/healthz"]
