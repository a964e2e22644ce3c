"""Thin wrappers over the ``skopeo`` CLI (Debian ``skopeo``) for pushing, pulling, copying and deleting.

Every call returns a :class:`SkopeoResult` and raises only when asked (``check=True``): a refused push is
something the tests assert on. Nothing is retried (skopeo's ``--retry-times`` stays 0), signature policy is
off (``--insecure-policy``), and credentials come only from the arguments: without ``creds`` the call is
anonymous, so no auth file of the machine is read.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.infra.oci import BuiltImage, BuiltIndex

Credentials = tuple[str, str]
_TIMEOUT = 120.0


class SkopeoError(RuntimeError):
    """A skopeo call that the caller required to succeed failed; the message holds its stderr."""


@dataclass(frozen=True)
class SkopeoResult:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def check(self) -> SkopeoResult:
        if not self.ok:
            raise SkopeoError(f"{' '.join(self.argv)} exited {self.returncode}:\n{self.stderr}")
        return self


class Skopeo:
    """skopeo against one registry (``host:port``), trusting ``cert_dir``, or without TLS verification."""

    def __init__(self, registry_host: str, *, cert_dir: Path | None = None, timeout: float = _TIMEOUT):
        self.registry_host = registry_host
        self.cert_dir = cert_dir
        self.timeout = timeout

    def ref(self, repository: str, reference: str) -> str:
        """``docker://host/repo:tag`` or ``docker://host/repo@sha256:...``."""
        separator = "@" if ":" in reference else ":"
        return f"docker://{self.registry_host}/{repository}{separator}{reference}"

    # -- copy in all its forms ------------------------------------------------------------------------------
    def copy(
        self,
        source: str,
        destination: str,
        *,
        src_creds: Credentials | None = None,
        dest_creds: Credentials | None = None,
        all_images: bool = False,
        check: bool = False,
    ) -> SkopeoResult:
        """``skopeo copy source destination``; the TLS and creds flags go to whichever side is ``docker://``."""
        argv = ["copy", "--retry-times", "0"]
        if all_images:
            argv.append("--all")
        argv += self._side_flags("src", source, src_creds) + self._side_flags("dest", destination, dest_creds)
        return self._run([*argv, source, destination], check=check)

    def push(
        self,
        image: BuiltImage | BuiltIndex,
        repository: str,
        tag: str,
        creds: Credentials | None,
        *,
        check: bool = False,
    ) -> SkopeoResult:
        """Push an OCI layout image (or, with every platform, an index) to ``repository:tag``."""
        return self.copy(
            image.reference,
            self.ref(repository, tag),
            dest_creds=creds,
            all_images=isinstance(image, BuiltIndex),
            check=check,
        )

    def pull(
        self,
        repository: str,
        reference: str,
        destination: str,
        creds: Credentials | None,
        *,
        all_images: bool = False,
        check: bool = False,
    ) -> SkopeoResult:
        """Pull ``repository`` by tag or digest to ``destination`` (``oci:<dir>:<tag>`` or ``dir:<dir>``)."""
        source = self.ref(repository, reference)
        return self.copy(source, destination, src_creds=creds, all_images=all_images, check=check)

    def copy_within(
        self,
        source: tuple[str, str],
        destination: tuple[str, str],
        creds: Credentials | None,
        *,
        check: bool = False,
    ) -> SkopeoResult:
        """Copy ``(repo, ref)`` to ``(repo, tag)`` on this registry: skopeo mounts the blobs it can."""
        return self.copy(self.ref(*source), self.ref(*destination), src_creds=creds, dest_creds=creds, check=check)

    # -- other commands -------------------------------------------------------------------------------------
    def inspect(
        self,
        repository: str,
        reference: str,
        creds: Credentials | None,
        *,
        raw: bool = True,
        check: bool = False,
    ) -> SkopeoResult:
        """``skopeo inspect``: ``raw`` prints the stored manifest; otherwise it also GETs config and tags."""
        argv = ["inspect", *(["--raw"] if raw else []), *self._side_flags("", "docker://", creds)]
        return self._run([*argv, self.ref(repository, reference)], check=check)

    def delete(
        self, repository: str, reference: str, creds: Credentials | None, *, check: bool = False
    ) -> SkopeoResult:
        """``skopeo delete``: by tag it resolves the digest first, then deletes the manifest by digest."""
        argv = ["delete", *self._side_flags("", "docker://", creds), self.ref(repository, reference)]
        return self._run(argv, check=check)

    # -- plumbing -------------------------------------------------------------------------------------------
    def _side_flags(self, side: str, location: str, creds: Credentials | None) -> list[str]:
        if not location.startswith("docker://"):
            return []
        dash = f"--{side}-" if side else "--"
        flags = [f"{dash}creds", f"{creds[0]}:{creds[1]}"] if creds else [f"{dash}no-creds"]
        if self.cert_dir is not None:
            flags += [f"{dash}cert-dir", str(self.cert_dir)]
        else:
            flags.append(f"{dash}tls-verify=false")
        return flags

    def _run(self, argv: list[str], *, check: bool) -> SkopeoResult:
        full = ["skopeo", "--insecure-policy", *argv]
        completed = subprocess.run(full, capture_output=True, text=True, timeout=self.timeout)
        result = SkopeoResult(tuple(full), completed.returncode, completed.stdout, completed.stderr)
        return result.check() if check else result
