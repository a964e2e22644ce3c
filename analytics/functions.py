"""Scalar SQL functions the detections share, registered on every connection the runner opens.

They hold the logic that is clearer in Python than in SQL and is unit-tested here once: network membership
(IPv4 and IPv6 CIDRs), the network a client belongs to, the family and kind of a client from its user
agent, the class of a tag, and whether a repository is an identity's own. All are pure and cached; NULL in
gives FALSE or NULL out.

    in_networks(addr, cidrs[])    -> BOOLEAN  addr inside any CIDR
    network_of(addr, cidrs[])     -> VARCHAR  the narrowest configured CIDR holding addr, else its /24 (/64)
    client_family(user_agent)     -> VARCHAR  containerd, docker, buildkit, kubelet, cri-o, podman, skopeo,
                                              crane, curl, python-requests, go-http-client, oras... or other
    client_kind(user_agent)       -> VARCHAR  runtime (pulls to run or build) | tool (scripts) | other
    tag_class(tag, patterns[])    -> VARCHAR  signature | referrer | protected | release | latest | mutable
    glob_any(text, globs[])       -> BOOLEAN  text matches any shell glob (case-sensitive)
    personal_repository(repository, identity, patterns[])
                                  -> BOOLEAN  repository is in identity's own namespace: a pattern with
                                              {identity} filled in (lowercased; for alice@example.com also
                                              alice) matches it as a shell glob
    signed_digest(tag)            -> VARCHAR  sha256:<hex> for a cosign tag sha256-<hex>.sig, else NULL
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Any

import duckdb

#: Name globs of machine identities (robots, CI, deployers, clusters), the default of the detections that judge a
#: machine's credential apart from a person's (``machine_patterns``), besides org.ci_identities and the inventory's
#: robot and token kinds; matched with ``glob_any``.
MACHINE_PATTERNS = (
    "robot$*", "ci-*", "ci_*", "*-ci", "*+ci", "svc-*", "bot-*", "*-bot", "deploy-*", "*-deploy", "k8s-*", "kube-*",
    "*-runner",
)  # fmt: skip
#: The address space an organisation without configured networks calls its own (RFC 1918, RFC 6598 shared
#: address space for carrier-grade NAT and cluster overlays, RFC 4193 unique local IPv6): the default of
#: ``fallback_networks`` where neither org.internal_networks nor org.ci_networks is set.
PRIVATE_NETWORKS = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")


Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: (family, kind, user-agent pattern), first match wins.
CLIENT_FAMILIES: tuple[tuple[str, str, re.Pattern[str]], ...] = tuple(
    (family, kind, re.compile(pattern, re.IGNORECASE))
    for family, kind, pattern in (
        ("buildkit", "runtime", r"^buildkit/"),
        ("kubelet", "runtime", r"kubelet|kubernetes"),
        ("cri-o", "runtime", r"^cri-o/"),
        ("containerd", "runtime", r"^containerd/"),
        ("docker", "runtime", r"^docker/|Docker-Client/"),
        ("podman", "runtime", r"^libpod/|^podman/"),
        ("skopeo", "tool", r"^skopeo/"),
        ("crane", "tool", r"^crane/|go-containerregistry"),
        ("oras", "tool", r"^oras/"),
        ("regctl", "tool", r"^regclient/|^regctl/"),
        ("helm", "tool", r"^helm/"),
        ("curl", "tool", r"^curl/"),
        ("wget", "tool", r"^wget/"),
        ("python-requests", "tool", r"^python-requests/|^python-urllib|^python-httpx/|^aiohttp/"),
        ("go-http-client", "tool", r"^go-http-client/"),
        ("containers-image", "tool", r"containers/image|^containers/"),
    )
)
SIGNATURE_TAG = re.compile(r"^(sha256)-([0-9a-f]{64})\.(sig|att|sbom)$")
REFERRER_TAG = re.compile(r"^sha256-[0-9a-f]{64}$")
RELEASE_TAG = re.compile(r"^v?\d+\.\d+(\.\d+)?([-+][0-9A-Za-z.+-]+)?$")
#: Stands for the pushing identity in ``org.personal_repositories`` patterns.
IDENTITY_PLACEHOLDER = "{identity}"


@lru_cache(maxsize=256)
def _networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


@lru_cache(maxsize=65536)
def _address(addr: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(addr.strip("[]"))
    except ValueError:
        return None


def in_networks(addr: str | None, cidrs: Sequence[str] | None) -> bool:
    ip = _address(addr) if addr else None
    if ip is None or not cidrs:
        return False
    return any(ip in network for network in _networks(tuple(cidrs)) if network.version == ip.version)


def network_of(addr: str | None, cidrs: Sequence[str] | None) -> str | None:
    if not addr:
        return None
    ip = _address(addr)
    if ip is None:
        return addr
    holding = [n for n in _networks(tuple(cidrs or ())) if n.version == ip.version and ip in n]
    if holding:
        return str(max(holding, key=lambda network: network.prefixlen))
    prefix = 24 if ip.version == 4 else 64
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


@lru_cache(maxsize=4096)
def _client(user_agent: str) -> tuple[str, str]:
    for family, kind, pattern in CLIENT_FAMILIES:
        if pattern.search(user_agent):
            return family, kind
    return "other", "other"


def client_family(user_agent: str | None) -> str | None:
    return _client(user_agent)[0] if user_agent else None


def client_kind(user_agent: str | None) -> str | None:
    return _client(user_agent)[1] if user_agent else None


@lru_cache(maxsize=256)
def _patterns(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(pattern) for pattern in patterns)


def tag_class(tag: str | None, patterns: Sequence[str] | None) -> str | None:
    if tag is None:
        return None
    if SIGNATURE_TAG.match(tag):
        return "signature"
    if REFERRER_TAG.match(tag):
        return "referrer"
    if any(pattern.search(tag) for pattern in _patterns(tuple(patterns or ()))):
        return "protected"
    if RELEASE_TAG.match(tag):
        return "release"
    return "latest" if tag == "latest" else "mutable"


def glob_any(text: str | None, globs: Sequence[str] | None) -> bool:
    return text is not None and any(fnmatchcase(text, glob) for glob in globs or ())


def _glob_literal(text: str) -> str:
    """``text`` as a glob that matches only itself: *, ? and [ in an identity are not wildcards."""
    return re.sub(r"([*?\[])", r"[\1]", text)


@lru_cache(maxsize=65536)
def _personal(repository: str, identity: str, patterns: tuple[str, ...]) -> bool:
    lowered = identity.lower()
    names = {lowered, lowered.split("@")[0]} - {""}
    return any(
        fnmatchcase(repository, pattern.replace(IDENTITY_PLACEHOLDER, _glob_literal(name)))
        for pattern in patterns
        if IDENTITY_PLACEHOLDER in pattern
        for name in names
    )


def personal_repository(repository: str | None, identity: str | None, patterns: Sequence[str] | None) -> bool:
    """Whether ``repository`` lies in ``identity``'s own namespace (``sandbox/{identity}``, ``{identity}/*``).

    Registry repository names are lowercase, identities often are not (``Alice``) or carry a domain
    (``alice@example.com``, whose namespace is ``alice``): both forms are tried. A pattern without the
    placeholder names nobody's namespace and matches nothing (settings refuse one)."""
    if not repository or not identity or not patterns:
        return False
    return _personal(repository, identity, tuple(patterns))


def signed_digest(tag: str | None) -> str | None:
    match = SIGNATURE_TAG.match(tag) if tag else None
    return f"{match[1]}:{match[2]}" if match and match[3] == "sig" else None


_VARCHAR = duckdb.sqltype("VARCHAR")
_VARCHARS = duckdb.list_type(_VARCHAR)
_BOOLEAN = duckdb.sqltype("BOOLEAN")
FUNCTIONS: tuple[tuple[str, Callable[..., Any], list[Any], Any], ...] = (
    ("in_networks", in_networks, [_VARCHAR, _VARCHARS], _BOOLEAN),
    ("network_of", network_of, [_VARCHAR, _VARCHARS], _VARCHAR),
    ("client_family", client_family, [_VARCHAR], _VARCHAR),
    ("client_kind", client_kind, [_VARCHAR], _VARCHAR),
    ("tag_class", tag_class, [_VARCHAR, _VARCHARS], _VARCHAR),
    ("glob_any", glob_any, [_VARCHAR, _VARCHARS], _BOOLEAN),
    ("personal_repository", personal_repository, [_VARCHAR, _VARCHAR, _VARCHARS], _BOOLEAN),
    ("signed_digest", signed_digest, [_VARCHAR], _VARCHAR),
)


def register(con: duckdb.DuckDBPyConnection) -> None:
    """Make every function above callable from SQL on ``con``."""
    for name, function, argument_types, return_type in FUNCTIONS:
        # "special": the functions see NULLs themselves. The string works on every DuckDB >= 1.3, whose stubs
        # want the enum that moved from duckdb.functional to duckdb.func.
        con.create_function(name, function, argument_types, return_type, null_handling="special")  # type: ignore[call-overload]
