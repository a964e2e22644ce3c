"""Normal behaviour of machines: clusters, the scanner, Renovate, the cleanup job, deploy tokens, the public.

Production clusters pull only signed release tags: on rollouts (20-60 minutes after a release was signed),
when a node joins (every image it runs, from scratch) and as HEAD checks when pods restart. Staging pulls
``main``. The scanner checks every repository nightly and downloads what it has not scanned; Renovate lists
base image tags every four hours; the cleanup job deletes old sandbox images on Sundays (never in protected
repositories); deploy tokens poll their team's tags; anonymous internet clients pull ``public/*``.
"""

from __future__ import annotations

from random import Random

from regaudit.simulator import flows
from regaudit.simulator.catalog import Repository
from regaudit.simulator.exchanges import Exchange
from regaudit.simulator.identities import Actor, docker_agent
from regaudit.simulator.organisation import PROD_EU, PROD_US, STAGING
from regaudit.simulator.primitives import DAY, HOUR, MINUTE, NS, address_in
from regaudit.simulator.world import (
    Cluster,
    Node,
    Runner,
    World,
    fixed_client,
    poisson,
    public_client,
    runner_client,
)

CLUSTERS = (
    ("prod-eu", "k8s-prod-eu", PROD_EU, 36),
    ("prod-us", "k8s-prod-us", PROD_US, 28),
    ("staging", "k8s-staging", STAGING, 8),
)


def build_clusters(world: World, rng: Random) -> None:
    """Clusters with their nodes, what runs where, and node caches holding what is deployed."""
    services = [repo for repo in world.organisation.of_kind("service") if repo.production]
    for name, identity, network, count in CLUSTERS:
        nodes = [Node(address_in(rng, network)) for _ in range(max(4, round(count * world.scale)))]
        cluster = Cluster(world.population.actors[identity], network, nodes)
        staging = name == "staging"
        for repo in services:
            if name == "prod-us" and rng.random() < 0.3:
                continue
            size = rng.randint(1, 2) if staging else rng.randint(3, 8)
            cluster.placement[repo.name] = rng.sample(range(len(nodes)), min(size, len(nodes)))
            cluster.deployed[repo.name] = "main" if staging else repo.releases[-1]
        if not staging:
            agent = world.organisation.repos["public/agent"]
            cluster.placement[agent.name] = list(range(len(nodes)))
            cluster.deployed[agent.name] = agent.releases[-1]
        for repo_name, indexes in cluster.placement.items():
            image = world.organisation.repos[repo_name].tags[cluster.deployed[repo_name]]
            for index in indexes:
                nodes[index].cache.update(blob.digest for blob in image.platform_manifests[0].blobs())
        world.clusters[name] = cluster


def node_pull(cluster: Cluster, node: Node, repo: Repository, tag: str | None, check: bool = False) -> Runner:
    """The runtime on one node pulls (or, on a pod restart, only HEAD-checks) ``repo:tag``; ``tag`` None
    means whatever the cluster runs at that moment."""

    def run(world: World, rng: Random, start: int) -> list[Exchange]:
        actor = cluster.actor
        current = tag or cluster.deployed[repo.name]
        session = world.session(rng, fixed_client(actor.name, node.address, actor.user_agent, "containerd"), start)
        session.client.bandwidth = 300e6
        if not check or rng.random() < 0.3:
            session.challenge(f"/v2/{repo.name}/manifests/{current}", "HEAD")
        if current not in repo.tags:
            flows.missing(session, "HEAD", repo.name, current)
        elif check:
            flows.manifest(session, "HEAD", repo, current, repo.tags[current])
        else:
            flows.pull(session, repo, current, node.cache)
        return session.exchanges

    return run


def schedule_rollout(world: World, rng: Random, repo: Repository, tag: str, at: int) -> None:
    """A rolling update: every node running ``repo`` in each production cluster pulls the new tag."""
    for name, cluster in world.clusters.items():
        if name == "staging" or repo.name not in cluster.placement:
            continue
        cluster.deployed[repo.name] = tag
        for step, index in enumerate(cluster.placement[repo.name]):
            moment = at + step * rng.randrange(15 * NS, 45 * NS)
            world.schedule(moment, rng, node_pull(cluster, cluster.nodes[index], repo, tag))
        at += rng.randrange(30 * MINUTE, 90 * MINUTE)


def schedule_staging(world: World, rng: Random, repo: Repository, at: int) -> None:
    cluster = world.clusters["staging"]
    for index in cluster.placement.get(repo.name, ()):
        world.schedule(at + rng.randrange(60 * NS), rng, node_pull(cluster, cluster.nodes[index], repo, "main"))


def _replace_node(cluster: Cluster, index: int) -> Runner:
    """The autoscaler replaces a node; the new one pulls every image scheduled on it."""

    def run(world: World, rng: Random, start: int) -> list[Exchange]:
        node = Node(address_in(rng, cluster.network))
        cluster.nodes[index] = node
        for repo_name, indexes in cluster.placement.items():
            if index in indexes:
                repo = world.organisation.repos[repo_name]
                moment = start + rng.randrange(5 * NS, 120 * NS)
                world.schedule(moment, rng, node_pull(cluster, node, repo, None))
        return []

    return run


def plan_machines(world: World, rng: Random, day: int) -> None:
    start = world.start_ns + day * DAY
    for name, cluster in world.clusters.items():
        for repo_name, indexes in cluster.placement.items():
            repo = world.organisation.repos[repo_name]
            for _ in range(poisson(rng, 1.0 if name == "staging" else 2.0)):
                node = cluster.nodes[rng.choice(indexes)]
                runner = node_pull(cluster, node, repo, None, check=True)
                world.schedule(start + rng.randrange(DAY), rng, runner)
        for _ in range(poisson(rng, (0.5 if name == "staging" else 1.5) * max(1.0, world.scale))):
            world.schedule(start + rng.randrange(DAY), rng, _replace_node(cluster, rng.randrange(len(cluster.nodes))))
    population = world.population.actors
    world.schedule(start + HOUR + rng.randrange(HOUR), rng, _scan(population["robot$security+scanner"]))
    for hour in range(0, 24, 4):
        world.schedule(
            start + hour * HOUR + rng.randrange(10 * MINUTE),
            rng,
            _renovate(population["robot$platform+renovate"]),
        )
    if world.clock.local_weekday(start + 12 * HOUR) == 6:
        world.schedule(start + 3 * HOUR + rng.randrange(HOUR), rng, _cleanup(population["robot$platform+cleanup"]))
    weekday = world.clock.local_weekday(start + 12 * HOUR) < 5
    for actor in world.population.by_role("deploy"):
        for _ in range(poisson(rng, 2.0) if weekday else 0):
            world.schedule(world.clock.at_local(start, rng.uniform(8.0, 19.0)), rng, _poll(actor))
    for _ in range(poisson(rng, 25 * world.scale)):
        world.schedule(start + int(rng.triangular(0, 24, 14) * HOUR), rng, _anonymous())


def _scan(actor: Actor) -> Runner:
    def run(world: World, rng: Random, start: int) -> list[Exchange]:
        session = world.session(rng, runner_client(actor, rng, address=rng.choice(actor.addresses)), start)
        session.challenge()
        for repo in world.organisation.repos.values():
            for tag in ("latest", "main"):
                target = flows.resolve(session, repo, tag)
                if target is None:
                    continue
                flows.manifest(session, "HEAD", repo, tag, target)
                if target.digest not in actor.cache:
                    actor.cache.add(target.digest)
                    flows.manifest(session, "GET", repo, target.digest, target)
                    flows.fetch(session, repo, target, actor.cache)
        return session.exchanges

    return run


def _renovate(actor: Actor) -> Runner:
    def run(world: World, rng: Random, start: int) -> list[Exchange]:
        session = world.session(rng, runner_client(actor, rng), start)
        session.challenge()
        for repo in world.organisation.of_kind("base"):
            flows.list_tags(session, repo)
            latest = flows.resolve(session, repo, "latest")
            if latest is not None:
                flows.manifest(session, "HEAD", repo, "latest", latest)
        for team in world.organisation.teams:
            flows.list_tags(session, world.organisation.repos[team.services[0]])
        return session.exchanges

    return run


def _cleanup(actor: Actor) -> Runner:
    def run(world: World, rng: Random, start: int) -> list[Exchange]:
        session = world.session(rng, runner_client(actor, rng), start)
        session.challenge()
        for repo in world.organisation.of_kind("sandbox"):
            flows.list_tags(session, repo)
            for tag in list(repo.tags)[:-4]:
                target = flows.resolve(session, repo, tag)
                if target is not None:
                    flows.manifest(session, "HEAD", repo, tag, target)
                    flows.delete_manifest(session, repo, target.digest)
        return session.exchanges

    return run


def _poll(actor: Actor) -> Runner:
    def run(world: World, rng: Random, start: int) -> list[Exchange]:
        session = world.session(rng, runner_client(actor, rng), start)
        session.challenge()
        repo = rng.choice(world.organisation.team_repos(actor.team, "service"))
        flows.list_tags(session, repo)
        latest = flows.resolve(session, repo, "latest")
        if latest is not None:
            flows.manifest(session, "HEAD", repo, "latest", latest)
        return session.exchanges

    return run


def _anonymous() -> Runner:
    def run(world: World, rng: Random, start: int) -> list[Exchange]:
        roll = rng.random()
        if roll < 0.5:
            agent, style = docker_agent(rng), "docker"
        else:
            agent, style = ("containerd/v1.7.22", "containerd") if roll < 0.8 else ("Go-http-client/1.1", "tool")
        session = world.session(rng, public_client(rng, agent, style), start)
        session.challenge()
        repo = rng.choice(world.organisation.of_kind("public"))
        tag = "latest" if rng.random() < 0.6 else rng.choice(repo.tagged_releases()[-3:])
        flows.pull(session, repo, tag, None, arm=rng.random() < 0.25)
        return session.exchanges

    return run
