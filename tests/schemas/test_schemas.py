from __future__ import annotations

import json
import re
from importlib import resources

import pytest
from pydantic import ValidationError

from regaudit.ingest import store
from regaudit.ingest.sources.distribution.envelope import split_envelope
from regaudit.schemas.access import COMBINED_PATTERN, CombinedLine, NginxRecord
from regaudit.schemas.export import SCHEMA_DIR, schema_documents
from regaudit.schemas.registry import Event, StrictEnvelope
from regaudit.schemas.rows import CANONICAL_ROWS, UPGRADED_ROWS
from tests.samples import RECEIVED_AT, SAMPLES, posts

SCHEMA_SQL = resources.files("regaudit.ingest").joinpath("schema.sql").read_text()


def test_exported_json_schemas_are_in_sync_with_the_models():
    on_disk = {p.name: p.read_text() for p in SCHEMA_DIR.glob("*.schema.json")}
    assert on_disk == schema_documents(), "run `regaudit schemas` and commit schemas/json"


@pytest.mark.parametrize("capture", sorted(SAMPLES.glob("*.events.jsonl")), ids=lambda p: p.name)
def test_every_captured_envelope_validates(capture):
    for post in posts(capture):
        envelope = StrictEnvelope.model_validate(post["body"])
        assert all(event.timestamp.utcoffset().total_seconds() == 0 for event in envelope.events)


def test_nginx_records_of_both_json_dialects_validate():
    for line in (SAMPLES / "nginx-1.22-registry.access.json.log").read_text().splitlines():
        record = NginxRecord.model_validate_json(line)
        assert record.method
        assert record.uri
        assert record.status
        assert record.ts
    for line in (SAMPLES / "nginx-1.22-registry.access.combined.log").read_text().splitlines():
        match = COMBINED_PATTERN.match(line)
        assert match, line
        CombinedLine.model_validate(match.groupdict())


def test_events_need_id_timestamp_action_and_repository():
    good = posts(SAMPLES / "distribution-2.8.2-htpasswd.events.jsonl")[0]["body"]["events"][0]
    Event.model_validate(good)
    for field in ("id", "timestamp", "action"):
        with pytest.raises(ValidationError, match=field):
            Event.model_validate({k: v for k, v in good.items() if k != field})
    with pytest.raises(ValidationError, match="repository"):
        Event.model_validate(good | {"target": {"digest": "sha256:1"}})
    with pytest.raises(ValidationError, match="RFC 3339"):
        Event.model_validate(good | {"timestamp": "2026-11-26 19:21:27"})


def table_columns(table):
    body = re.search(rf"CREATE TABLE IF NOT EXISTS {table} \((.*?)\n\);", SCHEMA_SQL, re.S).group(1)
    return [
        line.split()[0]
        for line in body.strip().splitlines()
        if line.strip() and not line.strip().startswith(("PRIMARY", "--"))
    ]


@pytest.mark.parametrize("table", sorted(set(CANONICAL_ROWS) - set(UPGRADED_ROWS)))
def test_canonical_row_models_document_every_store_column(table):
    model = CANONICAL_ROWS[table]
    assert list(model.model_fields) == table_columns(table)
    assert all(field.description for field in model.model_fields.values())


@pytest.mark.parametrize("table", sorted(UPGRADED_ROWS))
def test_upgraded_row_models_document_every_column_of_an_upgraded_store(table, tmp_path):
    with store.writer(tmp_path / "store.duckdb") as con:
        columns = [
            name
            for (name,) in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = $table"
                " ORDER BY ordinal_position",
                {"table": table},
            ).fetchall()
        ]
    model = UPGRADED_ROWS[table]
    assert list(model.model_fields) == columns
    assert all(field.description for field in model.model_fields.values())


def test_timestamps_end_in_at():
    for model in (*CANONICAL_ROWS.values(), *UPGRADED_ROWS.values()):
        for name, field in model.model_fields.items():
            if "datetime" in str(field.annotation):
                assert name.endswith("_at"), f"{model.__name__}.{name}"
    assert json.loads(next(iter(schema_documents().values())))


@pytest.mark.parametrize(
    ("timestamp", "shown"),
    [
        ("9999-12-31T23:59:59Z", "9999-12-31T23:59:59+00:00"),
        ("9999-12-31T23:59:59-23:59", "9999-12-31T23:59:59-23:59"),  # year 10000 in UTC: no overflow on the way
        ("1999-12-31T23:59:59Z", "1999-12-31T23:59:59+00:00"),
    ],
)
def test_event_timestamps_outside_the_sane_window_are_refused_with_the_reason(timestamp, shown):
    event = {"id": "x", "timestamp": timestamp, "action": "push", "target": {"repository": "r"}}
    with pytest.raises(ValidationError, match=f"timestamp {re.escape(shown)} outside 2000-01-01..2200-01-01"):
        Event.model_validate(event)


def test_a_webhook_post_with_an_overflowing_timestamp_is_a_dead_letter_with_the_reason():
    event = {"id": "x", "timestamp": "9999-12-31T23:59:59-23:59", "action": "push", "target": {"repository": "r"}}
    body = json.dumps({"events": [event]}).encode()
    parsed = split_envelope(body, origin="webhook:r1", received_at=RECEIVED_AT, registry="main", content_type=None)
    assert parsed.events == []
    (dead,) = parsed.dead_letters
    assert dead.reason == (
        "invalid event: timestamp: Value error, timestamp 9999-12-31T23:59:59-23:59 outside 2000-01-01..2200-01-01"
    )


@pytest.mark.parametrize(
    "fields",
    [
        {"ts": "9999-12-31T23:59:59-23:59"},
        {"ts": "9999-12-31T23:59:59Z"},
        {"msec": "253402300799.000"},
        {"time": "1999-12-31T23:59:59+00:00"},
    ],
)
def test_nginx_times_outside_the_sane_window_are_refused(fields):
    with pytest.raises(ValidationError, match=r"outside 2000-01-01\.\.2200-01-01"):
        NginxRecord.model_validate({"method": "GET", "uri": "/v2/", **fields})


def test_a_combined_line_outside_the_sane_window_is_refused():
    line = '10.0.0.1 - - [31/Dec/9999:23:59:59 -2359] "GET /v2/ HTTP/1.1" 200 2 "-" "curl/8"'
    match = COMBINED_PATTERN.match(line)
    assert match
    with pytest.raises(ValidationError, match=r"time_local[\s\S]*outside 2000-01-01\.\.2200-01-01"):
        CombinedLine.model_validate(match.groupdict())
