"""The SQL functions detections share: networks, client families, tag classes, globs, signature tags."""

from __future__ import annotations

import duckdb
import pytest

from regaudit.analytics import functions

HEX = "0123456789abcdef" * 4


@pytest.mark.parametrize(
    ("addr", "cidrs", "inside"),
    [
        ("10.8.3.4", ["10.8.0.0/16"], True),
        ("10.9.3.4", ["10.8.0.0/16"], False),
        ("2001:db8::5", ["2001:db8::/32"], True),
        ("[2001:db8::5]", ["10.0.0.0/8", "2001:db8::/32"], True),
        ("not-an-ip", ["10.0.0.0/8"], False),
        (None, ["10.0.0.0/8"], False),
        ("10.8.3.4", [], False),
    ],
)
def test_in_networks(addr: str | None, cidrs: list[str], inside: bool) -> None:
    assert functions.in_networks(addr, cidrs) is inside


def test_network_of_prefers_the_narrowest_configured_network_then_the_slash_24() -> None:
    cidrs = ["10.0.0.0/8", "10.8.0.0/16"]
    assert functions.network_of("10.8.3.4", cidrs) == "10.8.0.0/16"
    assert functions.network_of("10.9.3.4", cidrs) == "10.0.0.0/8"
    assert functions.network_of("203.0.113.77", cidrs) == "203.0.113.0/24"
    assert functions.network_of("2001:db8:1:2:3::9", []) == "2001:db8:1:2::/64"
    assert functions.network_of(None, cidrs) is None


@pytest.mark.parametrize(
    ("user_agent", "family", "kind"),
    [
        ("containerd/v1.7.20", "containerd", "runtime"),
        ("docker/27.3.1 go/go1.22.7 git-commit/41ca978 kernel/6.8 os/linux arch/amd64", "docker", "runtime"),
        ("buildkit/v0.16.0", "buildkit", "runtime"),
        ("cri-o/1.30.4 go/go1.22.5 os/linux arch/amd64", "cri-o", "runtime"),
        ("skopeo/1.9.3", "skopeo", "tool"),
        ("crane/0.20.2 go-containerregistry/0.20.2", "crane", "tool"),
        ("curl/8.5.0", "curl", "tool"),
        ("python-requests/2.32.3", "python-requests", "tool"),
        ("Go-http-client/1.1", "go-http-client", "tool"),
        ("Mozilla/5.0", "other", "other"),
    ],
)
def test_client_family_and_kind(user_agent: str, family: str, kind: str) -> None:
    assert functions.client_family(user_agent) == family
    assert functions.client_kind(user_agent) == kind


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        (f"sha256-{HEX}.sig", "signature"),
        (f"sha256-{HEX}.att", "signature"),
        (f"sha256-{HEX}.sbom", "signature"),
        (f"sha256-{HEX}", "referrer"),
        ("prod-eu", "protected"),
        ("v1.4.2", "release"),
        ("1.0", "release"),
        ("2.0.0-rc.1", "release"),
        ("latest", "latest"),
        ("main", "mutable"),
        ("build-1234", "mutable"),
    ],
)
def test_tag_class(tag: str, expected: str) -> None:
    assert functions.tag_class(tag, [r"^prod-"]) == expected


def test_signed_digest_reads_only_signature_tags() -> None:
    assert functions.signed_digest(f"sha256-{HEX}.sig") == f"sha256:{HEX}"
    assert functions.signed_digest(f"sha256-{HEX}.att") is None
    assert functions.signed_digest("v1") is None


PERSONAL = ["sandbox/{identity}", "sandbox/{identity}/*", "{identity}/*"]


@pytest.mark.parametrize(
    ("repository", "identity", "personal"),
    [
        ("sandbox/alice", "alice", True),
        ("sandbox/alice/scratch", "alice", True),
        ("alice/tools", "alice", True),
        ("alice/tools", "Alice", True),
        ("alice/tools", "alice@example.com", True),
        ("sandbox/bob", "alice", False),
        ("alice2/tools", "alice", False),
        ("sandbox", "alice", False),
        ("team/app", "alice", False),
        ("ab/tools", "a*", False),
        ("a*/tools", "a*", True),
        ("alice/tools", None, False),
        (None, "alice", False),
    ],
)
def test_personal_repository_fills_in_the_pushing_identity(
    repository: str | None, identity: str | None, personal: bool
) -> None:
    assert functions.personal_repository(repository, identity, PERSONAL) is personal


def test_personal_repository_needs_the_placeholder() -> None:
    assert functions.personal_repository("sandbox/alice", "alice", ["sandbox/*"]) is False
    assert functions.personal_repository("sandbox/alice", "alice", []) is False


def test_functions_are_callable_from_sql_with_nulls_and_empty_lists() -> None:
    con = duckdb.connect()
    functions.register(con)
    row = con.execute(
        "SELECT in_networks(NULL, $empty), network_of('10.1.2.3', $empty), client_family(NULL),"
        " tag_class('v1.0', $empty), glob_any('prod/api', $globs), signed_digest(NULL),"
        " personal_repository('sandbox/alice', 'alice', $personal), personal_repository('x', NULL, $personal)",
        {"empty": [], "globs": ["prod/*"], "personal": PERSONAL},
    ).fetchone()
    assert row == (False, "10.1.2.0/24", None, "release", True, None, True, False)
