"""Simulations shared by the simulator tests: a small one for shapes, a full month for the label counts."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from regaudit.simulator import Traffic, simulate


@dataclass(frozen=True)
class Parsed:
    """A simulation with its notifications and access lines decoded once."""

    traffic: Traffic
    events: list[dict]
    lines: list[dict]

    @property
    def event_ids(self) -> set[str]:
        return {event["id"] for event in self.events}


def parse(traffic: Traffic) -> Parsed:
    events = [event for n in traffic.notifications for event in json.loads(n.body)["events"]]
    lines = [json.loads(line) for line in traffic.access_lines]
    return Parsed(traffic, events, lines)


@pytest.fixture(scope="session")
def small() -> Parsed:
    """Ten days at a third of the size: every shape and every incident kind, quickly."""
    return parse(simulate(7, days=10, scale=0.35))


@pytest.fixture(scope="session")
def month() -> Parsed:
    """The default: 30 days at scale 1, seed 1."""
    return parse(simulate(1))


@pytest.fixture(scope="session")
def quiet() -> Parsed:
    """Ten days without incidents: what detections must stay silent on."""
    return parse(simulate(7, days=10, scale=0.35, incidents=False))
