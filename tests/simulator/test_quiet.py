"""Normal traffic stays clear of what the detections look for, so that only injected incidents fire."""

from __future__ import annotations

import ipaddress
import json
import re
from datetime import datetime
from fnmatch import fnmatchcase
from zoneinfo import ZoneInfo

from tests.simulator.conftest import Parsed

RELEASE = re.compile(r"^v?\d+\.\d+(\.\d+)?([-+][0-9A-Za-z.+-]+)?$")


def _inside(address: str, cidrs: list[str]) -> bool:
    ip = ipaddress.ip_address(address.rsplit(":", 1)[0] if address.count(":") == 1 else address)
    return any(ip in ipaddress.ip_network(cidr) for cidr in cidrs)


def _when(event: dict) -> datetime:
    return datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", event["timestamp"]).replace("Z", "+00:00"))


def _manifest_pushes(quiet: Parsed) -> list[dict]:
    return [e for e in quiet.events if e["action"] == "push" and e["target"]["mediaType"] != "application/octet-stream"]


def test_people_push_only_to_sandboxes_and_off_hours_only_by_habit(quiet: Parsed) -> None:
    """Off-hours pushes by people are the night workers' in their own namespace, or the Saturday pushers' in
    their team's sandbox on Saturdays (issue 16: real organisations do both); nobody else pushes off hours."""
    org, facts = quiet.traffic.org, quiet.traffic.facts
    zone = ZoneInfo(str(org["timezone"]))
    sandboxes = set(facts["sandbox_repositories"]) | set(facts["personal_repositories"])
    for event in _manifest_pushes(quiet):
        actor, repository = event["actor"]["name"], event["target"]["repository"]
        if actor not in facts["human_identities"]:
            continue
        assert repository in sandboxes, event
        local = _when(event).astimezone(zone)
        if local.weekday() < 5 and 8 <= local.hour < 19:
            continue
        own = repository in (f"sandbox/{actor}",) or repository.startswith(f"{actor}/")
        saturday = actor in facts["saturday_pushers"] and local.weekday() == 5
        assert (actor in facts["night_workers"] and own) or (saturday and repository.endswith("/sandbox")), event


def test_ci_pushes_only_from_ci_networks(quiet: Parsed) -> None:
    org = quiet.traffic.org
    for event in _manifest_pushes(quiet):
        if event["actor"]["name"] in org["ci_identities"]:
            assert _inside(event["request"]["addr"], org["ci_networks"]), event


def test_release_tags_never_move_and_only_rollbacks_move_latest_back(quiet: Parsed) -> None:
    """A tag moves back only as a rollback (issue 16): CI moves ``latest`` back to the digest it held just
    before, within hours of the release it undoes."""
    org = quiet.traffic.org
    history: dict[tuple[str, str], list[tuple[str, datetime]]] = {}
    for event in _manifest_pushes(quiet):
        tag = event["target"].get("tag")
        if tag and not tag.endswith(".sig"):
            seen = history.setdefault((event["target"]["repository"], tag), [])
            digest, when = event["target"]["digest"], _when(event)
            if seen and seen[-1][0] != digest:
                assert not RELEASE.match(tag), event
                if digest in [held for held, _ in seen]:
                    assert tag == "latest", event
                    assert event["actor"]["name"] in org["ci_identities"], event
                    assert len(seen) >= 2, event
                    assert seen[-2][0] == digest, event
                    assert (when - seen[-1][1]).total_seconds() < 6 * 3600, event
            seen.append((digest, when))


def test_no_anonymous_private_pulls_no_protected_deletes(quiet: Parsed) -> None:
    org = quiet.traffic.org
    for event in quiet.events:
        repository = event["target"]["repository"]
        if event["actor"] == {}:
            assert any(fnmatchcase(repository, glob) for glob in org["public_repositories"])
        if event["action"] == "delete":
            assert not any(fnmatchcase(repository, glob) for glob in org["protected_repositories"])


def test_production_runs_only_signed_images(quiet: Parsed) -> None:
    org = quiet.traffic.org
    signed, pushed = set(), set()
    for event in quiet.events:
        tag = event["target"].get("tag") or ""
        if event["action"] == "push":
            pushed.add(event["target"]["digest"])
            if tag.endswith(".sig"):
                signed.add("sha256:" + tag.removeprefix("sha256-").removesuffix(".sig"))
        elif event["actor"].get("name") in org["production_identities"] and tag:
            digest = event["target"]["digest"]
            assert digest in signed or digest not in pushed, event  # older images were signed before the window


def test_every_identity_keeps_its_networks_and_clients(quiet: Parsed) -> None:
    identities = {identity.name: identity for identity in quiet.traffic.identities}
    for event in quiet.events:
        name = event["actor"].get("name")
        if name and identities[name].networks:
            assert _inside(event["request"]["addr"], list(identities[name].networks)), event


def test_no_refused_logins_in_bursts(quiet: Parsed) -> None:
    failures: dict[str, int] = {}
    for line in quiet.lines:
        if line["status"] == "401" and line["remote_user"]:
            failures[line["remote_user"]] = failures.get(line["remote_user"], 0) + 1
    assert max(failures.values(), default=0) <= 3
    assert not any(line["status"] == "403" for line in quiet.lines)
    assert json.dumps(quiet.traffic.org)
