"""Access control: who is logged in and with which role, the local users file, and password hashing.

Two roles: a *viewer* sees every page; an *analyst* may also change a finding's status. In demo mode everyone
is the analyst ``demo``; with OpenID Connect the provider says who the user is, the allow-lists say whether they
get in at all (deny by default) and the users file (or ``oidc_default_role``) the role; otherwise the users file
holds each user's scrypt hash.

Users file: one ``name:role:hash`` a line, ``#`` starts a comment; the hash is
``scrypt$<n>$<r>$<p>$<salt>$<key>`` (salt and key base64), from ``hashlib.scrypt`` with a random 16-byte salt,
compared in constant time. An OIDC user is listed by e-mail with an empty hash and cannot log in locally.
Names cannot hold ``:`` or whitespace.

User names are case-insensitive: ``user_key`` (Unicode NFKC, case-folded, surrounding whitespace stripped) is
the one key for the users file, the login throttle (``throttle.py``) and OIDC e-mails, so ``" Ana"``,
``"ana\t"`` and the full-width ``"ａｎａ"`` are the same user everywhere, and two file entries that differ only
that way are refused. The name shown and stored with a status change is the one the file spells. The
Streamlit side of logging in is ``login.py``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import unicodedata
from collections.abc import Iterable, Mapping
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


def user_key(name: str) -> str:
    """The one normalized form of a user name or e-mail, for lookups and for counting failures."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold()).strip()


@dataclass(frozen=True)
class UserEntry:
    name: str
    role: Role
    password_hash: str


def parse_users(text: str, origin: str = "users file") -> dict[str, UserEntry]:
    """The entries of a users file by ``user_key``; a malformed or repeated line is an error naming its line."""
    users: dict[str, UserEntry] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, _, rest = line.partition(":")
        role, _, password_hash = rest.partition(":")
        if not _NAME.match(name) or role not in ROLES:
            raise ValueError(f"{origin}:{number}: expected name:role:hash with role one of {ROLES}")
        if user_key(name) in users:
            raise ValueError(f"{origin}:{number}: {name} is listed twice (user names ignore case)")
        users[user_key(name)] = UserEntry(name, role, password_hash)
    return users


def load_users(path: Path | None) -> dict[str, UserEntry]:
    if path is None or not path.exists():
        return {}
    return parse_users(path.read_text(encoding="utf-8"), str(path))


def add_user(path: Path, name: str, role: Role, password: str | None) -> UserEntry:
    """Add or replace one user in the file (created with mode 0600); no password makes an OIDC role entry."""
    if not _NAME.match(name) or not _NAME.match(user_key(name)):
        raise ValueError(f"user names cannot be empty or hold ':' or whitespace: {name!r}")
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")
    entry = UserEntry(name, role, hash_password(password) if password else "")
    users = {**load_users(path), user_key(name): entry}
    lines = ["# regaudit dashboard users: name:role:scrypt-hash (written by `regaudit dashboard add-user`)"]
    lines += [f"{u.name}:{u.role}:{u.password_hash}" for u in users.values()]
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return entry


def authenticate(users: dict[str, UserEntry], name: str, password: str) -> Principal | None:
    """The principal for a correct name and password, else None (an unknown name costs the same time).

    ``name`` is looked up by ``user_key``, as the throttle counts it."""
    entry = users.get(user_key(name))
    ok = verify_password(password, entry.password_hash if entry and entry.password_hash else _DUMMY_HASH)
    if entry is None or not entry.password_hash or not ok:
        return None
    return Principal(entry.name, entry.role, "local")


@dataclass(frozen=True)
class OidcAccess:
    """Who may log in with OIDC besides the e-mails the users file lists, and the role of whom it does not."""

    allowed_subjects: frozenset[str] = frozenset()
    allowed_emails: frozenset[str] = frozenset()
    allowed_domains: frozenset[str] = frozenset()
    default_role: Role = "viewer"

    @classmethod
    def of(cls, users: Iterable[str], domains: Iterable[str], default_role: Role) -> OidcAccess:
        """From ``oidc_allowed_users`` (an entry with ``@`` is an e-mail, compared by ``user_key``; any other a
        subject, compared exactly: subjects are the provider's opaque, case-sensitive ids) and the domains."""
        entries = [entry.strip() for entry in users if entry.strip()]
        return cls(
            allowed_subjects=frozenset(entry for entry in entries if "@" not in entry),
            allowed_emails=frozenset(user_key(entry) for entry in entries if "@" in entry),
            allowed_domains=frozenset(user_key(domain).removeprefix("@") for domain in domains),
            default_role=default_role,
        )


def verified_email(claims: Mapping[str, object]) -> str | None:
    """The ``user_key`` of the e-mail claim when the provider marks it verified, else None.

    Some providers send ``email_verified`` as the string ``"true"``; one that does not send it at all (Microsoft
    Entra ID) gets no e-mail match and lists its users by subject."""
    flag = claims.get("email_verified")
    verified = flag is True or (isinstance(flag, str) and flag.strip().lower() == "true")
    email = user_key(str(claims.get("email") or ""))
    return email if verified and "@" in email else None


def oidc_principal(users: dict[str, UserEntry], claims: Mapping[str, object], access: OidcAccess) -> Principal | None:
    """The principal for someone the provider authenticated, or None when nothing lists them (deny by default).

    Admitted: a listed subject, a listed verified e-mail, a verified e-mail in the users file or one whose
    domain is listed. The role comes from the users file by verified e-mail only, else the
    default role; the name is the verified e-mail, else the subject."""
    subject = str(claims.get("sub") or "")
    email = verified_email(claims)
    listed = users.get(email) if email else None
    admitted = (
        listed is not None
        or (bool(subject) and subject in access.allowed_subjects)
        or (
            email is not None and (email in access.allowed_emails or email.rpartition("@")[2] in access.allowed_domains)
        )
    )
    if not admitted:
        return None
    return Principal(email or subject, listed.role if listed else access.default_role, "oidc")
