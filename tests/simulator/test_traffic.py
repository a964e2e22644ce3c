"""Simulated traffic has the captured shapes, is ordered, deterministic, and never leaks 401/403/404 events."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

from regaudit.simulator import Simulation, simulate
from tests.simulator.conftest import Parsed
from tests.simulator.test_wire import ACCESS_KEYS, COMBINED

SAMPLES = Path(__file__).parents[1] / "fixtures" / "samples"
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")


def _captured_shapes() -> tuple[set[tuple[str, ...]], set[tuple[str, tuple[str, ...]]], set[tuple[str, ...]]]:
    events, targets, requests = set(), set(), set()
    for capture in SAMPLES.glob("distribution-2.8.2-*.events.jsonl"):
        for line in capture.read_text().splitlines():
            event = json.loads(line)["body"]["events"][0]
            events.add(tuple(event))
            targets.add((event["action"], tuple(key for key in event["target"] if key != "references")))
            requests.add(tuple(event["request"]))
    return events, targets, requests


def test_every_body_is_a_one_event_envelope_shaped_like_the_captures(small: Parsed) -> None:
    events, targets, requests = _captured_shapes()
    for notification in small.traffic.notifications:
        body = json.loads(notification.body)
        assert list(body) == ["events"]
        assert len(body["events"]) == 1
        event = body["events"][0]
        assert tuple(event) in events
        assert (event["action"], tuple(event["target"])) in targets, event
        assert tuple(event["request"]) in requests
        assert list(event["actor"]) in ([], ["name"])
        assert list(event["source"]) == ["addr", "instanceID"]
        assert TIMESTAMP.match(event["timestamp"]), event["timestamp"]


def test_traffic_mixes_the_registry_quirks(month: Parsed) -> None:
    events = month.events
    offsets = Counter(e["timestamp"][-6:] if not e["timestamp"].endswith("Z") else "Z" for e in events)
    assert offsets["Z"] > 0.8 * len(events)
    assert set(offsets) - {"Z"} <= {"+01:00", "+02:00"}
    assert any(":" in e["request"]["addr"] for e in events), "ip:port addresses (nginx's public location)"
    assert any(e["actor"] == {} for e in events)
    assert any(e["action"] == "mount" for e in events)
    assert any(e["request"]["method"] == "HEAD" and e["action"] == "pull" for e in events)
    assert any(e["target"].get("tag", "").endswith(".sig") for e in events)
    media = {e["target"].get("mediaType") for e in events}
    assert {"application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.v2+json"} <= media
    deletes = [e for e in events if e["action"] == "delete"]
    by_request = Counter(e["request"]["id"] for e in deletes)
    assert any(count > 1 for count in by_request.values()), "a digest delete followed by its tag deletes"
    bodies = Counter(n.body for n in month.traffic.notifications)
    assert 0 < sum(count - 1 for count in bodies.values()) < 0.01 * len(events), "a few timed-out retries"
    instances = {(e["source"]["addr"], e["source"]["instanceID"]) for e in events}
    assert len(instances) > 3, "replicas restart"


def test_every_access_line_is_json_with_the_formats_keys(small: Parsed) -> None:
    for line in small.lines:
        assert list(line) == ACCESS_KEYS
        assert all(isinstance(value, str) for value in line.values())
        assert line["status"].isdigit()
        assert line["auth"] in ("none", "basic")
    statuses = Counter(line["status"] for line in small.lines)
    assert {"200", "201", "202", "401", "404"} <= set(statuses)
    assert any(line["uri"].startswith("/v2/_catalog") for line in small.lines)
    assert any(line["xff"] for line in small.lines), "office clients come through the egress proxy"


def test_combined_format_lines_match_nginx_combined() -> None:
    traffic = simulate(3, days=2, scale=0.3, access_format="combined")
    assert traffic.access_lines
    for line in traffic.access_lines:
        assert COMBINED.match(line.decode()), line


def test_sizes_at_scale_one_are_a_month_of_a_mid_sized_registry(month: Parsed) -> None:
    assert 60_000 <= len(month.traffic.notifications) <= 120_000
    assert 0.8 <= len(month.lines) / len(month.traffic.notifications) <= 1.8
    assert len(month.traffic.identities) >= 200
    repositories = {e["target"]["repository"] for e in month.events}
    personal = set(month.traffic.facts["personal_repositories"])  # one or two per night worker (issue 16)
    assert 40 <= len(repositories - personal) <= 80
    assert 4 <= len(repositories & personal) <= 40


def test_notifications_and_lines_are_in_time_order(small: Parsed) -> None:
    posted = [n.posted_at for n in small.traffic.notifications]
    assert posted == sorted(posted)
    written = [float(line["msec"]) for line in small.lines]
    assert written == sorted(written)
    assert small.traffic.start <= posted[0]
    assert posted[-1] <= small.traffic.end + timedelta(hours=3)


def test_each_notification_is_posted_after_its_event(small: Parsed) -> None:
    for notification, event in zip(small.traffic.notifications, small.events, strict=True):
        stamp = datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", event["timestamp"]).replace("Z", "+00:00"))
        assert timedelta(0) <= notification.posted_at - stamp < timedelta(seconds=5)


def test_refused_and_missing_requests_have_no_notification(small: Parsed) -> None:
    """401 (bad password), 403 (nginx deny) and 404 lines: no event for that repository and reference while
    the request was in flight."""
    by_key: dict[tuple[str, str], list[float]] = {}
    for event in small.events:
        target = event["target"]
        stamp = datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", event["timestamp"]).replace("Z", "+00:00"))
        for ref in (target.get("tag"), target.get("digest")):
            if ref:
                by_key.setdefault((target["repository"], ref), []).append(stamp.timestamp())
    refused = [line for line in small.lines if line["status"] in ("401", "403", "404")]
    assert len(refused) > 100
    for line in refused:
        path = line["uri"].split("?")[0]
        match = re.match(r"^/v2/(?P<name>.+)/(manifests|blobs)/(?P<ref>[^/]+)$", path)
        if match is None:
            continue
        end = float(line["msec"])
        begin = end - float(line["request_time"]) - 0.001
        hits = [t for t in by_key.get((match["name"], match["ref"]), []) if begin <= t <= end + 0.001]
        assert not hits, line


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    first, again = simulate(11, days=2, scale=0.3), simulate(11, days=2, scale=0.3)
    assert first.notifications == again.notifications
    assert first.access_lines == again.access_lines
    assert first.labels == again.labels
    assert first.credentials == again.credentials
    other = simulate(12, days=2, scale=0.3)
    assert other.notifications != first.notifications


def test_chunks_stream_the_same_traffic_as_simulate() -> None:
    whole = simulate(5, days=3, scale=0.3)
    simulation = Simulation(5, days=3, scale=0.3)
    notifications, lines = [], []
    for chunk in simulation.chunks():
        notifications += chunk.notifications
        lines += chunk.access_lines
    assert notifications == whole.notifications
    assert lines == whole.access_lines
    assert simulation.labels == whole.labels


def test_quiet_traffic_has_no_labels_and_the_same_organisation(quiet: Parsed, small: Parsed) -> None:
    assert quiet.traffic.labels == []
    assert quiet.traffic.org == small.traffic.org
    normal = {identity.name for identity in quiet.traffic.identities}
    assert normal <= {identity.name for identity in small.traffic.identities}


def test_output_does_not_depend_on_the_interpreters_hash_seed() -> None:
    """Set iteration order changes with PYTHONHASHSEED; nothing the simulator emits may depend on it."""
    script = (
        "import hashlib; from regaudit.simulator import simulate; t = simulate(3, days=2, scale=0.3); "
        "print(hashlib.sha256(b''.join(n.body for n in t.notifications) + b''.join(t.access_lines)).hexdigest())"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed},
            check=True,
            capture_output=True,
            text=True,
        ).stdout  # fmt: skip
        for seed in ("1", "2")
    }
    assert len(digests) == 1
