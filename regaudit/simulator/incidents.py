"""Injecting incidents: how many of each kind, when, against whom; and the labels that record them.

Every kind is injected ``round(U(3, 5) * scale * days / 30)`` times (at least once), after a warm-up of up to
seven days so that baselines exist, at least 20 minutes apart from each other and an hour away from an audit
gap. Subjects are drawn without repetition where the pool allows, so one identity carries one incident. The
planner runs before any traffic is generated: it adds the stale credentials to the inventory, crash-restarts
replicas for the audit gaps and queues one plan per incident; ``observe`` then sees each hour's exchanges to
drop the gap's events and to follow expired credentials still in use.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from random import Random

from regaudit.simulator.exchanges import Exchange
from regaudit.simulator.gaps import Gap, apply_gap
from regaudit.simulator.identities import Actor
from regaudit.simulator.model import KIND_FAMILY, Label
from regaudit.simulator.primitives import DAY, HOUR, MINUTE, to_datetime, uuid4
from regaudit.simulator.world import Runner, World


def make_label(
    kind: str,
    subject: str,
    exchanges: list[Exchange],
    *,
    identity: str | None = None,
    repository: str | None = None,
    tag: str | None = None,
    address: str | None = None,
    also: tuple[str, ...] = (),
    detail: str = "",
) -> Label:
    """A label over the exchanges an incident produced (their events, request ids and proxy lines)."""
    events = [event for exchange in exchanges for event in exchange.events]
    return Label(
        family=KIND_FAMILY[kind],
        kind=kind,
        subject=subject,
        start=to_datetime(min(exchange.start_ns for exchange in exchanges)),
        end=to_datetime(max(exchange.end_ns for exchange in exchanges)),
        event_ids=tuple(event.event_id for event in events),
        request_ids=tuple(dict.fromkeys(event.request_id for event in events)),
        proxy_request_ids=tuple(exchange.req_id for exchange in exchanges if exchange.logged),
        identity=identity,
        repository=repository,
        tag=tag,
        address=address,
        also=also,
        detail=detail,
    )


@dataclass(slots=True)
class Watch:
    """A credential used after ``since_ns`` (its expiry): every exchange it makes from then on is evidence."""

    actor: Actor
    since_ns: int
    exchanges: list[Exchange] = field(default_factory=list)


class Injector:
    def __init__(self, world: World, rng: Random, days: int) -> None:
        self.world = world
        self.rng = rng
        self.days = days
        self.warmup = min(7, max(1, days // 4))
        self.used: set[str] = set()
        self.taken: list[int] = []
        self.gaps: list[Gap] = []
        self.watches: list[Watch] = []

    # -- planning ------------------------------------------------------------------------------------------

    def count(self) -> int:
        scaled = self.rng.uniform(3, 5) * self.world.scale * self.days / 30
        return max(1, round(scaled))

    def free(self, moment: int, spacing: int = 20 * MINUTE) -> bool:
        near_gap = any(gap.planned_ns - HOUR < moment < gap.planned_ns + 3 * HOUR for gap in self.gaps)
        return not near_gap and all(abs(moment - other) >= spacing for other in self.taken)

    def moment(
        self,
        hours: tuple[float, float] = (9.5, 16.5),
        weekday: bool | None = True,
        first_day: int | None = None,
    ) -> int | None:
        """A free instant on a random day after the warm-up, at local ``hours``; ``weekday`` None means
        any."""
        world, rng = self.world, self.rng
        low = self.warmup if first_day is None else first_day
        if low >= self.days:
            return None
        for _ in range(200):
            day_start = world.start_ns + rng.randrange(low, self.days) * DAY
            is_weekday = world.clock.local_weekday(day_start + 12 * HOUR) < 5
            if weekday is not None and is_weekday != weekday:
                continue
            moment = world.clock.at_local(day_start, rng.uniform(*hours))
            if world.start_ns <= moment < world.end_ns - 3 * HOUR and self.free(moment):
                self.taken.append(moment)
                return moment
        return None

    def pick(self, pool: list[Actor]) -> Actor | None:
        """An actor from ``pool`` not yet carrying an incident (any, if all are taken)."""
        fresh = [actor for actor in pool if actor.name not in self.used]
        if not pool:
            return None
        actor = self.rng.choice(fresh or pool)
        self.used.add(actor.name)
        return actor

    def humans(self) -> list[Actor]:
        """People an incident may happen to: not admins, not new hires (they have no history to break), not
        the habitual weekend and night workers (``habits``: their own incident kinds use them)."""
        people = self.world.population.by_role("human")
        return [actor for actor in people if not actor.admin and not actor.hired_day and not actor.habit]

    def ci(self) -> list[Actor]:
        return [actor for actor in self.world.population.by_role("ci") if "$platform+" not in actor.name]

    def schedule(self, moment: int, runner: Runner) -> None:
        self.world.schedule(moment, self.rng, runner)

    def crash(self, source_addr: str, planned_ns: int, minutes: float) -> None:
        """Plan an audit gap: the replica loses its queue and restarts with a new instance id."""
        replica = next(r for r in self.world.registry.replicas if r.source_addr == source_addr)
        self.gaps.append(Gap(replica, planned_ns, minutes, uuid4(self.rng)))

    # -- during the run ------------------------------------------------------------------------------------

    def observe(self, exchanges: list[Exchange], since: int, until: int) -> None:
        """See one batch (the exchanges of sessions started in ``[since, until)``) before it is encoded."""
        for gap in self.gaps:
            if not gap.applied and gap.planned_ns < until:
                apply_gap(gap, exchanges, since, until)
        for watch in self.watches:
            name = watch.actor.name
            watch.exchanges.extend(e for e in exchanges if e.actor == name and e.start_ns >= watch.since_ns)

    def finish(self) -> None:
        """Labels that could only be written once the traffic was known (gaps, expired credentials)."""
        for gap in self.gaps:
            if gap.lines:
                label = make_label(
                    "audit_gap",
                    gap.replica.source_addr,
                    gap.lines,
                    detail=f"{gap.replica.source_addr} crashed and lost {len(gap.missing)} queued events",
                )
                self.world.labels.append(_with_missing(label, tuple(gap.missing)))
        for watch in self.watches:
            if watch.exchanges:
                self.world.labels.append(
                    make_label(
                        "expired_credential_used",
                        watch.actor.name,
                        watch.exchanges,
                        identity=watch.actor.name,
                        detail=f"{watch.actor.name} used after its expiry {to_datetime(watch.since_ns)}",
                    )
                )


def _with_missing(label: Label, missing: tuple[str, ...]) -> Label:
    return replace(label, missing_event_ids=missing)
