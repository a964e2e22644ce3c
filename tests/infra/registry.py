"""The CNCF Distribution registry (Debian ``docker-registry``) started from ``deploy/registry/*.yml``.

:class:`RegistryProcess` renders the production config into its own directory (own storage root, free
loopback ports, the notification endpoint it was given) and runs ``docker-registry serve``. With an htpasswd
file it uses ``config-htpasswd.yml`` and checks passwords itself; without one, anyone may call it, which is
how it runs behind nginx's ``auth_basic``. ``binary`` runs another build of the registry on the same config,
e.g. Distribution 3.x built by ``.ci/install-registry-v3.sh``.
"""

from __future__ import annotations

import json
import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.infra.process import LOOPBACK, ManagedProcess, ProcessStartError, free_port, http_status
from tests.infra.templates import REGISTRY_CONFIG, REGISTRY_HTPASSWD_CONFIG, TOKEN_PLACEHOLDER, render

_START_ATTEMPTS = 3  # a free port can be taken between choosing it and the registry binding it


@dataclass(frozen=True)
class NotificationEndpoint:
    """Where the registry POSTs its events, and the bearer token it sends along."""

    url: str
    token: str


class RegistryProcess:
    """One ``docker-registry serve`` with a fresh storage root under ``workdir``."""

    def __init__(
        self,
        workdir: Path,
        notification: NotificationEndpoint,
        *,
        htpasswd: Path | None = None,
        binary: str = "docker-registry",
    ):
        self.workdir = workdir
        self.binary = binary
        self.notification = notification
        self.htpasswd = htpasswd
        self.storage_root = workdir / "storage"
        self.config_path = workdir / "config.yml"
        self.log_path = workdir / "registry.log"
        self.port = 0
        self.debug_port = 0
        self._process: ManagedProcess | None = None
        workdir.mkdir(parents=True, exist_ok=True)
        self.storage_root.mkdir(exist_ok=True)

    @property
    def notification_url(self) -> str:
        return self.notification.url

    @property
    def host(self) -> str:
        """``127.0.0.1:<port>``, the address nginx proxies to."""
        return f"{LOOPBACK}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    @property
    def debug_url(self) -> str:
        return f"http://{LOOPBACK}:{self.debug_port}"

    def start(self) -> RegistryProcess:
        for attempt in range(1, _START_ATTEMPTS + 1):
            if self.port == 0 or attempt > 1:
                self.port, self.debug_port = free_port(), free_port()
                self._write_config()
            try:
                self._launch()
                return self
            except ProcessStartError as error:
                if "address already in use" not in str(error) or attempt == _START_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")

    def stop(self) -> None:
        """SIGTERM: the registry exits at once (no drain timeout is set), dropping queued events."""
        if self._process is not None:
            self._process.stop()

    def kill(self) -> None:
        """SIGKILL, like a crash: events still queued in memory are lost."""
        if self._process is not None:
            self._process.kill()

    def restart(self) -> RegistryProcess:
        """Stop and start again on the same ports and storage (the registry gets a new ``instanceID``)."""
        self.stop()
        self._launch()
        return self

    def running(self) -> bool:
        return self._process is not None and self._process.running()

    def debug_vars(self) -> dict[str, Any]:
        """The registry's ``/debug/vars`` (expvar), which holds the notification queue counters."""
        with urllib.request.urlopen(f"{self.debug_url}/debug/vars", timeout=5) as response:
            return dict(json.load(response))

    def __enter__(self) -> RegistryProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _write_config(self) -> None:
        template = REGISTRY_CONFIG if self.htpasswd is None else REGISTRY_HTPASSWD_CONFIG
        replacements = {
            "addr: :5000": f"addr: {LOOPBACK}:{self.port}",
            "addr: :5001": f"addr: {LOOPBACK}:{self.debug_port}",
            "rootdirectory: /var/lib/registry": f"rootdirectory: {self.storage_root}",
            "url: http://webhook:8081/events": f"url: {self.notification.url}",
            TOKEN_PLACEHOLDER: self.notification.token,
        }
        if self.htpasswd is not None:
            replacements["path: /etc/docker/registry/htpasswd"] = f"path: {self.htpasswd}"
        render(template, replacements, self.config_path)

    def _launch(self) -> None:
        # Distribution lets REGISTRY_* variables override the file; none from the caller's shell may leak in.
        env = {key: value for key, value in os.environ.items() if not key.startswith("REGISTRY_")}
        self._process = ManagedProcess(
            Path(self.binary).name,
            [self.binary, "serve", str(self.config_path)],
            log_path=self.log_path,
            env=env,
        )
        self._process.start(lambda: http_status(LOOPBACK, self.port, "/v2/") in (200, 401))
