"""What a source's end-to-end entry is made of (``tests/e2e/sources.py`` lists them): the running pipeline's
inputs (:class:`Wire`) and one source's fixtures with who did what in them (:class:`WireSource`). Its own module so
the source modules (``sources_self_hosted.py``, ``sources_hosted.py``) and ``sources.py`` import it without a cycle."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

WEBHOOK_TOKEN = "sources-e2e-webhook-token"  # noqa: S105 - the webhook's bearer token in these tests


@dataclass(frozen=True)
class Wire:
    """Where the running pipeline takes input: the webhook's URL, a folder for files, how to ship a log, and the
    environment a receiver process of the pipeline runs with (its store, broker and topics)."""

    url: str
    workdir: Path
    ship: Callable[[Path], None]
    env: dict[str, str] = field(default_factory=dict)


def no_settings(events_topic: str) -> dict[str, str]:
    """A source the pipeline's default settings already receive (the webhook's paths, ship-logs)."""
    del events_topic
    return {}


@dataclass(frozen=True)
class WireSource:
    """One source's fixtures: how to send them, where they land, and who did what: (identity, action, repository,
    tag, row source) as the activity explorer lists them (row source: ``registry`` for a registry's own event,
    ``proxy`` for a request only the proxy saw). ``settings`` gives the environment the pipeline's processes need
    for the source (a Kafka topic of its own that ``regaudit consume`` reads, a poller's account), from the name of
    the pipeline's events topic, so every process of the run shares one environment."""

    kind: str
    registry: str
    send: Callable[[Wire], None]
    activity: frozenset[tuple[str | None, str, str, str | None, str]]
    settings: Callable[[str], dict[str, str]] = no_settings
