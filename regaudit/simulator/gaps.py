"""Audit gaps: a replica crashes with undelivered notifications in its queue, so the proxy log shows requests
the registry served while their events never arrive.

The crash time is planned in advance, but the lost window is placed once the day's traffic exists: the
first window after the planned time that holds served manifest requests and no cosign ``.sig`` push (losing
one would make every later production pull of that image look unsigned, a second incident nobody injected).
Events of the replica after the window carry the new instance id of the restarted process.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from regaudit.simulator.exchanges import Exchange
from regaudit.simulator.primitives import MINUTE
from regaudit.simulator.sessions import Replica

SEARCH_MINUTES = 120


@dataclass(slots=True)
class Gap:
    """A crash of ``replica`` near ``planned_ns`` losing ``minutes`` of events; filled in when applied."""

    replica: Replica
    planned_ns: int
    minutes: float
    instance_id: str
    applied: bool = False
    start_ns: int = 0
    end_ns: int = 0
    missing: list[str] = field(default_factory=list)
    lines: list[Exchange] = field(default_factory=list)


def _served_manifest(exchange: Exchange) -> bool:
    return exchange.logged and exchange.status < 300 and "/manifests/" in exchange.uri


def _acceptable(window: list[Exchange]) -> bool:
    signing = any(e.action == "push" and (e.tag or "").endswith(".sig") for x in window for e in x.events)
    return not signing and any(_served_manifest(exchange) for exchange in window)


def apply_gap(gap: Gap, exchanges: list[Exchange], since: int, until: int) -> None:
    """Place the lost window inside ``[since, until)`` if it fits there, drop its events, restart the
    replica (the engine stamps later events with the new instance id)."""
    source = gap.replica.source_addr
    length = int(gap.minutes * MINUTE)
    mine = [x for x in exchanges if x.events and x.events[0].source_addr == source]
    for shift in range(0, SEARCH_MINUTES, 2):
        start = gap.planned_ns + shift * MINUTE
        if start < since:
            continue
        if start + length > until:
            return
        window = [x for x in mine if start <= x.start_ns < start + length]
        if _acceptable(window):
            break
    else:
        return
    gap.applied, gap.start_ns, gap.end_ns = True, start, start + length
    for exchange in window:
        gap.missing.extend(event.event_id for event in exchange.events)
        exchange.events = []
        gap.lines.append(exchange)
    gap.replica.restart(gap.end_ns, gap.instance_id)
