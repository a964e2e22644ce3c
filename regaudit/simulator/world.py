"""The simulation's shared state and its event queue.

A ``Plan`` is one client session due at ``start_ns``; running it returns the session's exchanges and may
schedule follow-ups (a release schedules its production rollout, a build its staging deploy). Each plan draws
from its own ``Random`` seeded when the plan was made, so adding incident plans never changes normal ones.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from random import Random
from typing import NamedTuple

from regaudit.simulator.exchanges import Exchange
from regaudit.simulator.identities import Actor, Population
from regaudit.simulator.model import Label
from regaudit.simulator.organisation import CI_NETWORKS, OFFICE_PROXY, Organisation
from regaudit.simulator.primitives import LocalClock, address_in, public_address
from regaudit.simulator.sessions import Client, Registry, Session, Timeline

Runner = Callable[["World", Random, int], list[Exchange]]


class Plan(NamedTuple):
    """Queued as a tuple so the heap compares ``(start_ns, sequence)`` at C speed."""

    start_ns: int
    sequence: int
    seed: int
    run: Runner


@dataclass(slots=True)
class Node:
    address: str
    cache: set[str] = field(default_factory=set)


@dataclass(slots=True)
class Cluster:
    """A Kubernetes cluster pulling with one identity from many nodes; ``deployed`` maps repository to tag."""

    actor: Actor
    network: str
    nodes: list[Node]
    deployed: dict[str, str] = field(default_factory=dict)
    placement: dict[str, list[int]] = field(default_factory=dict)


@dataclass(slots=True)
class World:
    seed: int
    start_ns: int
    end_ns: int
    scale: float
    clock: LocalClock
    registry: Registry
    organisation: Organisation
    population: Population
    clusters: dict[str, Cluster] = field(default_factory=dict)
    labels: list[Label] = field(default_factory=list)
    queue: list[Plan] = field(default_factory=list)
    timeline: Timeline = field(default_factory=Timeline)
    _sequence: itertools.count[int] = field(default_factory=itertools.count)

    def schedule(self, start_ns: int, rng: Random, run: Runner) -> None:
        heapq.heappush(self.queue, Plan(start_ns, next(self._sequence), rng.getrandbits(64), run))

    def session(self, rng: Random, client: Client, start_ns: int) -> Session:
        """A client session on the world's timeline: it sees the registry as it is at its own clock."""
        session = Session(self.registry, rng, client, start_ns)
        session.timeline = self.timeline
        return session


def _header_bytes(user_agent: str) -> int:
    return 150 + len(user_agent)


def human_client(actor: Actor, rng: Random, use_vpn: bool) -> Client:
    """A person's laptop: from the office through the egress proxy (X-Forwarded-For), or over the VPN."""
    office, vpn = actor.addresses
    if use_vpn:
        client = Client(actor.name, vpn, vpn, actor.user_agent, actor.client)
    else:
        client = Client(actor.name, office, OFFICE_PROXY, actor.user_agent, actor.client, xff=office)
    client.header_bytes = _header_bytes(actor.user_agent)
    client.bandwidth = rng.uniform(30e6, 110e6)
    return client


def runner_client(actor: Actor, rng: Random, user_agent: str | None = None, address: str | None = None) -> Client:
    """A CI job (or other automation) on a runner of its pool, or at a fixed ``address``."""
    agent = user_agent or actor.user_agent
    if address is None:
        address = address_in(rng, rng.choice(actor.networks or CI_NETWORKS))
    client = Client(actor.name, address, address, agent, actor.client, tls="TLSv1.3")
    client.header_bytes = _header_bytes(agent)
    client.bandwidth = rng.uniform(150e6, 400e6)
    return client


def fixed_client(name: str, address: str, user_agent: str, style: str, xff: str = "") -> Client:
    client = Client(name, xff or address, address, user_agent, style, xff=xff)
    client.header_bytes = _header_bytes(user_agent)
    return client


def public_client(rng: Random, user_agent: str, style: str) -> Client:
    """An anonymous internet client of ``/v2/public/`` (the registry sees nginx's address there)."""
    address = public_address(rng)
    client = Client("", address, address, user_agent, style, public_location=True)
    client.header_bytes = _header_bytes(user_agent)
    client.bandwidth = rng.uniform(3e6, 60e6)
    client.tls = "TLSv1.3" if rng.random() < 0.9 else "TLSv1.2"
    return client


def poisson(rng: Random, mean: float) -> int:
    """A Poisson draw (Knuth's method; the means here are small)."""
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, mean**0.5)))
    limit, count, product = pow(2.718281828459045, -mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count
