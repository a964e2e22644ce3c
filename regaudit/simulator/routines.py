"""Normal behaviour of people and CI: what a working day looks like, session by session.

People work Monday to Friday, about 08:30-18:30 in the organisation's zone: they pull their team's images and
a few others, list tags now and then, mistype a tag or a password once in a while, and some push to their
team's sandbox (only between 09:00 and 18:00). CI builds every service on merges (more on weekdays, a nightly
build for some), pushes ``main`` and ``sha-<commit>`` and signs production images; releases push ``vX.Y.Z``
and move ``latest``, are always signed when production runs them, and sometimes get a second signature later.
Every pusher pushes to each of its repositories on its first working day, so first-push detections have a
baseline.
"""

from __future__ import annotations

import zlib
from random import Random

from regaudit.simulator import fleet, flows, habits
from regaudit.simulator.catalog import Manifest, Repository, build_image
from regaudit.simulator.exchanges import Exchange
from regaudit.simulator.identities import Actor
from regaudit.simulator.organisation import base_tag
from regaudit.simulator.primitives import DAY, HOUR, MINUTE, NS
from regaudit.simulator.world import Runner, World, human_client, poisson, runner_client

COSIGN = "cosign/v2.4.1 (linux; amd64)"
ROLLBACK_SHARE = 0.08  # releases of production images rolled back within hours
SANDBOX_WORDS = ("test", "wip", "debug", "spike", "demo", "try", "poc", "tmp")


def plan_people(world: World, rng: Random, day: int) -> None:
    day_start = world.start_ns + day * DAY
    if world.clock.local_weekday(day_start + 12 * HOUR) >= 5:
        return
    for actor in world.population.by_role("human"):
        if day < actor.hired_day:
            continue
        if actor.active_days and rng.random() > 0.88:
            continue
        use_vpn = actor.active_days == 1 or (actor.active_days > 1 and rng.random() < 0.4)
        first = actor.active_days == 0
        actor.active_days += 1
        begin, end = rng.uniform(8.5, 10.0), rng.uniform(16.5, 18.5)
        sure = actor.active_days <= 2  # both usual networks show up in the first days
        for _ in range(max(poisson(rng, 1.0), 1 if sure else 0)):
            moment = world.clock.at_local(day_start, rng.uniform(begin, end))
            world.schedule(moment, rng, _pull(actor, use_vpn, sure))
        if actor.pusher and (first or rng.random() < 0.3):
            moment = world.clock.at_local(day_start, rng.uniform(max(begin, 9.0), min(end, 17.8)))
            world.schedule(moment, rng, _sandbox_push(actor, use_vpn))
        if rng.random() < 0.15 or (actor.admin and rng.random() < 0.25):
            world.schedule(world.clock.at_local(day_start, rng.uniform(begin, end)), rng, _browse(actor, use_vpn))


def _pick_tag(repo: Repository, rng: Random, actor: Actor) -> str | None:
    if repo.kind == "sandbox":
        mine = [tag for tag in repo.tags if tag.startswith(actor.name.split(".")[0] + "-")]
        return rng.choice(mine) if mine else None
    roll = rng.random()
    if repo.kind in ("service", "tool") and roll < 0.5 and "main" in repo.tags:
        return "main"
    if roll > 0.85 and repo.releases:
        return rng.choice(repo.releases[-4:])
    return "latest" if "latest" in repo.tags else None


def _pull(actor: Actor, use_vpn: bool, sure: bool = False) -> Runner:
    """Pull one or two of the actor's images (``sure``: at least one that exists)."""

    def run(world: World, rng: Random, start: int) -> list[Exchange]:
        session = world.session(rng, human_client(actor, rng, use_vpn), start)
        session.challenge()
        if rng.random() < 0.02:
            session.rejected("/v2/", actor.name)
            session.wait(rng.uniform(4, 30))
            flows.ping(session)
        arm = "darwin" in actor.user_agent
        names = rng.sample(actor.interests, rng.choice((1, 1, 2)))
        if sure:
            names = [name for name in actor.interests if name.startswith(actor.team + "/")][:1]
        for name in names:
            repo = world.organisation.repos[name]
            tag = "latest" if sure else _pick_tag(repo, rng, actor)
            if tag is not None and tag in repo.tags:
                flows.pull(session, repo, tag, actor.cache, arm)
            elif repo.kind != "sandbox" and rng.random() < 0.3:
                flows.missing(session, "GET", name, rng.choice(("lastest", "mian", "v0.0.1", "dev", "prod")))
            session.wait(rng.uniform(2, 90))
        return session.exchanges

    return run


def _browse(actor: Actor, use_vpn: bool) -> Runner:
    """List a repository's tags; admins sometimes list the catalog instead."""

    def run(world: World, rng: Random, start: int) -> list[Exchange]:
        session = world.session(rng, human_client(actor, rng, use_vpn), start)
        session.challenge()
        if actor.admin and rng.random() < 0.5:
            session.client.user_agent = "curl/8.5.0"
            flows.catalog(session, sorted(world.organisation.repos))
        else:
            flows.list_tags(session, world.organisation.repos[rng.choice(actor.interests)])
        return session.exchanges

    return run


def _sandbox_push(actor: Actor, use_vpn: bool) -> Runner:
    def run(world: World, rng: Random, start: int) -> list[Exchange]:
        repos = world.organisation.repos
        repo = repos[f"{actor.team}/sandbox"]
        base = repos[repo.base or "base/python"]
        session = world.session(rng, human_client(actor, rng, use_vpn), start)
        session.challenge()
        base_release = base.tagged_releases()[-1]
        flows.pull(session, base, base_release, actor.cache)
        session.wait(rng.uniform(60, 600))
        image = build_image(repo, rng, base.tags[base_release])
        tag = f"{actor.name.split('.')[0]}-{rng.choice(SANDBOX_WORDS)}"
        flows.push(session, repo, image, [tag], base)
        return session.exchanges

    return run


def plan_ci(world: World, rng: Random, day: int) -> None:
    day_start = world.start_ns + day * DAY
    weekend = world.clock.local_weekday(day_start + 12 * HOUR) >= 5
    for team in world.organisation.teams:
        actor = world.population.actors[f"robot${team.name}+ci" if team.ci_style == "robot" else f"ci-{team.name}"]
        kinds = ("service", "tool", "public") if team.name == "platform" else ("service",)
        for repo in [r for r in world.organisation.repos.values() if r.team == team.name and r.kind in kinds]:
            _plan_repo(world, rng, actor, repo, day, day_start, weekend)
    builder = world.population.actors["robot$platform+base-builder"]
    for repo in world.organisation.of_kind("base"):
        world.schedule(day_start + HOUR + rng.randrange(90 * MINUTE), rng, _nightly_base(builder, repo))


def _plan_repo(world: World, rng: Random, actor: Actor, repo: Repository, day: int, start: int, weekend: bool) -> None:
    builds = poisson(rng, 0.15 if weekend else (1.1 if repo.kind == "service" else 0.4))
    if day == 0:
        builds = max(builds, 1)
    if repo.kind == "public":
        builds = 0
    for _ in range(builds):
        hours = rng.uniform(9.0, 22.0) if weekend else rng.uniform(7.5, 20.0)
        world.schedule(world.clock.at_local(start, hours), rng, _build(actor, repo, release=False))
    if repo.kind != "public" and zlib.crc32(repo.name.encode()) % 10 < 2:
        world.schedule(start + 2 * HOUR + rng.randrange(40 * MINUTE), rng, _build(actor, repo, release=False))
    chance = {"service": 0.15 if repo.production else 0.05, "tool": 0.1, "public": 0.08}[repo.kind]
    if (not weekend and rng.random() < chance) or (day == 0 and repo.kind == "public"):
        world.schedule(world.clock.at_local(start, rng.uniform(10.0, 17.0)), rng, _build(actor, repo, release=True))


def release(actor: Actor, repo: Repository) -> Runner:
    """A release pipeline run: build, push ``vX.Y.Z`` and ``latest``, sign, roll out when production."""
    return _build(actor, repo, release=True)


def _build(actor: Actor, repo: Repository, release: bool) -> Runner:
    def run(world: World, rng: Random, start: int) -> list[Exchange]:
        base = world.organisation.repos[repo.base or "base/python"]
        session = world.session(rng, runner_client(actor, rng), start)
        session.challenge()
        if rng.random() < 0.3:
            habits.cache_fetch(session, repo, rng)
        base_release = base.tagged_releases()[-1]
        flows.pull(session, base, base_release, None if rng.random() < 0.5 else set(base.blobs))
        session.wait(rng.uniform(30, 480))
        image = build_image(repo, rng, base.tags[base_release])
        tags = [repo.next_version(rng), "latest"] if release else ["main", f"sha-{rng.getrandbits(28):07x}"]
        before = flows.resolve(session, repo, "latest")
        flows.push(session, repo, image, tags, base)
        if release:
            repo.releases.append(tags[0])
            if rng.random() < 0.03:
                flows.put_manifest(session, repo, tags[0], image)
        repo.prune()
        exchanges = session.exchanges
        if repo.production or repo.kind == "public" or rng.random() < repo.signed_share:
            exchanges += _cosign(world, rng, actor, session.client.addr, repo, image, session.now)
            if release and rng.random() < 0.25:
                world.schedule(start + rng.randrange(HOUR, 6 * HOUR), rng, _resign(actor, repo, image.digest))
        end = exchanges[-1].end_ns
        if before is not None and release and _rolled_back(repo, before) and rng.random() < ROLLBACK_SHARE:
            back = end + rng.randrange(HOUR, 5 * HOUR)
            habits.schedule_rollback(world, rng, actor, repo, before, back)
        if repo.production and repo.kind == "service":
            if release:
                fleet.schedule_rollout(world, rng, repo, tags[0], end + rng.randrange(20 * MINUTE, 60 * MINUTE))
            elif rng.random() < 0.35:
                fleet.schedule_staging(world, rng, repo, end + rng.randrange(3 * MINUTE, 15 * MINUTE))
        return exchanges

    return run


def _rolled_back(repo: Repository, before: Manifest | None) -> bool:
    """A production release can be rolled back to what ``latest`` held before it, if the window saw that
    pushed (and signed): production never runs an image whose signature predates the store."""
    return repo.production and before is not None and before.digest in repo.history.get("latest", [])


def _cosign(
    world: World, rng: Random, actor: Actor, address: str, repo: Repository, image: Manifest, after: int
) -> list[Exchange]:
    """cosign, run by the same job from the same runner a few seconds after the push."""
    session = world.session(rng, runner_client(actor, rng, COSIGN, address), after + rng.randrange(NS, 20 * NS))
    session.challenge()
    flows.sign(session, repo, image)
    return session.exchanges


def _resign(actor: Actor, repo: Repository, digest: str) -> Runner:
    """A promotion job appends a second signature: the ``.sig`` tag moves (an expected overwrite)."""

    def run(world: World, rng: Random, start: int) -> list[Exchange]:
        subject = repo.manifests.get(digest)
        if subject is None:
            return []
        return _cosign(world, rng, actor, runner_client(actor, rng).addr, repo, subject, start)

    return run


def _nightly_base(actor: Actor, repo: Repository) -> Runner:
    def run(world: World, rng: Random, start: int) -> list[Exchange]:
        session = world.session(rng, runner_client(actor, rng), start)
        session.challenge()
        image = build_image(repo, rng, None)
        tag = base_tag(repo, start)
        flows.push(session, repo, image, [tag, "latest"], None)
        repo.releases.append(tag)
        del repo.releases[:-10]
        repo.prune()
        return session.exchanges + _cosign(world, rng, actor, session.client.addr, repo, image, session.now)

    return run
