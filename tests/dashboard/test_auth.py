"""Password hashing, the users file, the login throttle and roles."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from regaudit.dashboard import auth


def test_a_hash_verifies_its_password_only() -> None:
    stored = auth.hash_password("correct horse")
    assert stored.startswith("scrypt$16384$8$1$")
    assert auth.verify_password("correct horse", stored)
    assert not auth.verify_password("correct horsE", stored)
    assert not auth.verify_password("", stored)
    assert auth.hash_password("correct horse") != stored  # a fresh salt each time


@pytest.mark.parametrize("stored", ["", "plain", "scrypt$1$2$3", "bcrypt$x$y$z$a$b", "scrypt$16384$8$1$!!$!!"])
def test_malformed_hashes_match_nothing(stored: str) -> None:
    assert not auth.verify_password("anything", stored)


def test_empty_passwords_are_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        auth.hash_password("")


def test_the_users_file_is_private_and_add_user_replaces_an_entry(tmp_path: Path) -> None:
    path = tmp_path / "users.txt"
    auth.add_user(path, "ana", "viewer", "first")
    auth.add_user(path, "ana", "analyst", "second")
    auth.add_user(path, "olga@example.com", "analyst", None)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    users = auth.load_users(path)
    assert [(u.name, u.role) for u in users.values()] == [("ana", "analyst"), ("olga@example.com", "analyst")]
    assert auth.authenticate(users, "ana", "second") == auth.Principal("ana", "analyst", "local")
    assert auth.authenticate(users, "ana", "first") is None
    assert auth.authenticate(users, "olga@example.com", "") is None  # an OIDC entry has no password
    assert auth.authenticate(users, "nobody", "second") is None


@pytest.mark.parametrize("name", ["", "a:b", "two words", "tab\there"])
def test_user_names_with_separators_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="user names"):
        auth.add_user(tmp_path / "users.txt", name, "viewer", "pw")


def test_a_malformed_users_file_names_the_line() -> None:
    with pytest.raises(ValueError, match="users.txt:2: expected name:role:hash"):
        auth.parse_users("# comment\nana:admin:scrypt$x\n", "users.txt")
    assert auth.load_users(None) == {}


def test_the_throttle_blocks_a_name_after_repeated_failures_for_a_while() -> None:
    throttle = auth.LoginThrottle(limit=3, window=60)
    for second in range(3):
        assert not throttle.blocked("ana", now=100 + second)
        throttle.failed("ana", now=100 + second)
    assert throttle.blocked("ana", now=103)
    assert not throttle.blocked("victor", now=103)
    assert not throttle.blocked("ana", now=170)  # the failures aged out
    throttle.failed("ana", now=171)
    throttle.succeeded("ana")
    assert not throttle.blocked("ana", now=172)


def test_roles() -> None:
    auth.require_analyst(auth.Principal("ana", "analyst", "local"))
    with pytest.raises(PermissionError, match="victor is a viewer"):
        auth.require_analyst(auth.Principal("victor", "viewer", "local"))
    users = auth.parse_users("olga@example.com:analyst:\n")
    assert auth.oidc_principal(users, "olga@example.com", "viewer").role == "analyst"
    assert auth.oidc_principal(users, "someone@example.com", "viewer") == auth.Principal(
        "someone@example.com", "viewer", "oidc"
    )
