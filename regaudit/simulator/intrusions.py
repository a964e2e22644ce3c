"""Incidents only the proxy sees (family ``proxy``): password guessing, spraying, probing, and audit gaps.

Failed Basic auth and nginx ``deny`` answers never reach the registry, so these incidents have access lines
and no events; an audit gap is the reverse (the registry served requests whose events it then lost in a
crash). Nginx denies ``security/*`` to everyone outside the security team, the scanner and production.
"""

from __future__ import annotations

from random import Random

from regaudit.simulator import flows
from regaudit.simulator.exchanges import Exchange
from regaudit.simulator.identities import Actor, docker_agent
from regaudit.simulator.incidents import Injector, make_label
from regaudit.simulator.primitives import public_address
from regaudit.simulator.sessions import Client, Session
from regaudit.simulator.world import Runner, World, human_client

GUESSED_USERS = ("admin", "root", "registry", "ci", "deploy", "jenkins", "gitlab-ci", "test", "docker", "dev")
GUESSED_REPOS = (
    "admin/secrets",
    "internal/vault",
    "infra/terraform-state",
    "prod/config",
    "finance/ledger",
    "hr/payroll",
    "backup/db",
    "ops/credentials",
    "private/keys",
    "legacy/app",
    "corp/website",
    "k8s/admin",
)
ATTACK_AGENTS = ("python-requests/2.31.0", "Go-http-client/1.1", "curl/8.4.0", "Hydra v9.5")


def attacker_session(world: World, rng: Random, start: int) -> Session:
    address = public_address(rng)
    agent = rng.choice((*ATTACK_AGENTS, docker_agent(rng)))
    return world.session(rng, Client("", address, address, agent, "tool", header_bytes=160 + len(agent)), start)


def plan_audit_gaps(injector: Injector) -> None:
    """Planned first, so that every other incident keeps an hour away from the lost events."""
    for _ in range(injector.count()):
        moment = injector.moment(hours=(10.0, 16.0))
        if moment is not None:
            source = injector.rng.choice(("registry-0:5000", "registry-1:5000"))
            injector.crash(source, moment, injector.rng.uniform(3.0, 10.0))


def plan_brute_force(injector: Injector) -> None:
    names = [actor.name for actor in injector.world.population.by_role("human")]
    for _ in range(injector.count()):
        moment = injector.moment(hours=(0.0, 24.0), weekday=None)
        if moment is not None:
            injector.schedule(moment, _guess(injector.rng.choice(names)))


def _guess(user: str) -> Runner:
    def run(world: World, rng: Random, start: int) -> list[Exchange]:
        session = attacker_session(world, rng, start)
        session.challenge()
        for _ in range(rng.randint(20, 60)):
            session.rejected("/v2/", user)
            session.wait(rng.uniform(0.5, 12.0))
        address = session.client.remote_addr
        world.labels.append(
            make_label(
                "brute_force",
                address,
                session.exchanges,
                address=address,
                detail=f"{address} guessed {user}'s password",
            )
        )
        return session.exchanges

    return run


def plan_password_spray(injector: Injector) -> None:
    for _ in range(injector.count()):
        moment = injector.moment(hours=(0.0, 24.0), weekday=None)
        if moment is not None:
            injector.schedule(moment, _spray())


def _spray() -> Runner:
    def run(world: World, rng: Random, start: int) -> list[Exchange]:
        session = attacker_session(world, rng, start)
        known = [actor.name for actor in world.population.by_role("human", "ci")]
        users = rng.sample(known, min(len(known), rng.randint(8, 20))) + rng.sample(GUESSED_USERS, rng.randint(3, 8))
        rng.shuffle(users)
        session.challenge()
        for user in users:
            for _ in range(rng.choice((1, 1, 2))):
                session.rejected("/v2/", user)
                session.wait(rng.uniform(5.0, 60.0))
        address = session.client.remote_addr
        world.labels.append(
            make_label(
                "password_spray",
                address,
                session.exchanges,
                address=address,
                detail=f"{address} tried {len(users)} user names",
            )
        )
        return session.exchanges

    return run


def plan_probing(injector: Injector) -> None:
    pool = [actor for actor in injector.humans() if not actor.team.startswith("security")]
    for _ in range(injector.count()):
        actor, moment = injector.pick(pool), injector.moment()
        if actor is not None and moment is not None:
            injector.schedule(moment, _probe(actor))


def _probe(actor: Actor) -> Runner:
    """A valid user tries repositories it may not read (nginx 403) or that do not exist (404)."""

    def run(world: World, rng: Random, start: int) -> list[Exchange]:
        session = world.session(rng, human_client(actor, rng, rng.random() < 0.5), start)
        session.challenge()
        restricted = [repo.name for repo in world.organisation.repos.values() if repo.restricted]
        targets = restricted + rng.sample(GUESSED_REPOS, rng.randint(8, len(GUESSED_REPOS)))
        rng.shuffle(targets)
        for name in targets:
            tag = rng.choice(("latest", "main", "prod"))
            if name in world.organisation.repos:
                session.forbidden(f"/v2/{name}/manifests/{tag}")
            else:
                flows.missing(session, "GET", name, tag, repo_exists=False)
            session.wait(rng.uniform(0.5, 15.0))
        world.labels.append(
            make_label(
                "authorization_probing",
                actor.name,
                session.exchanges,
                identity=actor.name,
                address=session.client.remote_addr,
                detail=f"{actor.name} probed {len(targets)} repositories",
            )
        )
        return session.exchanges

    return run
