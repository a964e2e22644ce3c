"""Each registry source's real fixtures, as its real transport delivers them (issue 17, deliverable 6).

A ``WireSource`` says how a source's fixtures reach regaudit (a POST to the webhook, a log ``regaudit ship-logs``
follows), under which registry name its rows land, and what a person must find in ``image_activity`` afterwards
(who pushed or pulled what). ``SOURCES`` lists them; **a new source joins the end-to-end test with one entry
there** (its kind as in ``schemas/sources.py``'s ``CAPABILITIES``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.ingest.test_harbor_kafka import FIXTURES, HARBOR_POSTS
from tests.samples import SAMPLES, posts

WEBHOOK_TOKEN = "sources-e2e-webhook-token"  # noqa: S105 - the webhook's bearer token in these tests
#: the webhook's registry name for a POST to /events with none (webhook.registry's default)
DEFAULT_REGISTRY = "default"
NGINX_LOG = SAMPLES / "nginx-1.22-registry.access.json.log"
#: Distribution 2.8 behind that nginx: the same skopeo session, seen by the registry
DISTRIBUTION_CAPTURE = SAMPLES / "distribution-2.8.2-behind-nginx.events.jsonl"
HARBOR_ROBOT = "robot$harbor+wHSYCuGD-Trivy-8e2e7505-d1e6-11ed-9e71-0242ac130009"


@dataclass(frozen=True)
class Wire:
    """Where the running pipeline takes input: the webhook's URL, a folder for files, and how to ship a log."""

    url: str
    workdir: Path
    ship: Callable[[Path], None]


@dataclass(frozen=True)
class WireSource:
    """One source's fixtures: how to send them, where they land, and who did what: (identity, action, repository,
    tag, row source) as the activity explorer lists them (row source: ``registry`` for a registry's own event,
    ``proxy`` for a request only the proxy saw)."""

    kind: str
    registry: str
    send: Callable[[Wire], None]
    activity: frozenset[tuple[str | None, str, str, str | None, str]]


def post_distribution(wire: Wire) -> None:
    with httpx.Client(timeout=30) as client:
        for item in posts(DISTRIBUTION_CAPTURE):
            headers = {"Authorization": f"Bearer {WEBHOOK_TOKEN}", "Content-Type": item["headers"]["Content-Type"]}
            response = client.post(f"{wire.url}/events", content=json.dumps(item["body"]), headers=headers)
            assert response.status_code == 200, response.text


def ship_nginx(wire: Wire) -> None:
    log = wire.workdir / "access.json.log"
    log.write_bytes(NGINX_LOG.read_bytes())
    wire.ship(log)


def post_harbor_fixtures(wire: Wire) -> None:
    """Harbor's documented session; its auth header is the bare token (a dead letter among them: not JSON)."""
    with httpx.Client(timeout=30) as client:
        for name, content_type in HARBOR_POSTS:
            headers = {"Content-Type": content_type, "Authorization": WEBHOOK_TOKEN}
            body = (FIXTURES / name).read_bytes()
            response = client.post(f"{wire.url}/events/harbor/harbor-prod", content=body, headers=headers)
            assert response.status_code == 200, response.text


SOURCES = [
    WireSource("distribution", DEFAULT_REGISTRY, post_distribution,
               frozenset({("ci-bot", "push", "team/app", "v1.0.0", "registry"),
                          ("alice", "pull", "team/app", "v1.0.0", "registry")})),
    WireSource("nginx", DEFAULT_REGISTRY, ship_nginx,
               frozenset({("alice", "pull", "team/app", "nosuchtag", "proxy"),  # a 404
                          ("alice", "pull", "team/app", "v1.0.0", "proxy")})),  # the 401 before the token
    WireSource("harbor", "harbor-prod", post_harbor_fixtures,
               frozenset({("admin", "pull", "library/busybox", None, "registry"),
                          ("harbor-jobservice", "push", "harbor/alpine", None, "registry"),
                          (HARBOR_ROBOT, "pull", "harbor/alpine", None, "registry"),
                          ("harbor-jobservice", "delete", "harbor/alpine", "3.8", "registry")})),
]  # fmt: skip
