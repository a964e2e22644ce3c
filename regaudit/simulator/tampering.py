"""Incidents that change what the registry holds (``tag_overwrite``) or who pushes it (``suspicious_push``).

Overwrites and deletes hit old releases that no cluster runs, so production never pulls the tampered digest
by accident (that would be a second, unlabelled incident). The unsigned production pull is staged on purpose:
the platform's CI pushes an unsigned debug image, and a production node runs it minutes later.
"""

from __future__ import annotations

from random import Random

from regaudit.simulator import flows, routines
from regaudit.simulator.catalog import Repository, build_image
from regaudit.simulator.exchanges import Exchange
from regaudit.simulator.identities import Actor
from regaudit.simulator.incidents import Injector, make_label
from regaudit.simulator.organisation import OFFICE, VPN
from regaudit.simulator.primitives import HOUR, MINUTE, address_in
from regaudit.simulator.sessions import Client
from regaudit.simulator.world import Runner, World, fixed_client, human_client, runner_client


def ci_actor(world: World, team: str) -> Actor:
    actors = world.population.actors
    return actors.get(f"robot${team}+ci") or actors[f"ci-{team}"]


def old_releases(world: World, repo: Repository, pushed: bool) -> list[str]:
    """Releases still tagged, not the newest, not deployed, not what ``latest`` points at; with ``pushed``
    only those pushed inside the window (a detector cannot know the digest of an older one)."""
    deployed = {cluster.deployed.get(repo.name) for cluster in world.clusters.values()}
    latest = repo.tags.get("latest")
    return [
        tag
        for tag in repo.releases[:-1]
        if tag in repo.tags
        and tag not in deployed
        and (latest is None or repo.tags[tag].digest != latest.digest)
        and (not pushed or tag in repo.history)
    ]


def _moved_from(repo: Repository) -> list[str]:
    """Digests ``latest`` was pushed with in the window before its current one."""
    latest = repo.tags.get("latest")
    earlier = repo.history.get("latest", [])[:-1]
    return [d for d in earlier if d in repo.manifests and latest is not None and d != latest.digest]


def _services(injector: Injector, production: bool | None = None) -> list[Repository]:
    return [
        repo
        for repo in injector.world.organisation.of_kind("service")
        if not repo.restricted and (production is None or repo.production == production)
    ]


def plan_release_overwrite(injector: Injector) -> None:
    """In the second half of the window, when releases pushed in it have been superseded."""
    for _ in range(injector.count()):
        moment = injector.moment(first_day=max(injector.warmup, injector.days // 2))
        if moment is not None:
            injector.schedule(moment, _overwrite)


def overwritable(world: World, repo: Repository) -> list[str]:
    """Release tags whose digest the window showed and that no cluster runs."""
    if repo.production:
        return old_releases(world, repo, True)
    return [tag for tag in repo.releases if tag in repo.history and tag in repo.tags]


def _overwrite(world: World, rng: Random, start: int) -> list[Exchange]:
    """Re-push an old release tag; with none to take, release a tool now and overwrite it hours later."""
    organisation = world.organisation
    repos = [r for r in organisation.of_kind("service", "tool") if not r.restricted and overwritable(world, r)]
    if not repos:
        repo = organisation.repos[rng.choice(("tools/migrate", "tools/ci-runner"))]
        world.schedule(start + rng.randrange(HOUR, 4 * HOUR), rng, _overwrite)
        return routines.release(ci_actor(world, repo.team), repo)(world, rng, start)
    repo = rng.choice(repos)
    tag = rng.choice(overwritable(world, repo))
    actor = ci_actor(world, repo.team)
    base = world.organisation.repos[repo.base or "base/python"]
    session = world.session(rng, runner_client(actor, rng), start)
    session.challenge()
    flows.push(session, repo, build_image(repo, rng, base.tags["latest"]), [tag], base)
    label = make_label(
        "release_tag_overwrite",
        f"{repo.name}:{tag}",
        session.exchanges,
        identity=actor.name,
        repository=repo.name,
        tag=tag,
        detail=f"release {repo.name}:{tag} now points at another image",
    )
    world.labels.append(label)
    return session.exchanges


def plan_moved_back(injector: Injector) -> None:
    for _ in range(injector.count()):
        moment = injector.moment(first_day=max(injector.warmup, injector.days // 2))
        if moment is not None:
            injector.schedule(moment, _move_back)


def _move_back(world: World, rng: Random, start: int) -> list[Exchange]:
    """``crane tag repo@<older digest> latest``: GET the old manifest, PUT it as ``latest``."""
    repos = [r for r in world.organisation.of_kind("service") if not r.restricted and _moved_from(r)]
    if not repos:
        return []
    repo = rng.choice(repos)
    target = repo.manifests[_moved_from(repo)[-1]]
    actor = ci_actor(world, repo.team)
    session = world.session(rng, runner_client(actor, rng), start)
    session.challenge()
    flows.manifest(session, "GET", repo, target.digest, target)
    flows.put_manifest(session, repo, "latest", target)
    label = make_label(
        "tag_moved_back",
        f"{repo.name}:latest",
        session.exchanges,
        identity=actor.name,
        repository=repo.name,
        tag="latest",
        detail=f"{repo.name}:latest moved back to an earlier image",
    )
    world.labels.append(label)
    return session.exchanges


def plan_protected_delete(injector: Injector) -> None:
    for _ in range(injector.count()):
        repo = injector.rng.choice(_services(injector, production=True) or _services(injector))
        members = [a for a in injector.humans() if a.team == repo.team] or injector.humans()
        actor, moment = injector.pick(members), injector.moment()
        if actor is not None and moment is not None:
            injector.schedule(moment, _delete(actor, repo))


def _delete(actor: Actor, repo: Repository) -> Runner:
    def run(world: World, rng: Random, start: int) -> list[Exchange]:
        candidates = old_releases(world, repo, False)
        if not candidates:
            return []
        tag = rng.choice(candidates)
        session = world.session(rng, human_client(actor, rng, False), start)
        session.challenge()
        target = repo.tags[tag]
        flows.manifest(session, "HEAD", repo, tag, target)
        flows.delete_manifest(session, repo, target.digest)
        world.labels.append(
            make_label(
                "protected_delete",
                repo.name,
                session.exchanges,
                identity=actor.name,
                repository=repo.name,
                tag=tag,
                detail=f"{actor.name} deleted release {tag} of {repo.name}",
            )
        )
        return session.exchanges

    return run


def plan_mass_delete(injector: Injector) -> None:
    """A CI token or a person's credential, stolen, wipes old releases across the organisation's services at
    night (T1485). Only identities without an incident of their own: a CI robot while one is left, else a person."""
    for _ in range(max(1, injector.count() // 2)):
        fresh = [actor for actor in (*injector.ci(), *injector.humans()) if actor.name not in injector.used]
        robots = [actor for actor in fresh if actor.role == "ci"]
        actor, moment = injector.pick(robots or fresh), injector.moment(hours=(1.0, 5.0), weekday=None)
        if actor is not None and moment is not None:
            injector.schedule(moment, _wipe(actor))


def _wipe(actor: Actor) -> Runner:
    """Between 30 and 45 old releases of at least 8 services (none that ``latest`` pointed at in the window), each
    resolved then deleted by digest; nothing (and no label) when the registry holds fewer, so every labelled wipe
    is as large as a real one."""

    def run(world: World, rng: Random, start: int) -> list[Exchange]:
        services = [repo for repo in world.organisation.of_kind("service") if not repo.restricted]
        releases = [
            (repo, tag)
            for repo in services
            for tag in old_releases(world, repo, False)
            if repo.tags[tag].digest not in repo.history.get("latest", [])  # what tag_moved_back moves back to
        ]
        rng.shuffle(releases)
        by_image = {(repo.name, repo.tags[tag].digest): (repo, tag) for repo, tag in releases}  # a digest once
        chosen = list(by_image.values())[: rng.randint(30, 45)]
        services_hit = len({repo.name for repo, _ in chosen})
        if len(chosen) < 30 or services_hit < 8:
            return []
        client = runner_client(actor, rng) if actor.role == "ci" else human_client(actor, rng, True)
        session = world.session(rng, client, start)
        session.challenge()
        for repo, tag in chosen:
            target = repo.tags[tag]
            flows.manifest(session, "HEAD", repo, tag, target)
            flows.delete_manifest(session, repo, target.digest)
            session.wait(rng.uniform(1, 20))
        world.labels.append(
            make_label("mass_delete", actor.name, session.exchanges, identity=actor.name,
                       detail=f"{actor.name} deleted {len(chosen)} old releases of {services_hit} services at night")
        )  # fmt: skip
        return session.exchanges

    return run


def plan_first_push(injector: Injector) -> None:
    for _ in range(injector.count()):
        actor, moment = injector.pick(injector.ci()), injector.moment()
        targets = [r for r in _services(injector) if r.team != (actor.team if actor else "")]
        if actor is not None and moment is not None and targets:
            injector.schedule(moment, _push(actor, injector.rng.choice(targets), "first_push_to_repo", None))


def plan_push_outside_ci(injector: Injector) -> None:
    for _ in range(injector.count()):
        actor, moment = injector.pick(injector.ci()), injector.moment()
        if actor is not None and moment is not None:
            repo = injector.rng.choice(injector.world.organisation.team_repos(actor.team, "service"))
            injector.schedule(moment, _push(actor, repo, "push_outside_ci", VPN))


def plan_human_push(injector: Injector) -> None:
    for _ in range(injector.count()):
        actor, moment = injector.pick(injector.humans()), injector.moment()
        if actor is None or moment is None:
            continue
        repos = [r for r in injector.world.organisation.team_repos(actor.team, "service") if r.production]
        repos = repos or injector.world.organisation.team_repos(actor.team, "service")
        injector.schedule(moment, _push(actor, injector.rng.choice(repos), "human_push_ci_repo", OFFICE))


def plan_off_hours(injector: Injector) -> None:
    for number in range(injector.count()):
        actor = injector.pick([a for a in injector.humans() if a.pusher])
        if number % 2 == 0:
            moment = injector.moment(hours=(21.0, 23.5), weekday=True)
        else:
            moment = injector.moment(hours=(10.0, 17.0), weekday=False)
        if actor is not None and moment is not None:
            repo = injector.world.organisation.repos[f"{actor.team}/sandbox"]
            injector.schedule(moment, _push(actor, repo, "off_hours_push", VPN))


_ALSO = {
    "push_outside_ci": ("anomalous_pull/new_network",),
    "human_push_ci_repo": ("suspicious_push/first_push_to_repo",),
}


def _push(actor: Actor, repo: Repository, kind: str, network: str | None) -> Runner:
    """A push of a fresh image: from a runner (``network`` None) or a laptop in ``network``."""

    def run(world: World, rng: Random, start: int) -> list[Exchange]:
        if network is None:
            client = runner_client(actor, rng)
        elif actor.role == "human":
            client = human_client(actor, rng, network == VPN)
        else:
            address = address_in(rng, network)
            client = Client(actor.name, address, address, actor.user_agent, actor.client)
        session = world.session(rng, client, start)
        session.challenge()
        base = world.organisation.repos[repo.base or "base/python"]
        first = actor.name.split(".")[0]
        tag = {"human_push_ci_repo": f"{first}-hotfix", "off_hours_push": f"{first}-late"}.get(kind)
        flows.push(
            session,
            repo,
            build_image(repo, rng, base.tags["latest"]),
            [tag or f"sha-{rng.getrandbits(28):07x}"],
            base,
        )
        world.labels.append(
            make_label(
                kind,
                actor.name,
                session.exchanges,
                identity=actor.name,
                repository=repo.name,
                also=_ALSO.get(kind, ()),
                detail=f"{actor.name} pushed to {repo.name} ({kind.replace('_', ' ')})",
            )
        )
        return session.exchanges

    return run


def plan_unsigned_pull(injector: Injector) -> None:
    for _ in range(injector.count()):
        moment = injector.moment()
        if moment is not None:
            injector.schedule(moment, _unsigned_pull(injector.rng.choice(("prod-eu", "prod-us"))))


def _unsigned_pull(cluster_name: str) -> Runner:
    def run(world: World, rng: Random, start: int) -> list[Exchange]:
        repo = world.organisation.repos["tools/debug-shell"]
        builder = ci_actor(world, "platform")
        session = world.session(rng, runner_client(builder, rng), start)
        session.challenge()
        tag = f"debug-{rng.getrandbits(24):06x}"
        base = world.organisation.repos[repo.base or "base/golang"]
        flows.push(session, repo, build_image(repo, rng, base.tags["latest"]), [tag], base)
        cluster = world.clusters[cluster_name]
        node = rng.choice(cluster.nodes)
        actor = cluster.actor
        client = fixed_client(actor.name, node.address, actor.user_agent, "containerd")
        pull = world.session(rng, client, session.now + rng.randrange(5 * MINUTE, 30 * MINUTE))
        pull.challenge(f"/v2/{repo.name}/manifests/{tag}", "HEAD")
        flows.pull(pull, repo, tag, node.cache)
        world.labels.append(
            make_label(
                "unsigned_production_pull",
                f"{repo.name}:{tag}",
                pull.exchanges,
                identity=actor.name,
                repository=repo.name,
                tag=tag,
                detail=f"{actor.name} ran unsigned {repo.name}:{tag} in {cluster_name}",
            )
        )
        return session.exchanges + pull.exchanges

    return run
