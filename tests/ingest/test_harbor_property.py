"""Untrusted Harbor bodies: neither the receiver's parse nor the normalizer raises, and every body lands somewhere."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regaudit.ingest.normalize import Normalizer
from regaudit.ingest.records import RawRecord
from regaudit.ingest.sources.harbor.audit import AUDIT_LOG_EXT_TYPE, parse_entry
from regaudit.ingest.sources.harbor.post import split_post
from regaudit.ingest.sources.harbor.syslog import parse_line
from tests.samples import RECEIVED_AT

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
FIXTURES = Path(__file__).parents[1] / "fixtures" / "harbor"
#: the published payloads that are JSON, as documents to mutate
DOCUMENTS = [json.loads(path.read_bytes()) for path in sorted(FIXTURES.glob("*.json")) if "-pushed.cloud" not in
             path.name and path.name != "artifact-pulled.cloudevents.json"]  # fmt: skip
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


@pytest.fixture(scope="module")
def normalizer():
    n = Normalizer("default")
    yield n
    n.close()


def mutate(document: dict, path: list[str], value: object) -> dict:
    """The document with the value at the first key path that exists (a key replaced at any depth)."""
    copy = json.loads(json.dumps(document))
    node = copy
    for key in path:
        if isinstance(node, dict) and key in node and isinstance(node[key], dict | list):
            node = node[key]
            continue
        if isinstance(node, dict):
            node[key] = value
        return copy
    if isinstance(node, dict) and node:
        node[next(iter(node))] = value
    return copy


FIELDS = ["type", "occur_at", "operator", "event_data", "data", "resources", "repository", "repo_full_name", "digest",
          "tag", "time", "specversion", "id", "requestid", "replication", "retention", "custom_attributes",
          "scan_overview"]  # fmt: skip
KEYS = st.lists(st.sampled_from(FIELDS), max_size=3)


def land(normalizer: Normalizer, body: bytes) -> None:
    """The receiver's verdict, and the normalizer's on the same bytes: one of them keeps it, with a reason if dead."""
    parsed = split_post(body, origin="w:1", received_at=RECEIVED_AT, instance="h", content_type=None, max_depth=64)
    assert len(parsed.events) + len(parsed.dead_letters) == 1
    assert all(dead.reason for dead in parsed.dead_letters)
    record = RawRecord("event", body, "k:1", RECEIVED_AT, "h", None, None, None, "harbor")
    batch = normalizer.normalize([record])
    events, _, dead = batch.counts
    if parsed.events:  # the receiver accepted it: the normalizer stores it, never dead-letters it
        assert events >= 1
        assert dead == 0
    else:
        assert (events, dead) == (0, 1)


@SETTINGS
@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_raise_and_land_once(normalizer, body):
    land(normalizer, body)


@SETTINGS
@given(st.sampled_from(DOCUMENTS), KEYS, JSON_VALUES)
def test_published_payloads_with_any_field_replaced_never_raise(normalizer, document, path, value):
    land(normalizer, json.dumps(mutate(document, path, value)).encode())


AUDIT = Path(__file__).parents[1] / "fixtures" / "harbor" / "audit"
AUDIT_ROWS = json.loads((AUDIT / "audit-log-exts.webhook-events.json").read_text())
FORWARDED = (AUDIT / "audit-forward.webhook-events.log").read_bytes().splitlines()


@SETTINGS
@given(row=st.sampled_from(AUDIT_ROWS), key=st.sampled_from(sorted(AUDIT_ROWS[0])), value=JSON_VALUES)
def test_an_audit_row_with_any_field_replaced_is_one_event_or_a_reason(row, key, value):
    rows, reason = parse_entry(json.dumps({**row, key: value}).encode(), AUDIT_LOG_EXT_TYPE)
    assert (len(rows), reason is None) in ((1, True), (0, False))


@SETTINGS
@given(line=st.sampled_from(FORWARDED), cut=st.integers(0, 400), noise=st.binary(max_size=40))
def test_a_forwarded_line_cut_or_spliced_with_any_bytes_is_one_event_or_a_reason(line, cut, noise):
    rows, reason = parse_line(line[:cut] + noise + line[cut:])
    assert (len(rows), reason is None) in ((1, True), (0, False))
