"""Misused and stale credentials (family ``stale_credential``): dormant ones waking up, expired ones still in
use, one password used from many networks, and inventory rows never used or never rotated.

The credentials that only exist for these incidents are added to the population (and so to the inventory) by
the planners; normal traffic never uses them.
"""

from __future__ import annotations

from random import Random

from regaudit.simulator import flows
from regaudit.simulator.attacks import client_at, usual_repos
from regaudit.simulator.exchanges import Exchange
from regaudit.simulator.identities import Actor, docker_agent
from regaudit.simulator.incidents import Injector, Watch, make_label
from regaudit.simulator.model import KIND_FAMILY, Label
from regaudit.simulator.organisation import CI_NETWORKS, VPN
from regaudit.simulator.primitives import DAY, MINUTE, NS, address_in, public_address, to_datetime
from regaudit.simulator.world import Runner, World


def plan_dormant(injector: Injector) -> None:
    world, rng = injector.world, injector.rng
    for number in range(injector.count()):
        team = rng.choice(world.organisation.teams).name
        if number % 2 == 0:
            actor = Actor(
                f"robot${team}+legacy-{rng.choice(('deploy', 'sync', 'mirror'))}{number}",
                "robot",
                "dormant",
                team,
                "skopeo/1.13.3",
                "tool",
                CI_NETWORKS,
            )
        else:
            actor = Actor(f"ext.contractor{number}", "user", "dormant", team, docker_agent(rng), "docker", (VPN,))
        actor.created_ns = world.start_ns - rng.randint(200, 700) * DAY
        actor.rotated_ns = world.start_ns - rng.randint(120, 330) * DAY
        actor.expires_ns = world.end_ns + rng.randint(60, 300) * DAY if actor.kind == "robot" else None
        moment = injector.moment(first_day=max(injector.warmup, int(injector.days * 0.6)))
        if moment is not None:
            world.population.add(actor)
            injector.schedule(moment, _wake(actor))


def _wake(actor: Actor) -> Runner:
    def run(world: World, rng: Random, start: int) -> list[Exchange]:
        address = address_in(rng, actor.networks[0])
        session = world.session(rng, client_at(actor, address, rng), start)
        session.challenge()
        for repo in rng.sample(usual_repos(world, actor), min(2, len(usual_repos(world, actor)))):
            flows.pull(session, repo, "latest", None)
        world.labels.append(
            make_label(
                "dormant_credential",
                actor.name,
                session.exchanges,
                identity=actor.name,
                detail=f"{actor.name}, unused for months, pulled again",
            )
        )
        return session.exchanges

    return run


def plan_many_addresses(injector: Injector) -> None:
    for _ in range(injector.count()):
        actor, moment = injector.pick(injector.humans()), injector.moment()
        if actor is not None and moment is not None:
            injector.schedule(moment, _shared(actor))


def _shared(actor: Actor) -> Runner:
    """A leaked password used from five to eight internet networks within ten minutes (of one quarter hour)."""

    def run(world: World, rng: Random, start: int) -> list[Exchange]:
        exchanges: list[Exchange] = []
        moment = start - start % (15 * MINUTE) + rng.randrange(10 * NS, 60 * NS)
        for _ in range(rng.randint(5, 8)):
            session = world.session(rng, client_at(actor, public_address(rng), rng), moment)
            session.challenge()
            repo = rng.choice(usual_repos(world, actor))
            flows.pull(session, repo, "latest", None)
            exchanges += session.exchanges
            moment += rng.randrange(20 * NS, 80 * NS)
        world.labels.append(
            make_label(
                "credential_many_addresses",
                actor.name,
                exchanges,
                identity=actor.name,
                also=("anomalous_pull/new_network",),
                detail=f"{actor.name} used from several networks at once",
            )
        )
        return exchanges

    return run


def plan_expired(injector: Injector) -> None:
    """Deploy tokens that expire mid-window and keep polling (nginx's htpasswd knows no expiry)."""
    world, rng = injector.world, injector.rng
    last = injector.days - 6
    for _ in range(injector.count()):
        actor = injector.pick([a for a in world.population.by_role("deploy") if a.name not in injector.used])
        if actor is None or last <= injector.warmup:
            return
        actor.expires_ns = world.start_ns + rng.randint(injector.warmup, last) * DAY + rng.randrange(DAY)
        injector.watches.append(Watch(actor, actor.expires_ns))


def _inventory_label(kind: str, actor: Actor, start_ns: int, end_ns: int, detail: str) -> Label:
    return Label(KIND_FAMILY[kind], kind, actor.name, to_datetime(start_ns), to_datetime(end_ns),
                 identity=actor.name, detail=detail)  # fmt: skip


def plan_never_used(injector: Injector) -> None:
    """Inventory rows nobody uses: old pipelines' robots, tokens, people who left (some already expired)."""
    world, rng = injector.world, injector.rng
    for number in range(injector.count() + 2):
        team = rng.choice(world.organisation.teams).name
        kind, name = rng.choice(
            (("robot", f"robot${team}+old-pipeline{number}"), ("token", f"token-{team}-{number}"),
             ("user", f"former.employee{number}"))
        )  # fmt: skip
        actor = world.population.add(Actor(name, kind, "unused", team, "", "tool", ()))  # type: ignore[arg-type]
        actor.created_ns = world.start_ns - rng.randint(30, 900) * DAY
        actor.expires_ns = world.start_ns - rng.randint(1, 200) * DAY if rng.random() < 0.4 else None
        detail = f"{name} is in the inventory and never used"
        world.labels.append(_inventory_label("never_used_credential", actor, actor.created_ns, world.end_ns, detail))


def plan_unrotated(injector: Injector) -> None:
    """Credentials in daily use whose secret was last rotated more than a year ago."""
    world, rng = injector.world, injector.rng
    for _ in range(injector.count()):
        actor = injector.pick(injector.humans() if rng.random() < 0.6 else injector.ci())
        if actor is None:
            continue
        rotated = world.start_ns - rng.randint(400, 900) * DAY
        actor.rotated_ns = rotated
        actor.created_ns = min(actor.created_ns, rotated - rng.randint(30, 400) * DAY)
        detail = f"{actor.name} was last rotated over a year ago"
        label = _inventory_label("unrotated_credential", actor, rotated + 365 * DAY, world.end_ns, detail)
        world.labels.append(label)
