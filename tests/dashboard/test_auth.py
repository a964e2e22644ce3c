"""Password hashing, the users file, the login throttle and roles."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from regaudit.dashboard import auth
from regaudit.dashboard.throttle import LoginThrottle


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
    throttle = LoginThrottle(per_user=3, window=60)
    for second in range(3):
        assert not throttle.blocked("ana", "10.0.0.1", now=100 + second)
        throttle.failed("ana", "10.0.0.1", now=100 + second)
    assert throttle.blocked("ana", "10.0.0.2", now=103) == "user"  # from any address
    assert not throttle.blocked("victor", "10.0.0.2", now=103)
    assert not throttle.blocked("ana", "10.0.0.1", now=170)  # the failures aged out
    throttle.failed("ana", "10.0.0.1", now=171)
    throttle.succeeded("ana")
    assert not throttle.blocked("ana", "10.0.0.1", now=172)


@pytest.mark.parametrize("variant", [" ana", "ana ", "\tana", "ANA", "\uff41\uff4e\uff41", "ana\u3000"])
def test_a_user_name_variant_is_the_same_user_for_the_lookup_and_the_throttle(variant: str) -> None:
    users = auth.parse_users(f"ana:analyst:{auth.hash_password('pw')}\n")
    assert auth.authenticate(users, variant, "pw") == auth.Principal("ana", "analyst", "local")
    throttle = LoginThrottle(per_user=3, window=60)
    for name in ("ana", variant, variant.strip()):
        throttle.failed(auth.user_key(name), "10.0.0.1", now=100)
    assert throttle.blocked(auth.user_key("ana"), "10.0.0.9", now=101) == "user"


@given(st.text())
def test_user_key_is_idempotent(name: str) -> None:
    assert auth.user_key(auth.user_key(name)) == auth.user_key(name)


def test_users_differing_only_in_case_or_width_are_refused() -> None:
    with pytest.raises(ValueError, match="users.txt:2: ANA is listed twice"):
        auth.parse_users("ana:viewer:\nANA:analyst:\n", "users.txt")


def test_a_burst_from_one_address_over_many_names_is_throttled() -> None:
    throttle = LoginThrottle(per_user=5, per_address=30, window=300)
    for number in range(30):
        assert not throttle.blocked(f"user{number}", "203.0.113.7", now=100 + number / 10)
        throttle.failed(f"user{number}", "203.0.113.7", now=100 + number / 10)
    assert throttle.blocked("victor", "203.0.113.7", now=104) == "address"
    assert not throttle.blocked("victor", "198.51.100.1", now=104)
    throttle.succeeded("user3")  # a valid account does not clear the address's count
    assert throttle.blocked("victor", "203.0.113.7", now=104) == "address"
    assert not throttle.blocked("victor", "203.0.113.7", now=401)


def test_the_failure_table_never_exceeds_its_bound() -> None:
    throttle = LoginThrottle(per_user=5, per_address=1_000_000, window=300, max_keys=1_000)
    largest = 0
    for number in range(20_000):  # a spray from 200 addresses over 20,000 names
        throttle.failed(f"name{number}", f"198.51.100.{number % 200}", now=100 + number / 1_000)
        largest = max(largest, len(throttle))
    assert largest == 1_000
    assert not throttle.blocked("name0", "192.0.2.1", now=121)
    assert len(throttle) <= 1_000
    throttle.failed("late", "192.0.2.1", now=1_000)  # everything else expired
    assert len(throttle) == 2


def test_roles() -> None:
    auth.require_analyst(auth.Principal("ana", "analyst", "local"))
    with pytest.raises(PermissionError, match="victor is a viewer"):
        auth.require_analyst(auth.Principal("victor", "viewer", "local"))
    users = auth.parse_users("olga@example.com:analyst:\n")
    access = auth.OidcAccess.of([], ["example.com"], "viewer")
    assert auth.oidc_principal(users, verified("Olga@Example.com"), access) == auth.Principal(
        "olga@example.com", "analyst", "oidc"
    )
    assert auth.oidc_principal(users, verified("someone@example.com"), access) == auth.Principal(
        "someone@example.com", "viewer", "oidc"
    )


def verified(email: str, flag: object = True, sub: str = "sub-1") -> dict[str, object]:
    return {"sub": sub, "email": email, "email_verified": flag}


def test_oidc_admits_nobody_by_default() -> None:
    nobody = auth.OidcAccess()
    assert auth.oidc_principal({}, verified("someone@example.com"), nobody) is None
    assert auth.oidc_principal({}, {"sub": "x"}, nobody) is None


@pytest.mark.parametrize("flag", [None, False, "false", "", 1, "yes"])
def test_an_unverified_email_gets_neither_admission_nor_a_role(flag: object) -> None:
    users = auth.parse_users("olga@example.com:analyst:\n")
    access = auth.OidcAccess.of(["olga@example.com"], ["example.com"], "viewer")
    assert auth.oidc_principal(users, verified("olga@example.com", flag), access) is None
    by_subject = auth.OidcAccess.of(["sub-1"], [], "viewer")  # listed by subject: in, but not as olga
    assert auth.oidc_principal(users, verified("olga@example.com", flag), by_subject) == auth.Principal(
        "sub-1", "viewer", "oidc"
    )


def test_oidc_allow_lists_match_subjects_exactly_and_emails_and_domains_by_key() -> None:
    access = auth.OidcAccess.of(["AbC-123", " Ana@Example.org "], ["@Corp.example"], "viewer")
    assert auth.oidc_principal({}, {"sub": "AbC-123"}, access) == auth.Principal("AbC-123", "viewer", "oidc")
    assert auth.oidc_principal({}, {"sub": "abc-123"}, access) is None
    assert auth.oidc_principal({}, verified("ana@example.org", "true"), access) is not None
    assert auth.oidc_principal({}, verified("bob@corp.example"), access) is not None
    assert auth.oidc_principal({}, verified("bob@dev.corp.example"), access) is None
    assert auth.oidc_principal({}, verified("bob@corp.example.evil.com"), access) is None
