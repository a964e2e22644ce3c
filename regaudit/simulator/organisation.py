"""The simulated organisation: teams, networks and repositories, with the history they had before the window.

Networks (all made up):

    10.10.0.0/16  office; laptops reach nginx through the egress proxy 10.10.0.5, which sets X-Forwarded-For
    10.8.0.0/16   VPN
    10.20.0.0/16, 10.21.0.0/16  CI runner pools
    10.30.0.0/16  security tooling (the vulnerability scanner)
    10.64.0.0/16, 10.65.0.0/16, 10.66.0.0/16  production EU, production US and staging cluster nodes
    10.40.0.0/24  the registry's pods: nginx 10.40.0.2, replicas 10.40.0.10-12
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from random import Random

from regaudit.simulator.catalog import (
    Manifest,
    Repository,
    build_image,
    build_signature,
    signature_tag,
)
from regaudit.simulator.primitives import DAY, NS

OFFICE = "10.10.0.0/16"
OFFICE_PROXY = "10.10.0.5"
VPN = "10.8.0.0/16"
CI_NETWORKS = ("10.20.0.0/16", "10.21.0.0/16")
TOOLS = "10.30.0.0/16"
PROD_EU, PROD_US, STAGING = "10.64.0.0/16", "10.65.0.0/16", "10.66.0.0/16"
NGINX_POD = "10.40.0.2"
INTERNAL_NETWORKS = (OFFICE, VPN, TOOLS, PROD_EU, PROD_US, STAGING)
HOST = "registry.example.com"
TIMEZONE = "Europe/Berlin"
BUSINESS_HOURS = (8.0, 19.0)

TEAM_NAMES = (
    "payments",
    "checkout",
    "search",
    "identity",
    "platform",
    "data",
    "ml",
    "web",
    "mobile",
    "notifications",
    "observability",
    "security",
)
SERVICE_NAMES = (
    "api",
    "worker",
    "gateway",
    "scheduler",
    "ledger",
    "indexer",
    "frontend",
    "backend",
    "sync",
    "exporter",
    "consumer",
    "router",
    "billing",
    "renderer",
    "ingest",
    "auth",
)
BASES = (
    ("python", "3.12", 1.0),
    ("golang", "1.23", 0.6),
    ("node", "22", 1.0),
    ("java", "21-jre", 1.6),
    ("distroless", "static", 0.2),
    ("cuda", "12.6", 40.0),
)


@dataclass(slots=True)
class Team:
    name: str
    ci_style: str
    services: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Organisation:
    teams: list[Team]
    repos: dict[str, Repository]

    def of_kind(self, *kinds: str) -> list[Repository]:
        return [repo for repo in self.repos.values() if repo.kind in kinds]

    def team_repos(self, team: str, *kinds: str) -> list[Repository]:
        return [repo for repo in self.repos.values() if repo.team == team and repo.kind in kinds]


def _team_names(count: int) -> list[str]:
    names = list(TEAM_NAMES[:count])
    extra = 0
    while len(names) < count:
        extra += 1
        names.extend(f"{name}{extra + 1}" for name in TEAM_NAMES[: count - len(names)])
    return names


def build_organisation(rng: Random, scale: float, start_ns: int) -> Organisation:
    """Teams and their repositories, each with a plausible history of builds, releases and signatures."""
    count = max(4, round(len(TEAM_NAMES) * scale))
    names = _team_names(count)
    if "platform" not in names:
        names[0] = "platform"
    teams = [Team(name, "robot" if index % 2 == 0 else "ci") for index, name in enumerate(names)]
    repos: dict[str, Repository] = {}
    for name, version, weight in BASES:
        repos[f"base/{name}"] = Repository(
            f"base/{name}",
            "platform",
            "base",
            production=True,
            multi_arch=True,
            weight=weight,
            flavour=version,
        )
    bases = [name for name in repos if not name.endswith("cuda")]
    for team in teams:
        _add_team_repos(rng, team, repos, bases)
    for name in ("cli", "agent"):
        repos[f"public/{name}"] = Repository(
            f"public/{name}", "platform", "public", multi_arch=True, base="base/distroless", weight=0.5
        )
    for name in ("ci-runner", "migrate", "debug-shell"):
        repos[f"tools/{name}"] = Repository(f"tools/{name}", "platform", "tool", base="base/golang", signed_share=0.5)
    organisation = Organisation(teams, repos)
    for repo in repos.values():
        _seed_history(rng, organisation, repo, start_ns)
    return organisation


def _add_team_repos(rng: Random, team: Team, repos: dict[str, Repository], bases: list[str]) -> None:
    services = rng.sample(SERVICE_NAMES, rng.randint(2, 4))
    restricted = team.name.startswith("security")
    for service in services:
        name = f"{team.name}/{service}"
        base = "base/cuda" if team.name.startswith("ml") and service != "api" else rng.choice(bases)
        repos[name] = Repository(
            name,
            team.name,
            "service",
            production=rng.random() < 0.85,
            restricted=restricted,
            multi_arch=rng.random() < 0.2,
            oci=rng.random() < 0.6,
            base=base,
            weight=8.0 if base == "base/cuda" else rng.uniform(0.5, 2.0),
        )
        team.services.append(name)
    repos[f"{team.name}/sandbox"] = Repository(
        f"{team.name}/sandbox", team.name, "sandbox", base=rng.choice(bases), restricted=restricted
    )


def _seed_history(rng: Random, organisation: Organisation, repo: Repository, start_ns: int) -> None:
    """What the repository held before the window: releases (signed), ``latest``, ``main``, base tags."""
    if repo.kind == "sandbox":
        return
    base = organisation.repos[repo.base].tags.get("latest") if repo.base else None
    if repo.kind == "base":
        for days_back in (3, 2, 1):
            image = build_image(repo, rng, None)
            tag = base_tag(repo, start_ns - days_back * DAY)
            repo.store(image, tag)
            repo.releases.append(tag)
        repo.store(image, "latest")
        return
    repo.version = [rng.randint(1, 3), rng.randint(0, 9), 0]
    for _ in range(rng.randint(3, 6)):
        image = build_image(repo, rng, base)
        tag = repo.next_version(rng)
        repo.store(image, tag)
        repo.store(image, "latest")
        repo.releases.append(tag)
        if repo.production or rng.random() < repo.signed_share:
            sign(repo, rng, image)
    if repo.kind in ("service", "tool"):
        image = build_image(repo, rng, base)
        repo.store(image, "main")
        sign(repo, rng, image)


def base_tag(repo: Repository, ns: int) -> str:
    """The immutable dated tag of a nightly base build, e.g. ``3.12-20250301``."""
    return f"{repo.flavour}-{time.strftime('%Y%m%d', time.gmtime(ns // NS))}"


def sign(repo: Repository, rng: Random, subject: Manifest) -> Manifest:
    """Attach (or append) a cosign signature to ``subject`` in place; returns the new ``.sig`` manifest."""
    signature = build_signature(rng, repo.signatures.get(subject.digest))
    repo.signatures[subject.digest] = signature
    repo.store(signature, signature_tag(subject.digest))
    return signature
