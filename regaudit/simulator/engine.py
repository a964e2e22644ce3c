"""The main loop: plan a day, run its sessions hour by hour in time order, emit what each hour produced.

Notifications are ordered by when they were POSTed: each replica delivers its own queue first in, first out, a
few milliseconds after the event, and now and then (0.15 %) the 1 s timeout fires after the webhook already
took the event, so the same body is POSTed again. Access lines are ordered by when nginx wrote them (the end
of the request). Anything still running at the end of an hour waits for the next hour's batch, so each hour
is emitted whole and in order while little more than an hour is held in memory.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from random import Random
from typing import Literal

from regaudit.simulator import attacks, fleet, habits, intrusions, routines, stale, tampering, variants
from regaudit.simulator.exchanges import Exchange, access_combined, access_json
from regaudit.simulator.facts import facts_of, org_section
from regaudit.simulator.identities import build_population
from regaudit.simulator.incidents import Injector
from regaudit.simulator.model import CredentialRow, Identity, Label, Notification
from regaudit.simulator.organisation import HOST, TIMEZONE, build_organisation
from regaudit.simulator.primitives import (
    DAY,
    HOUR,
    MINUTE,
    LocalClock,
    seeded,
    to_datetime,
    to_ns,
    uuid4,
)
from regaudit.simulator.sessions import Registry, Replica
from regaudit.simulator.wire import Event, encode_envelope
from regaudit.simulator.world import World

AccessFormat = Literal["json", "combined"]
DEFAULT_START = datetime(2025, 3, 3, tzinfo=UTC)
PLANNERS: tuple[Callable[[Injector], None], ...] = (
    intrusions.plan_audit_gaps,  # first: the others keep away from lost events
    attacks.plan_mass_pull,
    attacks.plan_new_network,
    attacks.plan_new_client,
    attacks.plan_anonymous_pull,
    attacks.plan_enumeration,
    attacks.plan_large_egress,
    stale.plan_dormant,
    stale.plan_expired,
    stale.plan_many_addresses,
    tampering.plan_release_overwrite,
    tampering.plan_moved_back,
    tampering.plan_protected_delete,
    tampering.plan_first_push,
    tampering.plan_off_hours,
    tampering.plan_push_outside_ci,
    tampering.plan_human_push,
    tampering.plan_unsigned_pull,
    intrusions.plan_brute_force,
    intrusions.plan_password_spray,
    intrusions.plan_probing,
    stale.plan_never_used,
    stale.plan_unrotated,
    variants.plan_slow_exfiltration,  # the variants last: the incidents above keep their plans
    variants.plan_blob_exfiltration,
    variants.plan_egress_burst,
    variants.plan_dormant_external,
    variants.plan_protected_tag_by_human,
    variants.plan_habitual_pusher_protected,
    variants.plan_slow_brute_force,
    tampering.plan_mass_delete,
)


@dataclass(frozen=True, slots=True)
class Chunk:
    """One simulated hour's output, each list in time order and after every earlier chunk."""

    day: int
    hour: int
    notifications: list[Notification]
    access_lines: list[bytes]


def build_registry(rng: Random, start_ns: int, end_ns: int) -> Registry:
    """Three replicas behind nginx (weights 4:4:1); registry-2 logs in local time; rolling restarts on
    Tuesdays."""
    replicas = [Replica(f"registry-{n}:5000", f"10.40.0.{10 + n}:5000", weight) for n, weight in enumerate((4, 4, 1))]
    replicas[2].clock = LocalClock(TIMEZONE)
    for replica in replicas:
        replica.instances = [uuid4(rng)]
    for day_start in range(start_ns - start_ns % DAY, end_ns, DAY):
        if (day_start // DAY + 3) % 7 == 1:
            for number, replica in enumerate(replicas):
                replica.restart(day_start + 5 * HOUR + number * 3 * MINUTE, uuid4(rng))
    return Registry(HOST, replicas)


class Simulation:
    """A seeded month (or any span) of registry traffic, generated hour by hour (see ``chunks``)."""

    def __init__(
        self,
        seed: int,
        days: int = 30,
        start: datetime = DEFAULT_START,
        scale: float = 1.0,
        incidents: bool = True,
        access_format: AccessFormat = "json",
    ) -> None:
        if days < 1 or scale <= 0:
            raise ValueError("days must be at least 1 and scale positive")
        if access_format not in ("json", "combined"):
            raise ValueError(f"unknown access format {access_format!r}")
        self.seed, self.days, self.access_format = seed, days, access_format
        start_ns = to_ns(start)
        end_ns = start_ns + days * DAY
        rng = seeded(f"{seed}/organisation")
        organisation = build_organisation(rng, scale, start_ns)
        population = build_population(rng, organisation, start_ns, end_ns)
        registry = build_registry(seeded(f"{seed}/registry"), start_ns, end_ns)
        self.world = World(seed, start_ns, end_ns, scale, LocalClock(TIMEZONE), registry, organisation, population)
        fleet.build_clusters(self.world, rng)
        habits.build_habits(self.world, seeded(f"{seed}/habits"))
        self.injector = Injector(self.world, seeded(f"{seed}/incidents"), days) if incidents else None
        for planner in PLANNERS if self.injector else ():
            planner(self.injector)  # type: ignore[arg-type]
        self.finished = False
        self._last_post: dict[str, int] = {}
        self._sequence = itertools.count()
        self._replicas = {replica.source_addr: replica for replica in registry.replicas}
        self._host = registry.host
        self._encode = access_json if access_format == "json" else None
        self._events: list[Event] = []
        self._posts: list[tuple[int, int, bytes]] = []
        self._lines: list[tuple[int, bytes]] = []

    @property
    def start(self) -> datetime:
        return to_datetime(self.world.start_ns)

    @property
    def end(self) -> datetime:
        return to_datetime(self.world.end_ns)

    @property
    def identities(self) -> list[Identity]:
        return [actor.identity() for actor in self.world.population.actors.values()]

    @property
    def credentials(self) -> list[CredentialRow]:
        return [actor.credential() for actor in self.world.population.actors.values()]

    @property
    def org(self) -> dict[str, object]:
        return org_section(self.world)

    @property
    def facts(self) -> dict[str, object]:
        return facts_of(self.world)

    @property
    def labels(self) -> list[Label]:
        if not self.finished:
            raise RuntimeError("labels are complete only once every chunk was generated")
        return sorted(self.world.labels, key=lambda label: (label.start, label.kind, label.subject))

    def chunks(self) -> Iterator[Chunk]:
        """Generate the traffic hour by hour; each chunk is complete and in order, after every earlier one.
        Labels are final once the last chunk was taken."""
        world = self.world
        for day in range(self.days):
            self._plan_day(day)
            post_rng = seeded(f"{self.seed}/post/{day}")
            for hour in range(24):
                since = world.start_ns + day * DAY + hour * HOUR
                last = day == self.days - 1 and hour == 23
                limit = world.end_ns if last else since + HOUR
                exchanges = self._run_until(limit)
                if self.injector:
                    self.injector.observe(exchanges, since, limit)
                notifications, lines = self._emit(exchanges, limit, last, post_rng)
                yield Chunk(day, hour, notifications, lines)
        if self.injector:
            self.injector.finish()
        self.finished = True

    def _plan_day(self, day: int) -> None:
        world, rng = self.world, seeded(f"{self.seed}/day/{day}")
        routines.plan_people(world, rng, day)
        routines.plan_ci(world, rng, day)
        fleet.plan_machines(world, rng, day)
        habits.plan_habits(world, seeded(f"{self.seed}/habits/{day}"), day)

    def _run_until(self, limit: int) -> list[Exchange]:
        world = self.world
        exchanges: list[Exchange] = []
        while world.queue and world.queue[0].start_ns < limit:
            plan = heapq.heappop(world.queue)
            world.timeline.settle(plan.start_ns)
            exchanges.extend(plan.run(world, seeded(plan.seed), plan.start_ns))
        return exchanges

    def _emit(
        self, exchanges: list[Exchange], limit: int, last: bool, rng: Random
    ) -> tuple[list[Notification], list[bytes]]:
        """Encode what happened before ``limit``; keep the rest (requests still running) for later."""
        for exchange in exchanges:
            if exchange.logged:
                line = self._encode(exchange, self._host) if self._encode else access_combined(exchange)
                self._lines.append((exchange.start_ns + exchange.duration_ns, line))
            self._events.extend(exchange.events)
        self._events.sort(key=lambda event: event.ts_ns)
        cut = len(self._events) if last else _cut_events(self._events, limit)
        self._posts.extend(self._post(self._events[:cut], rng))
        del self._events[:cut]
        self._posts.sort()
        self._lines.sort()
        cut_posts = len(self._posts) if last else _cut(self._posts, limit)
        cut_lines = len(self._lines) if last else _cut(self._lines, limit)
        notifications = [Notification(to_datetime(ns), body) for ns, _, body in self._posts[:cut_posts]]
        lines = [line for _, line in self._lines[:cut_lines]]
        del self._posts[:cut_posts], self._lines[:cut_lines]
        return notifications, lines

    def _post(self, events: list[Event], rng: Random) -> list[tuple[int, int, bytes]]:
        """POST times per replica queue (FIFO, a few ms late), with the odd timed-out retry of the same
        body."""
        posts = []
        for event in events:
            event.instance_id = self._replicas[event.source_addr].instance_at(event.ts_ns)
            body = encode_envelope(event)
            last = self._last_post.get(event.source_addr, 0)
            posted = max(event.ts_ns + rng.randrange(300_000, 4_000_000), last + rng.randrange(50_000, 400_000))
            posts.append((posted, next(self._sequence), body))
            if rng.random() < 0.0015:
                posted += rng.randrange(1_000_000_000, 1_300_000_000)
                posts.append((posted, next(self._sequence), body))
            self._last_post[event.source_addr] = posted
        return posts


def _cut(items: list[tuple[int, int, bytes]] | list[tuple[int, bytes]], limit: int) -> int:
    """Index of the first item at or after ``limit`` (items sorted by their first field)."""
    low, high = 0, len(items)
    while low < high:
        middle = (low + high) // 2
        if items[middle][0] < limit:
            low = middle + 1
        else:
            high = middle
    return low


def _cut_events(events: list[Event], limit: int) -> int:
    low, high = 0, len(events)
    while low < high:
        middle = (low + high) // 2
        if events[middle].ts_ns < limit:
            low = middle + 1
        else:
            high = middle
    return low
