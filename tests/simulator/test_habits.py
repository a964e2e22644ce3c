"""The benign habits issue 16 asked for are in the traffic: night and weekend work in personal namespaces,
Saturday pushers, rollbacks, new hires, a monthly job, quiet robots, CI cache fetches and a listing-only tool."""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from tests.simulator.conftest import Parsed
from tests.simulator.test_quiet import _manifest_pushes, _when

OCTET = "application/octet-stream"
MINUTE, HOUR = timedelta(minutes=1), timedelta(hours=1)


def _local(parsed: Parsed, event: dict) -> datetime:
    return _when(event).astimezone(ZoneInfo(str(parsed.traffic.org["timezone"])))


def _by_actor(parsed: Parsed) -> dict[str, list[dict]]:
    events: dict[str, list[dict]] = defaultdict(list)
    for event in parsed.events:
        events[event["actor"].get("name", "")].append(event)
    return events


def test_night_workers_push_to_their_own_namespace_at_night_and_at_weekends(month: Parsed) -> None:
    facts = month.traffic.facts
    night = weekend = 0
    for event in _manifest_pushes(month):
        actor, repository = event["actor"].get("name", ""), event["target"]["repository"]
        if actor in facts["night_workers"] and (repository == f"sandbox/{actor}" or repository.startswith(actor + "/")):
            local = _local(month, event)
            weekend += local.weekday() >= 5
            night += local.weekday() < 5 and local.hour >= 19
    assert night >= 5, night
    assert weekend >= 5, weekend
    assert any(name.startswith("sandbox/") for name in facts["personal_repositories"])
    assert any(not name.startswith("sandbox/") for name in facts["personal_repositories"])


def test_saturday_pushers_push_to_their_team_sandbox_every_saturday(month: Parsed) -> None:
    saturdays: dict[str, set[str]] = defaultdict(set)
    incidents = {event_id for label in month.traffic.labels for event_id in label.event_ids}
    for event in _manifest_pushes(month):
        actor = event["actor"].get("name", "")
        if event["id"] in incidents:
            continue
        local = _local(month, event)
        if actor in month.traffic.facts["saturday_pushers"] and local.weekday() == 5:
            assert event["target"]["repository"].endswith("/sandbox"), event
            saturdays[actor].add(local.date().isoformat())
    assert set(saturdays) == set(month.traffic.facts["saturday_pushers"])
    assert all(len(days) >= 4 for days in saturdays.values()), saturdays


def test_a_release_process_rolls_latest_back(month: Parsed) -> None:
    seen: dict[str, list[str]] = defaultdict(list)
    rollbacks = []
    for event in sorted(_manifest_pushes(month), key=_when):
        if event["target"].get("tag") == "latest" and event["actor"]["name"] in month.traffic.org["ci_identities"]:
            history, digest = seen[event["target"]["repository"]], event["target"]["digest"]
            if len(history) >= 2 and history[-2] == digest != history[-1]:
                rollbacks.append(event)
            history.append(digest)
    assert rollbacks


def test_new_hires_appear_mid_window_with_a_credential_created_then(month: Parsed) -> None:
    hires = month.traffic.facts["new_hires"]
    credentials = {row.name: row for row in month.traffic.credentials}
    events = _by_actor(month)
    assert hires
    for name, day in hires.items():
        hired = month.traffic.start + timedelta(days=day)
        assert hired - timedelta(days=1) <= credentials[name].created_at <= hired
        assert events[name], name
        assert min(_when(event) for event in events[name]) >= hired


def test_the_monthly_job_pulls_once_on_the_first_at_night_from_its_host(month: Parsed) -> None:
    (job,) = month.traffic.facts["monthly_jobs"]
    events = _by_actor(month)[job]
    assert events
    assert {_local(month, event).day for event in events} == {1}
    assert all(_local(month, event).hour < 5 for event in events)
    assert len({event["request"]["addr"] for event in events}) == 1


def test_quiet_robots_stop_for_weeks_and_resume_from_their_usual_network(month: Parsed) -> None:
    identities = {identity.name: identity for identity in month.traffic.identities}
    for robot in month.traffic.facts["quiet_robots"]:
        times = sorted(_when(event) for event in _by_actor(month)[robot])
        gap = max(later - earlier for earlier, later in zip(times, times[1:], strict=False))
        assert gap >= timedelta(days=14), (robot, gap)
        for event in _by_actor(month)[robot]:
            address = ipaddress.ip_address(event["request"]["addr"])
            assert any(address in ipaddress.ip_network(net) for net in identities[robot].networks)


def test_ci_fetches_cached_layers_by_digest_without_a_manifest(month: Parsed) -> None:
    """Blob GETs from a CI runner with no manifest request from that runner in the minutes before."""
    org = month.traffic.org
    networks = [ipaddress.ip_network(net) for net in org["ci_networks"]]
    last_manifest: dict[str, datetime] = {}
    blob_only = 0
    for event in sorted(month.events, key=_when):
        if event["actor"].get("name") not in org["ci_identities"] or event["action"] != "pull":
            continue
        address, when = event["request"]["addr"], _when(event)
        if event["target"]["mediaType"] != OCTET:
            last_manifest[address] = when
        elif event["request"]["method"] == "GET" and when - last_manifest.get(address, when - HOUR) > 10 * MINUTE:
            assert any(ipaddress.ip_address(address) in net for net in networks), event
            blob_only += 1
    assert blob_only >= 50


def test_the_inventory_tool_only_lists_and_is_in_the_inventory(month: Parsed) -> None:
    (tool,) = month.traffic.facts["inventory_identities"]
    lines = [line for line in month.lines if line["remote_user"] == tool]
    assert lines
    assert not _by_actor(month)[tool]
    assert all("/_catalog" in line["uri"] or line["uri"].endswith("/tags/list")
               or line["uri"] == "/v2/" for line in lines)  # fmt: skip
    assert tool in {row.name for row in month.traffic.credentials}
