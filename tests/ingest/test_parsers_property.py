"""Untrusted input: no parser raises on any bytes, nothing is lost, and the two event validators agree.

The webhook validates envelopes with the pydantic wire models; the consumer validates batches in DuckDB SQL.
The differential test holds them to the same verdict on generated events, so a payload the webhook accepts is
never dead-lettered by the consumer, and the reverse.
"""

from __future__ import annotations

import contextlib
import json

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from regaudit.ingest.normalize import Normalizer
from regaudit.ingest.records import RawRecord
from regaudit.ingest.sources.distribution.envelope import split_envelope
from regaudit.schemas.registry import Event
from tests.samples import RECEIVED_AT

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def normalizer():
    n = Normalizer("default")
    yield n
    n.close()


@SETTINGS
@given(st.binary(max_size=400))
def test_split_envelope_never_raises_and_loses_nothing(body):
    parsed = split_envelope(body, origin="w:1", received_at=RECEIVED_AT, registry="r", content_type=None)
    if not parsed.events:
        document = None
        with contextlib.suppress(orjson.JSONDecodeError):
            document = orjson.loads(body)
        empty_envelope = isinstance(document, dict) and document.get("events", []) == []
        assert parsed.dead_letters or empty_envelope
    assert all(d.reason for d in parsed.dead_letters)


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(["event", "access"]), st.binary(max_size=300)), max_size=20))
def test_normalizer_never_raises_and_every_record_lands_somewhere(normalizer, items):
    records = [RawRecord(kind, value, f"k:{n}", RECEIVED_AT) for n, (kind, value) in enumerate(items)]
    batch = normalizer.normalize(records)
    landed = set(batch.events.column("origin").to_pylist())
    landed |= set(batch.access.column("origin").to_pylist())
    landed |= {o.split("#")[0] for o in batch.dead_letters.column("origin").to_pylist()}
    for record in records:
        if record.origin not in landed:  # only an envelope with no events may vanish
            assert record.kind == "event"
            assert orjson.loads(record.value).get("events") == []


def text_or_junk(text: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(text, st.just(""), st.none(), st.integers(-5, 5), st.booleans(), st.just([]), st.just({}))


timestamps = st.one_of(
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.sampled_from(
        [
            "2026-11-26T19:21:27.359655464Z",
            "2025-05-01T12:01:00.5-07:00",
            "2025-05-01T12:02:00Z",
            "2025-05-01 12:02:00",
            "2025-05-01T12:02:00",
            "2025-05-01",
            "yesterday",
            "2025-13-01T00:00:00Z",
            "2025-05-01T12:02:00+0000",
            "2025-05-01T12:02:00.Z",
            "2025-05-01T24:00:00Z",
        ]
    ),
    st.integers(),
)
names = st.text("abcdefgh/-_.:", min_size=1, max_size=12)
events = st.fixed_dictionaries(
    {},
    optional={
        "id": text_or_junk(names),
        "timestamp": timestamps,
        "action": text_or_junk(st.sampled_from(["push", "pull", "mount", "delete", "quarantine"])),
        "target": st.one_of(
            st.fixed_dictionaries(
                {},
                optional={
                    "repository": text_or_junk(names),
                    "tag": text_or_junk(names),
                    "digest": text_or_junk(names),
                    "mediaType": text_or_junk(names),
                    "size": st.one_of(st.integers(0, 2**40), st.just("12"), st.just(1.5), st.none()),
                    "url": text_or_junk(names),
                },
            ),
            st.just("team/app"),
            st.none(),
        ),
        "request": st.fixed_dictionaries(
            {},
            optional={
                "addr": text_or_junk(names),
                "method": text_or_junk(names),
                "useragent": text_or_junk(names),
            },
        ),
        "actor": st.fixed_dictionaries({}, optional={"name": text_or_junk(names)}),
    },
)


@SETTINGS
@given(events)
def test_sql_and_pydantic_agree_on_which_events_are_valid(normalizer, event):
    try:
        model = Event.model_validate(event)
        pydantic_ok = True
    except ValidationError:
        pydantic_ok = False
    batch = normalizer.normalize([RawRecord("event", json.dumps(event).encode(), "d:1", RECEIVED_AT, "r")])
    sql_ok = batch.events.num_rows == 1
    assert sql_ok == pydantic_ok, (event, batch.dead_letters.column("reason").to_pylist())
    if sql_ok:
        row = batch.events.to_pylist()[0]
        assert row["event_at"] == model.timestamp
        assert (row["repository"], row["tag"], row["actor"]) == (
            model.target.repository,
            model.target.tag,
            model.actor.name,
        )
