"""Traffic is generated in time order: a pull resolves a tag to the digest the tag had at that moment."""

from __future__ import annotations

from tests.simulator.conftest import Parsed
from tests.simulator.test_quiet import _when

OCTET = "application/octet-stream"


def _manifest_events(parsed: Parsed) -> list[dict]:
    events = [e for e in parsed.events if e["target"].get("mediaType") != OCTET]
    return sorted(events, key=_when)


def test_a_pull_by_tag_gets_the_digest_the_last_push_of_that_tag_put_there(month: Parsed) -> None:
    held: dict[tuple[str, str], str] = {}
    stale = []
    for event in _manifest_events(month):
        target = event["target"]
        key = (target["repository"], target.get("tag") or "")
        if event["action"] == "push" and target.get("tag"):
            held[key] = target["digest"]
        elif event["action"] == "delete" and target.get("tag"):
            held.pop(key, None)
        elif event["action"] == "pull" and target.get("tag") and key in held and held[key] != target["digest"]:
            stale.append(event)
    assert not stale, stale[:3]


def test_no_digest_is_pulled_before_the_window_first_pushes_it(month: Parsed) -> None:
    pushed: dict[tuple[str, str], object] = {}
    first_pull: dict[tuple[str, str], object] = {}
    for event in _manifest_events(month):
        if "digest" not in event["target"]:
            continue  # a tag delete
        key = (event["target"]["repository"], event["target"]["digest"])
        if event["action"] == "push":
            pushed.setdefault(key, _when(event))
        elif event["action"] == "pull":
            first_pull.setdefault(key, _when(event))
    early = [key for key, at in pushed.items() if key in first_pull and first_pull[key] < at]  # type: ignore[operator]
    assert not early, early[:3]
