"""Files with secrets for the test stack, made by the same tools an operator uses.

``htpasswd -B`` (apache2-utils) writes the bcrypt entries that both nginx ``auth_basic`` and the registry's
htpasswd auth read (Distribution accepts bcrypt only); ``openssl req -x509`` makes the self-signed server
certificate for 127.0.0.1 and localhost that clients trust as their CA.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ServerCertificate:
    """A self-signed certificate and key; ``cert_dir`` holds only ``ca.crt``, for ``skopeo --*-cert-dir``."""

    cert_path: Path
    key_path: Path
    cert_dir: Path

    @property
    def ca_cert_path(self) -> Path:
        return self.cert_dir / "ca.crt"


def write_htpasswd(path: Path, users: Mapping[str, str]) -> Path:
    """Write a bcrypt htpasswd file with one entry per user (the file is readable by nginx's workers)."""
    if not users:
        raise ValueError("an htpasswd file needs at least one user")
    path.unlink(missing_ok=True)
    for user, password in users.items():
        flags = "-bB" if path.exists() else "-cbB"
        subprocess.run(["htpasswd", flags, str(path), user, password], check=True, capture_output=True)
    path.chmod(0o644)
    return path


def write_self_signed_certificate(directory: Path) -> ServerCertificate:
    """Make a P-256 self-signed certificate valid for 127.0.0.1 and localhost in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "registry.crt", directory / "registry.key"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", "2", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout", str(key_path), "-out", str(cert_path),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    cert_dir = directory / "certs.d"
    cert_dir.mkdir(exist_ok=True)
    (cert_dir / "ca.crt").write_bytes(cert_path.read_bytes())
    return ServerCertificate(cert_path=cert_path, key_path=key_path, cert_dir=cert_dir)
