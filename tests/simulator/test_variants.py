"""The incident variants of issue 16 are labeled with what a finding can name and have the shape they claim."""

from __future__ import annotations

import ipaddress
import json
from datetime import timedelta

from regaudit.simulator import KIND_FAMILY
from tests.simulator.conftest import Parsed
from tests.simulator.test_quiet import _when

OCTET = "application/octet-stream"
VARIANTS = {
    "slow_exfiltration": "identity",
    "blob_exfiltration": "identity",
    "egress_burst": "identity",
    "dormant_robot_external": "address",
    "protected_tag_by_human": "tag",
    "habitual_pusher_protected": "repository",
    "slow_brute_force": "address",
}


def _labels(parsed: Parsed, kind: str) -> list:
    return [label for label in parsed.traffic.labels if label.kind == kind]


def _events(parsed: Parsed, label) -> list[dict]:  # type: ignore[no-untyped-def]
    wanted = set(label.event_ids)
    return [event for event in parsed.events if event["id"] in wanted]


def test_every_variant_is_labeled_with_what_a_finding_names(small: Parsed) -> None:
    for kind, part in VARIANTS.items():
        assert kind in KIND_FAMILY
        labels = _labels(small, kind)
        assert labels, kind
        for label in labels:
            assert getattr(label, part), (kind, label)
            assert label.start < label.end, label


def test_blob_exfiltration_is_fifty_blob_gets_of_over_ten_gb_and_no_manifest(month: Parsed) -> None:
    for label in _labels(month, "blob_exfiltration"):
        events = _events(month, label)
        assert len(events) == 50
        assert all(event["target"]["mediaType"] == OCTET for event in events)
        assert all(event["request"]["method"] == "GET" for event in events)
        assert sum(event["target"]["size"] for event in events) > 10e9
        assert label.end - label.start < timedelta(hours=1)


def test_slow_exfiltration_spreads_over_hours_and_egress_burst_fits_in_one(month: Parsed) -> None:
    for label in _labels(month, "slow_exfiltration"):
        assert label.end - label.start >= timedelta(hours=4)
        assert len({event["target"]["repository"] for event in _events(month, label)}) >= 25
    for label in _labels(month, "egress_burst"):
        assert label.end - label.start <= timedelta(hours=1)
        assert label.identity in month.traffic.facts["heavy_pullers"]


def test_a_dormant_robot_resumes_at_night_from_outside_after_weeks_inside(month: Parsed) -> None:
    internal = [ipaddress.ip_network(net) for net in month.traffic.org["internal_networks"]]
    for label in _labels(month, "dormant_robot_external"):
        assert not any(ipaddress.ip_address(label.address) in net for net in internal)
        earlier = [e for e in month.events if e["actor"].get("name") == label.identity and _when(e) < label.start]
        assert earlier
        assert all(any(ipaddress.ip_address(e["request"]["addr"]) in net for net in internal) for e in earlier)
        assert label.start - max(_when(e) for e in earlier) >= timedelta(days=14)


def test_slow_brute_force_stays_below_one_attempt_a_minute(month: Parsed) -> None:
    for label in _labels(month, "slow_brute_force"):
        ids = set(label.proxy_request_ids)
        lines = sorted(float(line["msec"]) for line in month.lines if line["req_id"] in ids and line["remote_user"])
        assert len(lines) >= 40
        assert min(later - earlier for earlier, later in zip(lines, lines[1:], strict=False)) >= 60
        assert json.dumps(label.to_dict())
