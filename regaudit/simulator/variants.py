"""Incident variants the first thresholds miss (issue 16): one per family, shaped like the independent traffic.

    slow_exfiltration       a person pulls most of the registry, one image at a time, over five to eight hours
    blob_exfiltration       50 blob GETs by digest (leaked digests), over ten GB, no manifest request at all
    egress_burst            a heavy daily puller (a CI robot) downloads big images again and again within an hour
    dormant_robot_external  a robot seen only from its internal host stops for weeks, then resumes at night
                            from an internet address
    protected_tag_by_human  a team member re-pushes a release tag of the team's service, at work, from the office
    habitual_pusher_protected  a Saturday pusher pushes, on a Saturday, to a protected repository
    slow_brute_force        one address guesses one password every two to six minutes for hours (below any
                            per-minute threshold)

Each labels what a finding can name (identity, repository, ``repository:tag``, address) and the incident's
span. The slow exfiltration is one plan per pull, so each pull resolves its tag at its own moment.
"""

from __future__ import annotations

from random import Random

from regaudit.simulator import flows, habits
from regaudit.simulator.attacks import client_at, usual_repos, usual_session
from regaudit.simulator.catalog import Blob, Repository, build_image
from regaudit.simulator.exchanges import Exchange
from regaudit.simulator.identities import Actor
from regaudit.simulator.incidents import Injector, make_label
from regaudit.simulator.intrusions import attacker_session
from regaudit.simulator.organisation import TOOLS
from regaudit.simulator.primitives import DAY, HOUR, MINUTE, address_in, public_address
from regaudit.simulator.tampering import old_releases, overwritable
from regaudit.simulator.world import Runner, World, human_client, runner_client


def plan_slow_exfiltration(injector: Injector) -> None:
    for _ in range(injector.count()):
        actor, moment = injector.pick(injector.humans()), injector.moment(hours=(9.0, 11.0))
        if actor is not None and moment is not None:
            _schedule_slow_pulls(injector, actor, moment)


def _schedule_slow_pulls(injector: Injector, actor: Actor, moment: int) -> None:
    rng, world = injector.rng, injector.world
    pool = [r for r in world.organisation.repos.values() if r.kind in ("service", "tool", "base") and not r.restricted]
    repos = rng.sample(pool, min(len(pool), rng.randint(30, 45)))
    span = rng.uniform(5, 8) * HOUR
    collected: list[Exchange] = []
    for number, repo in enumerate(repos):
        last = number == len(repos) - 1
        at = moment + int(span * number / len(repos)) + rng.randrange(MINUTE)
        injector.schedule(at, _slow_pull(actor, repo, collected, last))


def _slow_pull(actor: Actor, repo: Repository, collected: list[Exchange], last: bool) -> Runner:
    def run(world: World, rng: Random, start: int) -> list[Exchange]:
        session = world.session(rng, human_client(actor, rng, True), start)
        session.challenge()
        if flows.resolve(session, repo, "latest") is not None:
            flows.pull(session, repo, "latest", None)
        collected.extend(session.exchanges)
        if last:
            world.labels.append(
                make_label("slow_exfiltration", actor.name, collected, identity=actor.name,
                           detail=f"{actor.name} pulled most of the registry, one image at a time, over hours")
            )  # fmt: skip
        return session.exchanges

    return run


def _largest_blobs(world: World, count: int) -> list[tuple[Repository, Blob]]:
    found: dict[str, tuple[Repository, Blob]] = {}
    for repo in world.organisation.repos.values():
        if repo.restricted or repo.kind == "personal":
            continue
        for tag in ("latest", "main"):
            image = repo.tags.get(tag)
            for child in image.platform_manifests if image else ():
                found.update((blob.digest, (repo, blob)) for blob in child.layers)
    return sorted(found.values(), key=lambda pair: pair[1].size, reverse=True)[:count]


def plan_blob_exfiltration(injector: Injector) -> None:
    for _ in range(injector.count()):
        actor, moment = injector.pick(injector.humans()), injector.moment()
        if actor is not None and moment is not None:
            injector.schedule(moment, _blob_exfiltration(actor))


def _blob_exfiltration(actor: Actor) -> Runner:
    """Leaked digests: the 25 largest layers, each fetched twice, over about fifty minutes, no manifest."""

    def run(world: World, rng: Random, start: int) -> list[Exchange]:
        session = usual_session(world, rng, actor, start, "Go-http-client/1.1")
        session.client.bandwidth = rng.uniform(80e6, 150e6)
        for repo, item in _largest_blobs(world, 25) * 2:
            flows.blob(session, "GET", repo, item)
            session.wait(rng.uniform(20, 60))
        world.labels.append(
            make_label("blob_exfiltration", actor.name, session.exchanges, identity=actor.name,
                       detail=f"{actor.name} downloaded 50 layers by digest without a manifest request")
        )  # fmt: skip
        return session.exchanges

    return run


def plan_egress_burst(injector: Injector) -> None:
    """The training robots (``habits``): the heaviest pullers every day."""
    trainers = injector.world.population.by_role("trainer")
    for _ in range(min(injector.count(), len(trainers))):
        actor, moment = injector.pick(trainers), injector.moment(hours=(10.0, 15.0))
        if actor is not None and moment is not None:
            injector.schedule(moment, _burst(actor))


def _burst(actor: Actor) -> Runner:
    def run(world: World, rng: Random, start: int) -> list[Exchange]:
        session = world.session(rng, runner_client(actor, rng), start)
        session.challenge()
        heavy = habits.heaviest(world)
        for _ in range(rng.randint(14, 20)):
            repo = rng.choice(heavy)
            if flows.resolve(session, repo, "latest") is not None:
                flows.pull(session, repo, "latest", None)
            session.wait(rng.uniform(20, 120))
        world.labels.append(
            make_label("egress_burst", actor.name, session.exchanges, identity=actor.name,
                       detail=f"{actor.name} downloaded the heaviest images again and again within the hour")
        )  # fmt: skip
        return session.exchanges

    return run


def plan_dormant_external(injector: Injector) -> None:
    """A robot that works nightly at first, then stops; weeks later it pulls at night from the internet."""
    world, rng = injector.world, injector.rng
    for number in range(injector.count()):
        team = rng.choice(world.organisation.teams).name
        actor = Actor(f"robot${team}+nightly-export{number}", "robot", "dormant", team, "skopeo/1.15.1", "tool",
                      (TOOLS,), addresses=(address_in(rng, TOOLS),))  # fmt: skip
        actor.created_ns = world.start_ns - rng.randint(100, 600) * DAY
        actor.rotated_ns = world.start_ns - rng.randint(20, 200) * DAY
        actor.expires_ns = world.end_ns + rng.randint(60, 300) * DAY
        moment = injector.moment(hours=(0.5, 4.5), weekday=None, first_day=max(injector.warmup, injector.days - 4))
        if moment is None:
            continue
        world.population.add(actor)
        for day in range(min(2, injector.days)):
            at = world.clock.at_local(world.start_ns + day * DAY, rng.uniform(1.0, 4.0))
            injector.schedule(at, _export(actor, actor.addresses[0], label=False))
        injector.schedule(moment, _export(actor, public_address(rng), label=True))


def _export(actor: Actor, address: str, label: bool) -> Runner:
    def run(world: World, rng: Random, start: int) -> list[Exchange]:
        session = world.session(rng, client_at(actor, address, rng), start)
        session.challenge()
        for repo in rng.sample(usual_repos(world, actor), min(3, len(usual_repos(world, actor)))):
            flows.pull(session, repo, "latest", None)
        if label:
            world.labels.append(
                make_label("dormant_robot_external", actor.name, session.exchanges, identity=actor.name,
                           address=address, also=("anomalous_pull/new_network",),
                           detail=f"{actor.name}, silent for weeks, resumed at night from {address}")
            )  # fmt: skip
        return session.exchanges

    return run


#: a person re-pushing a release tag from the office is also a push by a person to a CI-built repository, most
#: often their first push there, and a push from outside the CI networks: each of those detections is right
_HUMAN_RELEASE_PUSH_ALSO = (
    "suspicious_push/human_push_ci_repo",
    "suspicious_push/first_push_to_repo",
    "suspicious_push/push_outside_ci",
)


def plan_protected_tag_by_human(injector: Injector) -> None:
    for _ in range(injector.count()):
        moment = injector.moment(hours=(9.5, 16.5), first_day=max(injector.warmup, injector.days // 2))
        actor = injector.pick(injector.humans())
        if actor is not None and moment is not None:
            injector.schedule(moment, _human_overwrite(actor))


def _human_overwrite(actor: Actor) -> Runner:
    def run(world: World, rng: Random, start: int) -> list[Exchange]:
        organisation = world.organisation
        services = [r for r in organisation.of_kind("service") if not r.restricted]
        choices = {r.name: overwritable(world, r) or old_releases(world, r, False) for r in services}
        mine = [r for r in services if r.team == actor.team and choices[r.name]]
        mine = mine or [r for r in services if choices[r.name]]
        if not mine:
            return []
        repo = rng.choice(mine)
        tag = rng.choice(choices[repo.name])
        session = world.session(rng, human_client(actor, rng, False), start)
        session.challenge()
        base = organisation.repos[repo.base or "base/python"]
        flows.push(session, repo, build_image(repo, rng, base.tags["latest"]), [tag], base)
        world.labels.append(
            make_label("protected_tag_by_human", f"{repo.name}:{tag}", session.exchanges, identity=actor.name,
                       repository=repo.name, tag=tag, also=_HUMAN_RELEASE_PUSH_ALSO,
                       detail=f"{actor.name} re-pushed release {repo.name}:{tag} from the office")
        )  # fmt: skip
        return session.exchanges

    return run


def plan_habitual_pusher_protected(injector: Injector) -> None:
    world = injector.world
    pool = [actor for actor in world.population.by_role("human") if actor.habit == "saturday"]
    for _ in range(min(injector.count(), len(pool))):
        actor, moment = injector.pick(pool), _saturday(injector)
        if actor is None or moment is None:
            continue
        repos = [r for r in world.organisation.team_repos(actor.team, "service") if r.production]
        if repos:
            injector.schedule(moment, _protected_push(actor, injector.rng.choice(repos)))


def _saturday(injector: Injector) -> int | None:
    """A Saturday after the first week (when the habit shows), if the window has one."""
    first_day = min(8, max(injector.warmup, injector.days // 2))
    for _ in range(8):
        moment = injector.moment(hours=(10.0, 15.0), weekday=False, first_day=first_day)
        if moment is not None and injector.world.clock.local_weekday(moment) == 5:
            return moment
    return None


def _protected_push(actor: Actor, repo: Repository) -> Runner:
    def run(world: World, rng: Random, start: int) -> list[Exchange]:
        session = world.session(rng, human_client(actor, rng, True), start)
        session.challenge()
        base = world.organisation.repos[repo.base or "base/python"]
        tag = f"{actor.name.split('.')[0]}-weekend"
        flows.push(session, repo, build_image(repo, rng, base.tags["latest"]), [tag], base)
        world.labels.append(
            make_label("habitual_pusher_protected", actor.name, session.exchanges, identity=actor.name,
                       repository=repo.name, detail=f"{actor.name}, who pushes every Saturday, pushed to {repo.name}")
        )  # fmt: skip
        return session.exchanges

    return run


def plan_slow_brute_force(injector: Injector) -> None:
    names = [actor.name for actor in injector.world.population.by_role("human")]
    for _ in range(injector.count()):
        moment = injector.moment(hours=(0.0, 18.0), weekday=None)
        if moment is not None:
            injector.schedule(moment, _slow_guess(injector.rng.choice(names)))


def _slow_guess(user: str) -> Runner:
    def run(world: World, rng: Random, start: int) -> list[Exchange]:
        session = attacker_session(world, rng, start)
        session.challenge()
        for _ in range(rng.randint(40, 80)):
            session.rejected("/v2/", user)
            session.wait(rng.uniform(120, 360))
        address = session.client.remote_addr
        world.labels.append(
            make_label("slow_brute_force", address, session.exchanges, address=address,
                       detail=f"{address} guessed {user}'s password every few minutes for hours")
        )  # fmt: skip
        return session.exchanges

    return run
