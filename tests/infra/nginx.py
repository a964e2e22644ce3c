"""nginx (Debian ``nginx``) started from ``deploy/nginx/nginx.conf`` in front of a test registry.

:class:`NginxProcess` renders the production config into a private prefix (TLS certificate, htpasswd, logs,
temp directories and pid file all inside it), checks it with ``nginx -t`` and runs nginx in the foreground.
``auth="nginx"`` mounts ``auth-basic.conf`` (nginx checks the passwords, the registry has no auth);
``auth="registry"`` mounts ``auth-off.conf`` (the registry checks them, nginx terminates TLS and logs).
"""

from __future__ import annotations

import json
import os
import ssl
import stat
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from tests.infra.credentials import ServerCertificate, write_htpasswd, write_self_signed_certificate
from tests.infra.process import LOOPBACK, ManagedProcess, ProcessStartError, free_port, tls_handshake_ok
from tests.infra.templates import NGINX_AUTH_BASIC, NGINX_AUTH_OFF, NGINX_CONFIG, render

AuthMode = Literal["nginx", "registry"]
_START_ATTEMPTS = 3
_TEMP_PATHS = [
    ("client_body", "client_temp"),
    *[(kind, f"{kind}_temp") for kind in ("proxy", "fastcgi", "uwsgi", "scgi")],
]


class NginxProcess:
    """One nginx master (and its workers) with everything under ``prefix``.

    When the tests run as root, nginx runs its workers as ``nobody`` (the config has no ``user`` directive,
    as in production), so ``prefix`` and its parents must be searchable by others: a directory made with
    ``tempfile.mkdtemp`` and opened to mode 0755 works, pytest's ``tmp_path`` (mode 0700) does not.
    """

    def __init__(
        self,
        prefix: Path,
        upstream: str,
        *,
        auth: AuthMode,
        users: Mapping[str, str] | None = None,
        certificate: ServerCertificate | None = None,
    ):
        if auth == "nginx" and not users:
            raise ValueError("auth='nginx' needs the users for the htpasswd file")
        self.prefix = prefix
        self.upstream = upstream
        self.auth = auth
        self.config_path = prefix / "conf" / "nginx.conf"
        self.access_log_path = prefix / "logs" / "registry.json"
        self.error_log_path = prefix / "logs" / "error.log"
        self.htpasswd_path = prefix / "conf" / "registry.htpasswd"
        self.port = 0
        self._process: ManagedProcess | None = None
        for directory in (prefix, prefix / "conf", prefix / "logs", prefix / "cache"):
            directory.mkdir(parents=True, exist_ok=True)
        _check_searchable_by_workers(prefix)
        self.certificate = certificate or write_self_signed_certificate(prefix / "tls")
        if auth == "nginx" and users:
            write_htpasswd(self.htpasswd_path, users)

    @property
    def host(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @property
    def url(self) -> str:
        return f"https://{self.host}"

    @property
    def ca_cert_path(self) -> Path:
        return self.certificate.ca_cert_path

    @property
    def cert_dir(self) -> Path:
        """A directory holding only the CA certificate, for ``skopeo --dest-cert-dir``/``--src-cert-dir``."""
        return self.certificate.cert_dir

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_cert_path))

    def start(self) -> NginxProcess:
        for attempt in range(1, _START_ATTEMPTS + 1):
            self.port = free_port()
            self._write_config()
            self._check_config()
            try:
                self._launch()
                return self
            except ProcessStartError as error:
                if "Address already in use" not in str(error) or attempt == _START_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop()

    def kill(self) -> None:
        if self._process is not None:
            self._process.kill()

    def running(self) -> bool:
        return self._process is not None and self._process.running()

    def access_log_entries(self) -> list[dict[str, Any]]:
        """Every complete access-log line so far, parsed as JSON (a line that is not JSON raises)."""
        if not self.access_log_path.exists():
            return []
        *complete, _partial = self.access_log_path.read_text().split("\n")
        return [json.loads(line) for line in complete]

    def __enter__(self) -> NginxProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _write_config(self) -> None:
        auth_snippet = self.prefix / "conf" / "registry-auth.conf"
        cache, tls = self.prefix / "cache", self.certificate
        moves = [  # (directive, production value, test value)
            ("pid", "/var/run/nginx.pid;", f"{self.prefix / 'nginx.pid'};"),
            ("error_log", "/var/log/nginx/error.log", str(self.error_log_path)),
            *[(f"{kind}_temp_path", f"/var/cache/nginx/{name};", f"{cache / name};") for kind, name in _TEMP_PATHS],
            ("access_log", "/var/log/nginx/registry.json ", f"{self.access_log_path} "),
            ("server", "registry:5000;", f"{self.upstream};"),
            ("listen", "443 ssl;", f"{LOOPBACK}:{self.port} ssl;"),
            ("ssl_certificate", "/etc/nginx/tls/registry.crt;", f"{tls.cert_path};"),
            ("ssl_certificate_key", "/etc/nginx/tls/registry.key;", f"{tls.key_path};"),
            ("include", "/etc/nginx/registry-auth.conf;", f"{auth_snippet};"),
        ]
        render(NGINX_CONFIG, {f"{d} {old}": f"{d} {new}" for d, old, new in moves}, self.config_path)
        if self.auth == "nginx":
            directive = "auth_basic_user_file"
            htpasswd = {f"{directive} /etc/nginx/registry.htpasswd;": f"{directive} {self.htpasswd_path};"}
            render(NGINX_AUTH_BASIC, htpasswd, auth_snippet)
        else:
            render(NGINX_AUTH_OFF, {}, auth_snippet)

    def _argv(self, *extra: str) -> list[str]:
        prefix, config, error_log = str(self.prefix), str(self.config_path), str(self.error_log_path)
        return ["nginx", "-p", prefix, "-c", config, "-e", error_log, *extra]

    def _check_config(self) -> None:
        result = subprocess.run(self._argv("-t", "-q"), capture_output=True, text=True)
        if result.returncode != 0:
            raise ProcessStartError(f"nginx -t refused {self.config_path}:\n{result.stderr}")

    def _launch(self) -> None:
        self._process = ManagedProcess(
            "nginx", self._argv("-g", "daemon off;"), log_path=self.prefix / "logs" / "nginx.out"
        )
        context = self.ssl_context()
        self._process.start(lambda: tls_handshake_ok(LOOPBACK, self.port, context))

    def log_tail(self) -> str:
        return self.error_log_path.read_text(errors="replace") if self.error_log_path.exists() else ""


def _check_searchable_by_workers(prefix: Path) -> None:
    if os.geteuid() != 0:
        return  # the workers run as the same user as the tests
    for directory in (prefix.resolve(), *prefix.resolve().parents):
        if not directory.stat().st_mode & stat.S_IXOTH:
            raise ValueError(
                f"nginx workers run as nobody and cannot enter {directory} (mode "
                f"{stat.filemode(directory.stat().st_mode)}); use a prefix under a 0755 directory"
            )
