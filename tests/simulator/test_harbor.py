"""The simulated Harbor instance (``regaudit.simulator.harbor``): Harbor's own renderings, what Harbor leaves out,
and only the incidents Harbor's data can show."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from regaudit.analytics.evaluation import KINDS
from regaudit.analytics.registry import default_registry
from regaudit.ingest.sources.harbor.events import parse
from regaudit.schemas.sources import missing
from regaudit.simulator import Simulation
from regaudit.simulator.harbor import (
    CLOUDEVENTS_TYPE,
    DEFAULT_TYPE,
    HARBOR_KINDS,
    HarborTraffic,
    harbor_posts,
    harbor_seed,
    simulate_harbor,
)
from regaudit.simulator.model import KIND_FAMILY

FIXTURES = Path(__file__).parents[1] / "fixtures" / "harbor"
DAYS = 10


@pytest.fixture(scope="module")
def harbor() -> HarborTraffic:
    return simulate_harbor(7, days=DAYS, scale=0.35)


def keys(value: object) -> object:
    """The JSON's key order, recursively (values dropped): what Go's encoder fixes and a rendering must keep."""
    if isinstance(value, dict):
        return [(key, keys(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [keys(item) for item in value[:1]]
    return None


def test_every_post_is_a_harbor_event_the_receiver_accepts(harbor: HarborTraffic) -> None:
    reasons = Counter(parse(post.body)[1] for post in harbor.posts)
    assert reasons == Counter({None: len(harbor.posts)})
    assert {post.content_type for post in harbor.posts} == {DEFAULT_TYPE, CLOUDEVENTS_TYPE}


def test_bodies_are_rendered_as_harbor_renders_them(harbor: HarborTraffic) -> None:
    default = next(post for post in harbor.posts if post.content_type == DEFAULT_TYPE and b"PULL_ARTIFACT" in post.body)
    expected = (FIXTURES / "busybox-pulled.default.json").read_bytes()  # the formatter test's exact bytes
    assert keys(json.loads(default.body)) == keys(json.loads(expected))
    assert b": " not in default.body  # json.Marshal: compact
    assert b"\n" not in default.body
    cloud = json.loads(next(post.body for post in harbor.posts if post.content_type == CLOUDEVENTS_TYPE))
    attributes = ["specversion", "id", "source", "type", "datacontenttype", "time", "data", "operator", "requestid"]
    assert list(cloud) == attributes  # sdk-go WriteJson's order, then the extensions
    assert keys(cloud["data"]) == keys(json.loads(expected)["event_data"])


def test_harbor_sends_nothing_for_blobs_heads_and_tag_deletes() -> None:
    chunks = list(Simulation(harbor_seed(7), days=2, scale=0.35).chunks())
    events = [json.loads(n.body)["events"][0] for chunk in chunks for n in chunk.notifications]
    manifests = Counter(
        e["action"]
        for e in events
        if ("manifest" in e["target"].get("mediaType", "") and e["request"]["method"] in ("GET", "PUT"))
        or (e["action"] == "delete" and "digest" in e["target"] and "tag" not in e["target"])
    )
    posts = [post for chunk in chunks for post in harbor_posts(chunk.notifications)]
    types = Counter(json.loads(post.body).get("type", "") for post in posts)
    sent = Counter({"push": 0, "pull": 0, "delete": 0})
    for name, count in types.items():
        sent[next(a for a in ("push", "pull", "delete") if a in name.lower())] += count
    assert sent == Counter({action: manifests[action] for action in ("push", "pull", "delete")})
    assert not [post for post in posts if b"blob" in post.body or b'"HEAD"' in post.body]


def test_the_same_seed_gives_the_same_bytes() -> None:
    first, second = simulate_harbor(2, days=1, scale=0.35), simulate_harbor(2, days=1, scale=0.35)
    assert first.posts == second.posts


def test_labels_are_only_what_harbor_can_show(harbor: HarborTraffic) -> None:
    assert harbor.labels
    assert {label.kind for label in harbor.labels} <= HARBOR_KINDS
    assert all(label.event_ids == () for label in harbor.labels)  # Harbor's event ids are the receiver's digests


def test_harbor_kinds_are_the_kinds_a_detection_that_applies_to_harbor_catches() -> None:
    registry = default_registry()
    applies = {
        kind for detection_id, kind in KINDS.items() if not missing(registry.get(detection_id).needs or (), ["harbor"])
    }
    assert applies == HARBOR_KINDS
    assert set(KIND_FAMILY) >= HARBOR_KINDS
