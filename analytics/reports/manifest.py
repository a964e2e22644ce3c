"""``manifest.json``: what a report directory holds and covers, signed with Ed25519.

The manifest lists every file of the directory but itself and its signature (name, bytes, SHA-256, media type and,
for tables, the row count), with the period, the scope, the queries and their parameters, the totals, the software
versions, the store's chain head and the outcome of the chain check. It is written as UTF-8 JSON with two-space
indentation and a final newline; ``manifest.sig`` holds the 64-byte Ed25519 signature of exactly those bytes, and
``signer.pub.pem`` the public key (an auditor compares its fingerprint, ``signer.public_key_sha256``, with the one
they were given). ``SHA256SUMS`` repeats the checksums in the format ``sha256sum -c`` reads.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from regaudit.analytics.reports.exports import MEDIA_TYPES
from regaudit.evidence import signing

FORMAT = "regaudit-report/1"
MANIFEST, SIGNATURE, PUBLIC_KEY, SUMS = "manifest.json", "manifest.sig", "signer.pub.pem", "SHA256SUMS"


@dataclass(frozen=True)
class FileEntry:
    name: str
    bytes: int
    sha256: str
    media_type: str
    rows_count: int | None = None

    def as_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"name": self.name, "bytes": self.bytes, "sha256": self.sha256}
        entry["media_type"] = self.media_type
        if self.rows_count is not None:
            entry["rows_count"] = self.rows_count
        return entry


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def describe(path: Path, rows_count: int | None = None) -> FileEntry:
    suffix = path.suffix.lstrip(".") or "txt"
    return FileEntry(path.name, path.stat().st_size, sha256_file(path), MEDIA_TYPES.get(suffix, "text/plain"),
                     rows_count)  # fmt: skip


def write_sums(directory: Path, files: list[FileEntry]) -> FileEntry:
    """SHA256SUMS in ``sha256sum`` format (two spaces, then the name), sorted by name."""
    lines = "".join(f"{f.sha256}  {f.name}\n" for f in sorted(files, key=lambda f: f.name))
    path = directory / SUMS
    path.write_text(lines, encoding="utf-8")
    return describe(path)


def encode(manifest: dict[str, Any]) -> bytes:
    return (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def write_signed(directory: Path, manifest: dict[str, Any], key: Ed25519PrivateKey | None) -> bytes:
    """Write manifest.json and, with a key, manifest.sig; returns the manifest's bytes."""
    data = encode(manifest)
    (directory / MANIFEST).write_bytes(data)
    if key is not None:
        (directory / SIGNATURE).write_bytes(key.sign(data))
    return data


def signer_section(key: Ed25519PrivateKey | None, directory: Path) -> tuple[dict[str, Any] | None, FileEntry | None]:
    """Write signer.pub.pem; the manifest's ``signer`` section and the file's entry (none when unsigned)."""
    if key is None:
        return None, None
    public = key.public_key()
    path = directory / PUBLIC_KEY
    path.write_bytes(signing.public_pem(public))
    section = {
        "algorithm": "Ed25519",
        "public_key_sha256": signing.fingerprint(public),
        "public_key_file": PUBLIC_KEY,
        "signature_file": SIGNATURE,
        "signed": MANIFEST,
    }
    return section, describe(path)
