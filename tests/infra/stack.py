"""The registry and nginx wired together the two ways production runs them (samples/README.md).

- ``auth="nginx"``: nginx checks the passwords (``auth_basic``) in front of a registry without auth.
- ``auth="registry"``: the registry checks them (htpasswd); nginx only terminates TLS and writes the log.

Both send the registry's notifications to the given endpoint. Clients talk to nginx only (``stack.host``);
:attr:`RegistryStack.skopeo` is set up for that, trusting the stack's self-signed certificate.
``registry_binary`` picks the registry build (Debian's ``docker-registry`` 2.8 unless told otherwise).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from tests.infra.credentials import ServerCertificate, write_htpasswd
from tests.infra.nginx import AuthMode, NginxProcess
from tests.infra.registry import NotificationEndpoint, RegistryProcess
from tests.infra.skopeo import Credentials, Skopeo


class RegistryStack:
    """nginx in front of a fresh registry; a context manager that removes its directory on exit."""

    def __init__(
        self,
        notification: NotificationEndpoint,
        users: Mapping[str, str],
        *,
        auth: AuthMode,
        certificate: ServerCertificate | None = None,
        registry_binary: str = "docker-registry",
    ):
        self.notification = notification
        self.registry_binary = registry_binary
        self.users = dict(users)
        self.auth = auth
        self.workdir: Path | None = None
        self._certificate = certificate
        self._registry: RegistryProcess | None = None
        self._nginx: NginxProcess | None = None

    @property
    def registry(self) -> RegistryProcess:
        if self._registry is None:
            raise RuntimeError("the stack is not started")
        return self._registry

    @property
    def nginx(self) -> NginxProcess:
        if self._nginx is None:
            raise RuntimeError("the stack is not started")
        return self._nginx

    @property
    def host(self) -> str:
        """``127.0.0.1:<port>`` of nginx, the address clients use."""
        return self.nginx.host

    @property
    def url(self) -> str:
        return self.nginx.url

    @property
    def skopeo(self) -> Skopeo:
        return Skopeo(self.nginx.host, cert_dir=self.nginx.cert_dir)

    def creds(self, user: str) -> Credentials:
        return (user, self.users[user])

    def start(self) -> RegistryStack:
        # Not pytest's tmp_path (mode 0700): nginx's workers run as nobody when root runs the tests.
        self.workdir = workdir = Path(tempfile.mkdtemp(prefix=f"regaudit-stack-{self.auth}-"))
        workdir.chmod(0o755)
        try:
            htpasswd = write_htpasswd(workdir / "registry.htpasswd", self.users) if self.auth == "registry" else None
            self._registry = RegistryProcess(
                workdir / "registry", self.notification, htpasswd=htpasswd, binary=self.registry_binary
            ).start()
            self._nginx = NginxProcess(
                workdir / "nginx",
                self._registry.host,
                auth=self.auth,
                users=self.users if self.auth == "nginx" else None,
                certificate=self._certificate,
            ).start()
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Stop nginx and the registry and remove the stack's directory (storage, logs, certificate)."""
        if self._nginx is not None:
            self._nginx.stop()
        if self._registry is not None:
            self._registry.stop()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> RegistryStack:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()
