"""Incidents on the pull side (family ``anomalous_pull``) and misused credentials (``stale_credential``).

Each ``plan_*`` queues its kind's incidents; each runner makes the traffic and appends the label. The stolen
or misused credential keeps its usual user agent unless the kind is about the client, so that one incident is
one finding.
"""

from __future__ import annotations

from random import Random

from regaudit.simulator import flows
from regaudit.simulator.catalog import Repository
from regaudit.simulator.exchanges import Exchange
from regaudit.simulator.identities import Actor
from regaudit.simulator.incidents import Injector, make_label
from regaudit.simulator.organisation import PROD_EU, PROD_US, STAGING, VPN
from regaudit.simulator.primitives import address_in, public_address
from regaudit.simulator.sessions import Client, Session
from regaudit.simulator.world import Runner, World, human_client, runner_client

TOOL_AGENTS = ("curl/8.5.0", "python-requests/2.32.3", "skopeo/1.13.3")


def usual_repos(world: World, actor: Actor) -> list[Repository]:
    """Repositories the actor pulls in normal traffic, with a ``latest`` tag."""
    repos = world.organisation.repos
    names = (
        actor.interests if actor.interests else [r.name for r in world.organisation.team_repos(actor.team, "service")]
    )
    return [repos[name] for name in names if repos[name].kind != "sandbox" and "latest" in repos[name].tags]


def usual_session(world: World, rng: Random, actor: Actor, start: int, user_agent: str | None = None) -> Session:
    """A session from the actor's usual place (the VPN for people, a runner for robots)."""
    client = human_client(actor, rng, True) if actor.role == "human" else runner_client(actor, rng)
    if user_agent is not None:
        client.user_agent, client.style = user_agent, "tool"
    session = world.session(rng, client, start)
    session.challenge()
    return session


def client_at(actor: Actor, address: str, rng: Random) -> Client:
    client = Client(actor.name, address, address, actor.user_agent, actor.client)
    client.header_bytes, client.bandwidth = 150 + len(actor.user_agent), rng.uniform(20e6, 90e6)
    return client


def plan_mass_pull(injector: Injector) -> None:
    for _ in range(injector.count()):
        actor, moment = injector.pick(injector.humans()), injector.moment()
        if actor is not None and moment is not None:
            injector.schedule(moment, _mass_pull(actor))


def _mass_pull(actor: Actor) -> Runner:
    def run(world: World, rng: Random, start: int) -> list[Exchange]:
        session = usual_session(world, rng, actor, start)
        pool = [
            r
            for r in world.organisation.repos.values()
            if r.kind != "sandbox" and not r.restricted and "latest" in r.tags
        ]
        for repo in rng.sample(pool, min(len(pool), rng.randint(25, 45))):
            flows.pull(session, repo, "latest", actor.cache)
            session.wait(rng.uniform(3, 30))
        world.labels.append(
            make_label(
                "mass_pull",
                actor.name,
                session.exchanges,
                identity=actor.name,
                detail=f"{actor.name} pulled most of the registry within the hour",
            )
        )
        return session.exchanges

    return run


def plan_new_network(injector: Injector) -> None:
    for _ in range(injector.count()):
        actor = injector.pick(injector.humans() if injector.rng.random() < 0.7 else injector.ci())
        moment = injector.moment()
        if actor is not None and moment is not None:
            injector.schedule(moment, _from_elsewhere(actor))


def _from_elsewhere(actor: Actor) -> Runner:
    def run(world: World, rng: Random, start: int) -> list[Exchange]:
        address = public_address(rng)
        session = world.session(rng, client_at(actor, address, rng), start)
        session.challenge()
        for repo in rng.sample(usual_repos(world, actor), 1):
            flows.pull(session, repo, "latest", None)
        world.labels.append(
            make_label(
                "new_network",
                actor.name,
                session.exchanges,
                identity=actor.name,
                address=address,
                also=("stale_credential/dormant_robot_external",),  # credential.first_external_use: right too
                detail=f"{actor.name} used from {address}",
            )
        )
        return session.exchanges

    return run


def plan_new_client(injector: Injector) -> None:
    for _ in range(injector.count()):
        actor = injector.pick(injector.humans() if injector.rng.random() < 0.6 else injector.ci())
        moment = injector.moment()
        if actor is not None and moment is not None:
            injector.schedule(moment, _new_client(actor, injector.rng.choice(TOOL_AGENTS)))


def _new_client(actor: Actor, agent: str) -> Runner:
    def run(world: World, rng: Random, start: int) -> list[Exchange]:
        session = usual_session(world, rng, actor, start, agent)
        for repo in rng.sample(usual_repos(world, actor), 1):
            flows.pull(session, repo, "latest", None)
        world.labels.append(
            make_label(
                "new_client",
                actor.name,
                session.exchanges,
                identity=actor.name,
                detail=f"{actor.name} used with {agent}",
            )
        )
        return session.exchanges

    return run


def plan_anonymous_pull(injector: Injector) -> None:
    for _ in range(injector.count()):
        moment = injector.moment(hours=(0.0, 24.0), weekday=None)
        if moment is not None:
            injector.schedule(moment, _anonymous_pull())


def _anonymous_pull() -> Runner:
    """An unauthenticated client in the pod network talks to a replica directly, past nginx's auth."""

    def run(world: World, rng: Random, start: int) -> list[Exchange]:
        pool = [r for r in world.organisation.of_kind("service", "tool") if "latest" in r.tags]
        repo = rng.choice(pool)
        address = address_in(rng, rng.choice((PROD_EU, PROD_US, STAGING, VPN)))
        agent = rng.choice(("Go-http-client/1.1", "curl/8.5.0"))
        client = Client("", address, address, agent, "tool", proxied=False)
        session = world.session(rng, client, start)
        flows.pull(session, repo, "latest", None)
        world.labels.append(
            make_label(
                "anonymous_pull",
                repo.name,
                session.exchanges,
                repository=repo.name,
                address=address,
                detail=f"anonymous pull of {repo.name} past nginx",
            )
        )
        return session.exchanges

    return run


def plan_enumeration(injector: Injector) -> None:
    for _ in range(injector.count()):
        actor, moment = injector.pick(injector.humans()), injector.moment()
        if actor is not None and moment is not None:
            injector.schedule(moment, _enumerate(actor))


def _enumerate(actor: Actor) -> Runner:
    def run(world: World, rng: Random, start: int) -> list[Exchange]:
        session = usual_session(world, rng, actor, start)
        flows.catalog(session, sorted(world.organisation.repos), page=rng.choice((50, 100)))
        pool = [r for r in world.organisation.repos.values() if not r.restricted]
        for repo in rng.sample(pool, min(len(pool), rng.randint(25, 50))):
            flows.list_tags(session, repo)
            latest = flows.resolve(session, repo, "latest")
            if latest is not None and rng.random() < 0.3:
                flows.manifest(session, "HEAD", repo, "latest", latest)
            session.wait(rng.uniform(0.2, 4))
        world.labels.append(
            make_label(
                "enumeration",
                actor.name,
                session.exchanges,
                identity=actor.name,
                detail=f"{actor.name} listed the catalog and the tags of many repositories",
            )
        )
        return session.exchanges

    return run


def plan_large_egress(injector: Injector) -> None:
    for _ in range(injector.count()):
        actor = injector.pick([a for a in injector.humans() if not a.team.startswith("ml")])
        moment = injector.moment(hours=(9.5, 14.0))
        if actor is not None and moment is not None:
            injector.schedule(moment, _egress(actor))


def _image_bytes(repo: Repository) -> int:
    return sum(blob.size for blob in repo.tags["latest"].platform_manifests[0].blobs())


def _egress(actor: Actor) -> Runner:
    """Every version of the heaviest images, downloaded again and again (no layer cache)."""

    def run(world: World, rng: Random, start: int) -> list[Exchange]:
        session = usual_session(world, rng, actor, start)
        heavy = sorted(
            (r for r in world.organisation.repos.values() if "latest" in r.tags and not r.restricted),
            key=_image_bytes,
            reverse=True,
        )[:2]
        for repo in heavy:
            for tag in [t for t in repo.tags if not t.endswith(".sig")][-8:]:
                flows.pull(session, repo, tag, None)
                session.wait(rng.uniform(5, 60))
        world.labels.append(
            make_label(
                "large_egress",
                actor.name,
                session.exchanges,
                identity=actor.name,
                detail=f"{actor.name} downloaded every version of the largest images",
            )
        )
        return session.exchanges

    return run
