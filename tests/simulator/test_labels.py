"""Labels point at real traffic, cover every kind, and come in the advertised numbers."""

from __future__ import annotations

from collections import Counter

from regaudit.simulator import KIND_FAMILY
from tests.simulator.conftest import Parsed

TRAFFIC_KINDS = set(KIND_FAMILY) - {"never_used_credential", "unrotated_credential"}
PROXY_ONLY = {"brute_force", "password_spray", "authorization_probing", "audit_gap", "slow_brute_force"}


def test_each_label_names_events_requests_and_lines_that_exist(small: Parsed) -> None:
    event_ids = small.event_ids
    request_ids = {event["request"]["id"] for event in small.events}
    line_ids = {line["req_id"] for line in small.lines}
    for label in small.traffic.labels:
        assert set(label.event_ids) <= event_ids, label.kind
        assert set(label.request_ids) <= request_ids, label.kind
        assert set(label.proxy_request_ids) <= line_ids, label.kind
        assert not set(label.missing_event_ids) & event_ids, label.kind
        assert label.family == KIND_FAMILY[label.kind]
        assert label.start <= label.end


def test_labels_carry_the_evidence_their_kind_needs(small: Parsed) -> None:
    for label in small.traffic.labels:
        if label.kind in TRAFFIC_KINDS - PROXY_ONLY:
            assert label.event_ids, label
        if label.kind in PROXY_ONLY:
            assert label.proxy_request_ids, label
            assert not label.event_ids, label
        if label.kind == "audit_gap":
            assert label.missing_event_ids, label
        if label.kind == "anonymous_pull":
            assert not label.proxy_request_ids, "it bypassed nginx"


def test_a_month_injects_three_to_five_of_every_kind(month: Parsed) -> None:
    counts = Counter(label.kind for label in month.traffic.labels)
    assert set(counts) == set(KIND_FAMILY)
    for kind in TRAFFIC_KINDS:
        assert 2 <= counts[kind] <= 6, (kind, counts[kind])


def test_small_runs_still_inject_every_traffic_kind(small: Parsed) -> None:
    assert {label.kind for label in small.traffic.labels} >= TRAFFIC_KINDS


def test_one_identity_carries_at_most_one_incident(month: Parsed) -> None:
    kinds_by_identity: dict[str, set[str]] = {}
    for label in month.traffic.labels:
        if (
            label.identity
            and label.kind in TRAFFIC_KINDS
            and label.kind not in ("release_tag_overwrite", "tag_moved_back", "unsigned_production_pull")
        ):
            kinds_by_identity.setdefault(label.identity, set()).add(label.kind)
    assert all(len(kinds) == 1 for kinds in kinds_by_identity.values()), kinds_by_identity


def test_stale_inventory_rows_are_labelled(month: Parsed) -> None:
    credentials = {row.name: row for row in month.traffic.credentials}
    active = {event["actor"].get("name") for event in month.events}
    for label in month.traffic.labels:
        if label.kind == "never_used_credential":
            assert label.subject in credentials
            assert label.subject not in active
        if label.kind == "unrotated_credential":
            rotated = credentials[label.subject].rotated_at
            assert rotated is not None
            assert (month.traffic.start - rotated).days > 365
        if label.kind == "expired_credential_used":
            expires = credentials[label.subject].expires_at
            assert expires is not None
            assert expires < label.start


def test_each_also_names_a_kind_of_its_family(small: Parsed) -> None:
    """``also`` entries are ``family/kind`` of the detection the incident shows as (evaluation matches on them
    verbatim): a misspelt or mis-familied entry would silently score right findings as false."""
    for label in small.traffic.labels:
        for entry in label.also:
            family, _, kind = entry.partition("/")
            assert KIND_FAMILY.get(kind) == family, (label.kind, entry)


def test_incidents_that_show_as_other_families_say_so(small: Parsed) -> None:
    also = {label.kind: set(label.also) for label in small.traffic.labels}
    assert "stale_credential/dormant_robot_external" in also["new_network"]  # credential.first_external_use
    assert {"suspicious_push/first_push_to_repo", "suspicious_push/push_outside_ci"} <= also["protected_tag_by_human"]
