"""What real organisations do besides their working day, and what detections must not mistake for incidents.

Independent traffic showed the simulator's world was too tidy (issue 16). Here are the habits it lacked:

- night and weekend work: some people push to their own namespace (``sandbox/<user>``, ``<user>/<project>``)
  in the evening and at weekends, from the VPN, and now and then in the day;
- people who push to their team's sandbox every Saturday;
- new hires: a credential created mid-window, whose owner starts working that day (``Actor.hired_day``);
- rollbacks: a few hours after a bad release, the release process moves ``latest`` back to the previous
  release and rolls production back (``schedule_rollback``);
- a monthly batch job pulling on the first of each month, at night, from its usual host;
- robots with long quiet periods: a backup sync that runs nightly, stops for weeks, and resumes from the
  same internal host;
- CI jobs fetching cached layers by digest: blob GETs without a manifest request, from CI runners
  (``cache_fetch``);
- a tooling account (an inventory sync) that only lists the catalog and tags, every morning;
- heavy daily pullers: training jobs pulling the heaviest images on fresh GPU nodes all day long.

``build_habits`` picks who does what (its own seeded stream, so the rest of the organisation is unchanged);
``plan_habits`` queues one day of it.
"""

from __future__ import annotations

from random import Random

from regaudit.simulator import fleet, flows
from regaudit.simulator.catalog import Manifest, Repository, build_image
from regaudit.simulator.exchanges import Exchange
from regaudit.simulator.identities import Actor
from regaudit.simulator.organisation import CI_NETWORKS, TOOLS
from regaudit.simulator.primitives import DAY, HOUR, MINUTE, address_in
from regaudit.simulator.sessions import Session
from regaudit.simulator.world import Runner, World, human_client, runner_client

PROJECTS = ("playground", "toolbox", "bench", "notebook", "devbox")
NIGHT_SHARE, SATURDAY_SHARE, HIRED_SHARE = 0.08, 0.03, 0.03
INVENTORY = "robot$platform+catalog-sync"
SYNC_AGENT = "skopeo/1.15.1"


def build_habits(world: World, rng: Random) -> None:
    """Choose the night workers, Saturday pushers and new hires; add the batch, quiet and tooling robots."""
    people = [a for a in world.population.by_role("human") if not a.admin]
    rng.shuffle(people)
    night = max(2, round(NIGHT_SHARE * len(people)))
    saturday = max(1, round(SATURDAY_SHARE * len(people)))
    hired = max(1, round(HIRED_SHARE * len(people)))
    for actor in people[:night]:
        _give_namespace(world, rng, actor)
    for actor in people[night : night + saturday]:
        actor.habit, actor.pusher = "saturday", True
    days = (world.end_ns - world.start_ns) // DAY
    if days >= 4:
        for actor in people[night + saturday : night + saturday + hired]:
            actor.hired_day = rng.randint(max(1, days * 3 // 10), max(1, days * 8 // 10))
            actor.created_ns = world.start_ns + actor.hired_day * DAY - rng.randrange(2 * HOUR, 20 * HOUR)
            actor.rotated_ns = None
    _add_robots(world, rng)


def _give_namespace(world: World, rng: Random, actor: Actor) -> None:
    repos = world.organisation.repos
    bases = [repo.name for repo in world.organisation.of_kind("base") if not repo.name.endswith("cuda")]
    names = [f"sandbox/{actor.name}"]
    if rng.random() < 0.5:
        names.append(f"{actor.name}/{rng.choice(PROJECTS)}")
    for name in names:
        repos[name] = Repository(name, actor.team, "personal", base=rng.choice(bases))
    actor.habit, actor.personal = "night", tuple(names)


def _robot(world: World, rng: Random, name: str, role: str, agent: str) -> Actor:
    team = name.split("$")[1].split("+")[0]
    actor = Actor(name, "robot", role, team, agent, "tool", (TOOLS,), addresses=(address_in(rng, TOOLS),))
    actor.created_ns = world.start_ns - rng.randint(200, 900) * DAY
    actor.rotated_ns = world.start_ns - rng.randint(20, 250) * DAY
    actor.expires_ns = world.end_ns + rng.randint(60, 400) * DAY
    return world.population.add(actor)


def _add_robots(world: World, rng: Random) -> None:
    teams = [team.name for team in world.organisation.teams]
    batch_team = "data" if "data" in teams else "platform"
    _robot(world, rng, f"robot${batch_team}+monthly-report", "batch", SYNC_AGENT)
    for team in rng.sample(teams, min(len(teams), 2)):
        _robot(world, rng, f"robot${team}+backup-sync", "quiet", SYNC_AGENT)
    _robot(world, rng, INVENTORY, "inventory", "backstage-plugin-registry/1.8.0")
    trainer_team = "ml" if "ml" in teams else "platform"
    for number in (1, 2):
        trainer = _robot(world, rng, f"robot${trainer_team}+trainer{number}", "trainer", "containerd/v1.7.22")
        trainer.networks = (CI_NETWORKS[0],)


def heaviest(world: World, count: int = 6) -> list[Repository]:
    """The heaviest images anyone may pull (what training jobs run, and what a burst goes for)."""
    repos = [r for r in world.organisation.repos.values() if r.kind in ("service", "base") and not r.restricted]
    return sorted(repos, key=lambda repo: repo.weight, reverse=True)[:count]


def quiet_days(world: World, actor: Actor) -> tuple[int, int]:
    """The quiet robot's silence: ``[first, last)`` days; weeks long in a month, shorter in short windows."""
    days = (world.end_ns - world.start_ns) // DAY
    first = 2 + len(actor.name) % 2
    return first, min(days - 1, first + max(days // 2, min(21, days - 6)))


def plan_habits(world: World, rng: Random, day: int) -> None:
    """One day of habits, queued like the rest of the day's plans."""
    start = world.start_ns + day * DAY
    weekday = world.clock.local_weekday(start + 12 * HOUR)
    for actor in world.population.by_role("human"):
        if actor.habit == "night":
            hours = _night_hours(rng, weekday)
            if hours is not None:
                world.schedule(world.clock.at_local(start, hours), rng, _personal_push(actor))
        elif actor.habit == "saturday" and weekday == 5:
            world.schedule(world.clock.at_local(start, rng.uniform(10.0, 15.0)), rng, _saturday_push(actor))
    for actor in world.population.by_role("batch", "quiet", "inventory", "trainer"):
        if actor.role == "trainer":
            for _ in range(rng.randint(8, 14)):
                world.schedule(start + rng.randrange(DAY), rng, _train(actor))
        elif actor.role == "inventory":
            world.schedule(world.clock.at_local(start, rng.uniform(6.0, 6.5)), rng, _inventory(actor))
        elif actor.role == "batch" and world.clock.local_day_of_month(start + 12 * HOUR) == 1:
            world.schedule(world.clock.at_local(start, rng.uniform(2.0, 3.0)), rng, _sync(actor, 4))
        elif actor.role == "quiet" and not quiet_days(world, actor)[0] <= day < quiet_days(world, actor)[1]:
            world.schedule(world.clock.at_local(start, rng.uniform(1.0, 4.0)), rng, _sync(actor, 2))


def _night_hours(rng: Random, weekday: int) -> float | None:
    """Evenings on some weekdays, days at some weekends, and now and then in working hours."""
    roll = rng.random()
    if weekday >= 5:
        return rng.uniform(10.0, 22.5) if roll < 0.35 else None
    if roll < 0.25:
        return rng.uniform(19.5, 23.5)
    return rng.uniform(10.0, 17.0) if roll < 0.4 else None


def _personal_push(actor: Actor) -> Runner:
    """From home (the VPN): pull a base, build, push ``latest`` and a dated tag to the own namespace."""

    def run(world: World, rng: Random, start: int) -> list[Exchange]:
        repo = world.organisation.repos[rng.choice(actor.personal)]
        base = world.organisation.repos[repo.base or "base/python"]
        session = world.session(rng, human_client(actor, rng, True), start)
        session.challenge()
        base_image = flows.pull(session, base, "latest", actor.cache)
        session.wait(rng.uniform(60, 900))
        image = build_image(repo, rng, base_image)
        flows.push(session, repo, image, [f"dev-{rng.getrandbits(20):05x}", "latest"], base)
        return session.exchanges

    return run


def _saturday_push(actor: Actor) -> Runner:
    def run(world: World, rng: Random, start: int) -> list[Exchange]:
        repo = world.organisation.repos[f"{actor.team}/sandbox"]
        base = world.organisation.repos[repo.base or "base/python"]
        session = world.session(rng, human_client(actor, rng, True), start)
        session.challenge()
        base_image = flows.pull(session, base, "latest", actor.cache)
        session.wait(rng.uniform(60, 600))
        tag = f"{actor.name.split('.')[0]}-weekend"
        flows.push(session, repo, build_image(repo, rng, base_image), [tag], base)
        return session.exchanges

    return run


def _sync(actor: Actor, count: int) -> Runner:
    """A batch copy (skopeo) of some of its team's images, from its one host, without a layer cache."""

    def run(world: World, rng: Random, start: int) -> list[Exchange]:
        session = world.session(rng, runner_client(actor, rng, address=actor.addresses[0]), start)
        session.challenge()
        pool = [r for r in world.organisation.team_repos(actor.team, "service") if "latest" in r.tags]
        for repo in rng.sample(pool, min(count, len(pool))):
            if flows.resolve(session, repo, "latest") is not None:
                flows.pull(session, repo, "latest", None)
            session.wait(rng.uniform(2, 20))
        return session.exchanges

    return run


def _train(actor: Actor) -> Runner:
    """A training job on a fresh GPU node: one heavy image, no layer cache."""

    def run(world: World, rng: Random, start: int) -> list[Exchange]:
        session = world.session(rng, runner_client(actor, rng), start)
        session.challenge()
        repo = rng.choice(heaviest(world, 4))
        if flows.resolve(session, repo, "latest") is not None:
            flows.pull(session, repo, "latest", None)
        return session.exchanges

    return run


def _inventory(actor: Actor) -> Runner:
    """The developer portal's registry plugin: the catalog, then every repository's tags; nothing pulled."""

    def run(world: World, rng: Random, start: int) -> list[Exchange]:
        session = world.session(rng, runner_client(actor, rng, address=actor.addresses[0]), start)
        session.challenge()
        names = sorted(world.organisation.repos)
        flows.catalog(session, names)
        for name in names:
            flows.list_tags(session, world.organisation.repos[name])
            session.wait(rng.uniform(0.05, 0.3))
        return session.exchanges

    return run


def cache_fetch(session: Session, repo: Repository, rng: Random) -> None:
    """BuildKit importing its registry cache: GET a few layers of the last build by digest, no manifest."""
    image = repo.tags.get("main") or repo.tags.get("latest")
    if image is None:
        return
    layers = image.platform_manifests[0].layers
    for item in rng.sample(layers, min(len(layers), rng.randint(2, 6))):
        flows.blob(session, "GET", repo, item)


def schedule_rollback(world: World, rng: Random, actor: Actor, repo: Repository, before: Manifest, at: int) -> None:
    """The release was bad: the release process moves ``latest`` back to what it was ``before`` the release
    (``crane tag repo@<digest> latest``) and rolls production back to that release."""

    def run(world: World, rng: Random, start: int) -> list[Exchange]:
        session = world.session(rng, runner_client(actor, rng), start)
        latest = flows.resolve(session, repo, "latest")
        if latest is None or latest.digest == before.digest or before.digest not in repo.manifests:
            return []
        session.challenge()
        flows.manifest(session, "GET", repo, before.digest, before)
        flows.put_manifest(session, repo, "latest", before)
        names = [tag for tag in repo.tagged_releases() if repo.tags[tag].digest == before.digest]
        if names:
            fleet.schedule_rollout(world, rng, repo, names[-1], session.now + rng.randrange(5 * MINUTE, 20 * MINUTE))
        return session.exchanges

    world.schedule(at, rng, run)
