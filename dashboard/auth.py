"""Access control: who is logged in and with which role, the local users file, and password hashing.

Two roles: a *viewer* sees every page; an *analyst* may also change a finding's status. In demo mode everyone
is the analyst ``demo``; with OpenID Connect the provider says who the user is and the users file (or
``oidc_default_role``) the role; otherwise the users file holds each user's scrypt hash.

Users file: one ``name:role:hash`` a line, ``#`` starts a comment; the hash is
``scrypt$<n>$<r>$<p>$<salt>$<key>`` (salt and key base64), from ``hashlib.scrypt`` with a random 16-byte salt,
compared in constant time. An OIDC user is listed by e-mail with an empty hash and cannot log in locally.
Names cannot hold ``:`` or whitespace. The Streamlit side of logging in is ``login.py``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

from regaudit.dashboard.settings import Role

ROLES: tuple[Role, ...] = get_args(Role)
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
_NAME = re.compile(r"^[^:\s]+$")


@dataclass(frozen=True)
class Principal:
    """Someone using the dashboard: their name (shown, and stored with status changes), role and how they
    logged in (demo, oidc or local)."""

    name: str
    role: Role
    via: str

    @property
    def is_analyst(self) -> bool:
        return self.role == "analyst"


def require_analyst(principal: Principal) -> None:
    if not principal.is_analyst:
        raise PermissionError(f"{principal.name} is a {principal.role}; only analysts change a finding's status")


def hash_password(password: str, salt: bytes | None = None) -> str:
    """The ``scrypt$...`` string stored in the users file."""
    if not password:
        raise ValueError("the password is empty")
    salt = salt or os.urandom(16)
    key = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    encoded = [base64.b64encode(part).decode() for part in (salt, key)]
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${encoded[0]}${encoded[1]}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored``; malformed or empty hashes match nothing."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(key, validate=True)
        actual = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt, validate=True),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=256 * 1024 * 1024,
        )
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


_DUMMY_HASH = hash_password("not a password", salt=b"\0" * 16)


@dataclass(frozen=True)
class UserEntry:
    name: str
    role: Role
    password_hash: str


def parse_users(text: str, origin: str = "users file") -> dict[str, UserEntry]:
    """The entries of a users file; a malformed line is an error naming its line."""
    users: dict[str, UserEntry] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, _, rest = line.partition(":")
        role, _, password_hash = rest.partition(":")
        if not _NAME.match(name) or role not in ROLES:
            raise ValueError(f"{origin}:{number}: expected name:role:hash with role one of {ROLES}")
        users[name] = UserEntry(name, role, password_hash)
    return users


def load_users(path: Path | None) -> dict[str, UserEntry]:
    if path is None or not path.exists():
        return {}
    return parse_users(path.read_text(encoding="utf-8"), str(path))


def add_user(path: Path, name: str, role: Role, password: str | None) -> UserEntry:
    """Add or replace one user in the file (created with mode 0600); no password makes an OIDC role entry."""
    if not _NAME.match(name):
        raise ValueError(f"user names cannot be empty or hold ':' or whitespace: {name!r}")
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")
    entry = UserEntry(name, role, hash_password(password) if password else "")
    users = {**load_users(path), name: entry}
    lines = ["# regaudit dashboard users: name:role:scrypt-hash (written by `regaudit dashboard add-user`)"]
    lines += [f"{u.name}:{u.role}:{u.password_hash}" for u in users.values()]
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return entry


class LoginThrottle:
    """Slows password guessing per user name: after ``limit`` failures within ``window`` seconds, that name
    is refused for the rest of the window, whatever the password."""

    def __init__(self, limit: int = 5, window: float = 300.0) -> None:
        self.limit, self.window = limit, window
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def blocked(self, name: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self._lock:
            recent = [t for t in self._failures.get(name, []) if now - t < self.window]
            self._failures[name] = recent
            return len(recent) >= self.limit

    def failed(self, name: str, now: float | None = None) -> None:
        with self._lock:
            self._failures.setdefault(name, []).append(time.monotonic() if now is None else now)

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._failures.pop(name, None)


def authenticate(users: dict[str, UserEntry], name: str, password: str) -> Principal | None:
    """The principal for a correct name and password, else None (an unknown name costs the same time)."""
    entry = users.get(name.strip())
    ok = verify_password(password, entry.password_hash if entry and entry.password_hash else _DUMMY_HASH)
    if entry is None or not entry.password_hash or not ok:
        return None
    return Principal(entry.name, entry.role, "local")


def oidc_principal(users: dict[str, UserEntry], email: str, default_role: Role) -> Principal:
    """An OIDC user, known by e-mail: the role the users file lists for it, else the default role."""
    entry = users.get(email)
    return Principal(email, entry.role if entry else default_role, "oidc")
