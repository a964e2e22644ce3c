"""Ed25519 keys and signatures for report manifests and purge checkpoints.

The private key is a PEM file (PKCS#8, unencrypted, mode 0600) named by ``reports.signing_key_path``; its public
half is written beside it as ``<name>.pub.pem`` by ``generate_key`` (``regaudit report keygen``) and is what an
auditor is given. A key is named by its fingerprint: the SHA-256 of the raw 32-byte public key, in hex.

Errors: ``SigningKeyError`` (terminal) when a key file is missing, unreadable or not Ed25519.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from regaudit.errors import TerminalError


class SigningKeyError(TerminalError):
    """A signing or verification key is missing, unreadable or not an Ed25519 key (names the file)."""


def public_path(private_path: Path) -> Path:
    """Where the public half of a private key file is kept."""
    return private_path.with_name(private_path.name.removesuffix(".pem") + ".pub.pem")


def generate_key(path: Path, overwrite: bool = False) -> Ed25519PrivateKey:
    """Write a new private key (0600) and its public half beside it."""
    if path.exists() and not overwrite:
        raise SigningKeyError(f"{path}: already exists (keeping it; remove it or pass --force)")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    public_path(path).write_bytes(public_pem(key.public_key()))
    return key


def load_private_key(path: Path | None) -> Ed25519PrivateKey:
    """The private key at path; terminal error if there is none."""
    if path is None:
        raise SigningKeyError("no signing key: set reports.signing_key_path (create one with `regaudit report keygen`)")
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as error:
        raise SigningKeyError(f"{path}: cannot read the signing key: {error}") from error
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path}: not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """A public key from a PEM file, or the public half of a private key file."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise SigningKeyError(f"{path}: cannot read the key: {error}") from error
    if b"PRIVATE KEY" in data:
        return load_private_key(path).public_key()
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as error:
        raise SigningKeyError(f"{path}: not a PEM public key: {error}") from error
    if not isinstance(key, Ed25519PublicKey):
        raise SigningKeyError(f"{path}: not an Ed25519 public key")
    return key


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def fingerprint(key: Ed25519PublicKey) -> str:
    """SHA-256 of the raw public key, hex."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def is_valid(key: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    """Whether signature is key's signature of message."""
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    return True
