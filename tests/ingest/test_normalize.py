from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import orjson
import pytest

from regaudit.ingest.normalize import Normalizer
from regaudit.ingest.records import RawRecord
from tests.samples import (
    ACCESS_CAPTURES,
    EVENT_CAPTURES,
    RECEIVED_AT,
    SAMPLES,
    access_records,
    event_records,
    posts,
)


@pytest.fixture
def normalizer():
    n = Normalizer("default")
    yield n
    n.close()


def event(**fields) -> RawRecord:
    base = {
        "id": "e1",
        "timestamp": "2025-05-01T12:00:03.41829Z",
        "action": "push",
        "target": {
            "repository": "team/api",
            "tag": "v1",
            "digest": "sha256:" + "a" * 64,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "size": 10,
        },
        "request": {"id": "r1", "addr": "10.0.0.1:5123", "method": "PUT", "useragent": "buildkit"},
        "actor": {"name": "ci-bot"},
        "source": {"addr": "registry-0:5000", "instanceID": "i1"},
    }
    base.update(fields)
    return RawRecord("event", orjson.dumps(base), "test:1", RECEIVED_AT, "reg")


@pytest.mark.parametrize("capture", EVENT_CAPTURES, ids=lambda p: p.name)
def test_every_captured_event_normalizes(normalizer, capture):
    records = event_records(capture)
    batch = normalizer.normalize(records)
    assert batch.counts == (len(records), 0, 0)
    expected_ids = {e["id"] for post in posts(capture) for e in post["body"]["events"]}
    assert set(batch.events.column("event_id").to_pylist()) == expected_ids


@pytest.mark.parametrize("capture", ACCESS_CAPTURES, ids=lambda p: p.name)
def test_every_captured_access_line_normalizes(normalizer, capture):
    records = access_records(capture)
    batch = normalizer.normalize(records)
    assert batch.counts == (0, len(records), 0)
    rows = batch.access.to_pylist()
    assert all(row["request_at"] is not None and row["status"] for row in rows)
    assert {row["endpoint"] for row in rows} >= {"ping", "manifest", "blob"}


def test_v28_manifest_delete_is_a_digest_delete_and_its_tag_delete_follows(normalizer):
    records = event_records(SAMPLES / "distribution-2.8.2-htpasswd.events.jsonl")  # alice deletes by digest
    rows = [r for r in normalizer.normalize(records).events.to_pylist() if r["action"] == "delete"]
    assert [(r["target_kind"], r["tag"] is None, r["digest"] is None) for r in rows] == [
        ("digest", True, False),
        ("tag", False, True),
    ]
    assert rows[0]["request_id"] == rows[1]["request_id"]


def test_timestamps_with_nanoseconds_and_offsets_become_utc(normalizer):
    batch = normalizer.normalize([event(timestamp="2025-05-01T12:01:00.123456789-07:00")])
    assert batch.events.column("event_at")[0].as_py().isoformat() == "2025-05-01T19:01:00.123456+00:00"


@pytest.mark.parametrize(
    ("addr", "expected"),
    [
        ("1.2.3.4", "1.2.3.4"),
        ("1.2.3.4:51234", "1.2.3.4"),
        ("[::1]:51234", "::1"),
        ("2001:db8::7", "2001:db8::7"),
    ],
)
def test_client_address_loses_port_and_brackets(normalizer, addr, expected):
    record = event(request={"id": "r", "addr": addr, "method": "GET", "useragent": ""})
    assert normalizer.normalize([record]).events.column("client_addr")[0].as_py() == expected


def test_anonymous_actor_is_null_and_v3_empty_delete_fields_are_missing(normalizer):
    v3_delete = event(
        action="delete",
        target={"mediaType": "", "digest": "", "size": 0, "repository": "team/api", "tag": "v1.4.1"},
        actor={},
    )
    row = normalizer.normalize([v3_delete]).events.to_pylist()[0]
    assert (row["actor"], row["media_type"], row["digest"], row["target_kind"]) == (None, None, None, "tag")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"\xff\xfe{}", "not UTF-8"),
        (b"{not json", "not JSON"),
        (b"[1, 2]", "event is not a JSON object"),
        (b'{"timestamp": "2025-05-01T12:00:00Z", "action": "push", "target": {"repository": "r"}}', "no id"),
        (
            b'{"id": "x", "timestamp": "yesterday", "action": "push", "target": {"repository": "r"}}',
            "timestamp",
        ),
        (b'{"id": "x", "timestamp": "2025-05-01T12:00:00Z", "target": {"repository": "r"}}', "no action"),
        (b'{"id": "x", "timestamp": "2025-05-01T12:00:00Z", "action": "push"}', "no target"),
        (
            b'{"id": "x", "timestamp": "2025-05-01T12:00:00Z", "action": "push", "target": {}}',
            "no repository",
        ),
        (
            b'{"id": "x", "timestamp": "2025-05-01T12:00:00Z", "action": "push", '
            b'"target": {"repository": "r", "size": "big"}}',
            "target.size",
        ),
        (
            b'{"id": "x", "timestamp": "2025-05-01T12:00:00Z", "action": "push", '
            b'"target": {"repository": "r", "tag": 5}}',
            "target.tag",
        ),
    ],
)
def test_bad_events_become_dead_letters_with_the_reason_and_raw_bytes(normalizer, value, reason):
    batch = normalizer.normalize([RawRecord("event", value, "kafka:t/0/7", RECEIVED_AT)])
    assert batch.counts == (0, 0, 1)
    dead = batch.dead_letters.to_pylist()[0]
    assert reason in dead["reason"]
    assert (dead["raw"], dead["origin"], dead["source"]) == (value, "kafka:t/0/7", "events")


def test_unknown_actions_and_fields_are_kept(normalizer):
    record = event(action="quarantine", extra={"x": 1})
    row = normalizer.normalize([record]).events.to_pylist()[0]
    assert row["action"] == "quarantine"
    assert json.loads(row["raw"])["extra"] == {"x": 1}


def test_a_whole_envelope_from_a_foreign_producer_is_unpacked(normalizer):
    envelope = {"events": [json.loads(event(id="a").value), json.loads(event(id="b").value), {"id": 5}]}
    batch = normalizer.normalize([RawRecord("event", orjson.dumps(envelope), "kafka:t/0/1", RECEIVED_AT)])
    assert sorted(batch.events.column("event_id").to_pylist()) == ["a", "b"]
    assert batch.dead_letters.column("origin").to_pylist() == ["kafka:t/0/1#2"]


def test_an_envelope_whose_events_key_is_spelled_with_an_escape_is_unpacked(normalizer):
    """Only a text holding 'events' or a \\u escape is looked into for the key: an escaped key is one."""
    body = b'{"\\u0065vents": [' + event(id="a").value + b"]}"
    batch = normalizer.normalize([RawRecord("event", body, "kafka:t/0/2", RECEIVED_AT)])
    assert batch.events.column("event_id").to_pylist() == ["a"]
    assert batch.events.column("origin").to_pylist() == ["kafka:t/0/2#0"]


def test_access_rows_carry_their_own_records_line_origin_and_time_among_other_kinds(normalizer):
    """Access rows take raw, origin and received_at from their records' columns, row for row: a batch
    interleaving events, good and bad access lines and receiver dead letters pairs each row with its record."""
    records = []
    for i in range(5):
        at = RECEIVED_AT + timedelta(seconds=i)
        records.append(RawRecord("event", event(id=f"e{i}").value, f"kafka:ev/0/{i}", at, "reg"))
        line = NGINX_JSON.replace('"req_id":"5f2c"', f'"req_id":"r{i}"').encode()
        records.append(RawRecord("access", line, f"kafka:ac/0/{i}", at, key=f"line-{i}"))
        records.append(RawRecord("access", f"not a log line {i}".encode(), f"kafka:ac/1/{i}", at, key=f"bad-{i}"))
        records.append(RawRecord("deadletter", b"refused", f"webhook:{i}", at, reason="too large"))
    batch = normalizer.normalize(records)
    rows = {row["line_key"]: row for row in batch.access.to_pylist()}
    assert sorted(rows) == [f"line-{i}" for i in range(5)]
    for i in range(5):
        assert rows[f"line-{i}"]["proxy_request_id"] == f"r{i}"
        assert f'"req_id":"r{i}"' in rows[f"line-{i}"]["raw"]
        assert rows[f"line-{i}"]["origin"] == f"kafka:ac/0/{i}"
        assert rows[f"line-{i}"]["received_at"] == RECEIVED_AT + timedelta(seconds=i)
    dead = [row for row in batch.dead_letters.to_pylist() if row["source"] == "access"]
    assert sorted((row["origin"], row["raw"]) for row in dead) == [
        (f"kafka:ac/1/{i}", f"not a log line {i}".encode()) for i in range(5)
    ]


NGINX_JSON = (
    '{"ts":"2025-05-01T12:00:03+00:00","msec":"1746100803.418","req_id":"5f2c","remote_addr":"10.20.3.17",'
    '"xff":"","remote_user":"ci-bot","auth":"basic","host":"reg.example.com","method":"GET",'
    '"uri":"/v2/team/api/manifests/v1.4.2","proto":"HTTP/1.1","status":"200","body_bytes_sent":"1578",'
    '"request_length":"812","request_time":"0.012","ua":"containerd/v1.7.20","accept":"","req_ct":"","range":"",'
    '"resp_ct":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:6fa9","location":"","www_auth":"",'
    '"up_addr":"10.0.0.5:5000","up_status":"200","up_time":"0.011","tls":"TLSv1.3"}'
)


@pytest.mark.parametrize(
    ("line", "shipper"),
    [
        (NGINX_JSON, "bare"),
        (
            json.dumps(
                {
                    "file": "/var/log/nginx/registry.json",
                    "host": "edge-1",
                    "message": NGINX_JSON,
                    "source_type": "file",
                    "timestamp": "2025-05-01T12:00:03.421337112Z",
                }
            ),
            "vector",
        ),
        (
            json.dumps(
                {
                    "@timestamp": "2025-05-01T12:00:03.421Z",
                    "@metadata": {"beat": "filebeat", "type": "_doc"},
                    "message": NGINX_JSON,
                    "log": {"offset": 88123, "file": {"path": "/var/log/nginx/r.json"}},
                    "host": {"name": "edge-1"},
                }
            ),
            "filebeat",
        ),
        (json.dumps({"@timestamp": 1746100803.421337, "log": NGINX_JSON}), "fluentbit"),
        (
            json.dumps({"@timestamp": 1746100803.4, "log": "2025-05-01T12:00:03.421337112Z stdout F " + NGINX_JSON}),
            "fluentbit",
        ),
        (
            json.dumps({"log": NGINX_JSON + "\n", "stream": "stdout", "time": "2025-05-01T12:00:03.42Z"}),
            "docker",
        ),
    ],
)
def test_shipper_envelopes_and_runtime_prefixes_are_unwrapped(normalizer, line, shipper):
    batch = normalizer.normalize([RawRecord("access", line.encode(), "kafka:a/0/1", RECEIVED_AT)])
    assert batch.counts == (0, 1, 0), batch.dead_letters.to_pylist()
    row = batch.access.to_pylist()[0]
    assert row["shipper"] == shipper
    assert (row["endpoint"], row["repository"], row["tag"], row["digest"]) == (
        "manifest",
        "team/api",
        "v1.4.2",
        "sha256:6fa9",
    )
    assert (row["status"], row["body_bytes"], row["remote_user"], row["tls_protocol"]) == (
        200,
        1578,
        "ci-bot",
        "TLSv1.3",
    )
    assert row["request_at"].isoformat() == "2025-05-01T12:00:03.418000+00:00"


def filebeat_line(message: str, offset: int = 88123) -> bytes:
    envelope = {
        "@metadata": {"beat": "filebeat"},
        "message": message,
        "log": {"offset": offset, "file": {"path": "/var/log/r.json"}},
        "host": {"name": "edge-1"},
    }
    return json.dumps(envelope).encode()


def test_filebeat_lines_are_keyed_by_their_file_offset_and_digest(normalizer):
    batch = normalizer.normalize([RawRecord("access", filebeat_line(NGINX_JSON), "kafka:a/0/1", RECEIVED_AT)])
    digest = hashlib.sha256(NGINX_JSON.encode()).hexdigest()[:16]
    assert batch.access.column("line_key")[0].as_py() == f"edge-1:/var/log/r.json:88123:{digest}"


def test_a_rotated_files_line_at_a_stored_offset_gets_its_own_key_and_a_resend_the_same(normalizer):
    """nginx writes the new file from offset 0 at the same path: host, path and offset repeat, the line does not."""
    rotated = NGINX_JSON.replace("2025-05-01T12:00:03", "2025-05-02T00:00:01")
    records = [
        RawRecord("access", filebeat_line(NGINX_JSON), "kafka:a/0/1", RECEIVED_AT),
        RawRecord("access", filebeat_line(rotated), "kafka:a/0/2", RECEIVED_AT),
        RawRecord("access", filebeat_line(NGINX_JSON), "kafka:a/0/3", RECEIVED_AT),  # Filebeat's resend
    ]
    keys = normalizer.normalize(records).access.column("line_key").to_pylist()
    assert keys[0] != keys[1]
    assert keys[0] == keys[2]


@pytest.mark.parametrize(
    ("uri", "endpoint", "repository", "reference"),
    [
        ("/v2/", "ping", None, None),
        ("/v2/_catalog?n=100", "catalog", None, None),
        ("/v2/a/manifests/b/manifests/latest", "manifest", "a/manifests/b", "latest"),
        ("/v2/team/blobs/blobs/sha256:abc", "blob", "team/blobs", "sha256:abc"),
        ("/v2/team/app/blobs/uploads/", "upload", "team/app", None),
        ("/v2/team/app/blobs/uploads/5f0e?_state=x&digest=sha256:1", "upload", "team/app", None),
        ("/v2/team/app/tags/list?n=10", "tags", "team/app", None),
        ("/v2/team/app/referrers/sha256:abc", "referrers", "team/app", "sha256:abc"),
        ("/service/token?scope=repository:a:pull", "token", None, None),
    ],
)
def test_api_paths_are_classified_with_greedy_repository_names(normalizer, uri, endpoint, repository, reference):
    line = NGINX_JSON.replace("/v2/team/api/manifests/v1.4.2", uri)
    row = normalizer.normalize([RawRecord("access", line.encode(), "x", RECEIVED_AT)]).access.to_pylist()[0]
    assert (row["endpoint"], row["repository"], row["reference"]) == (endpoint, repository, reference)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"\x16\x03\x01 TLS garbage", "not an nginx JSON record or combined line"),
        (b'{"some": "json"}', "neither a known shipper envelope nor an nginx record"),
        (b'{"method": "GET", "uri": "/v2/", "ts": "never"}', "no parseable time"),
    ],
)
def test_bad_access_lines_become_dead_letters(normalizer, line, reason):
    batch = normalizer.normalize([RawRecord("access", line, "file:h:/p:1.0:0", RECEIVED_AT)])
    assert batch.counts == (0, 0, 1)
    dead = batch.dead_letters.to_pylist()[0]
    assert reason in dead["reason"]
    assert dead["raw"] == line


@pytest.mark.parametrize("timestamp", ["9999-12-31T23:59:59Z", "9999-12-31T23:59:59-23:59", "1999-12-31T23:59:59Z"])
def test_event_timestamps_outside_the_sane_window_are_dead_letters_with_the_reason(normalizer, timestamp):
    record = event(timestamp=timestamp)
    batch = normalizer.normalize([record])
    assert batch.counts == (0, 0, 1)
    dead = batch.dead_letters.to_pylist()[0]
    assert dead["reason"] == f"event timestamp {timestamp} outside 2000-01-01..2200-01-01"
    assert dead["raw"] == record.value


@pytest.mark.parametrize(
    "line",
    [
        b'{"method": "GET", "uri": "/v2/", "ts": "9999-12-31T23:59:59Z"}',
        b'{"method": "GET", "uri": "/v2/", "ts": "9999-12-31T23:59:59-23:59"}',
        b'{"method": "GET", "uri": "/v2/", "msec": "253402300799.000"}',
        b'10.0.0.1 - - [31/Dec/9999:23:59:59 -2359] "GET /v2/ HTTP/1.1" 200 2 "-" "curl/8"',
        b'10.0.0.1 - - [01/Jan/1999:00:00:00 +0000] "GET /v2/ HTTP/1.1" 200 2 "-" "curl/8"',
    ],
)
def test_access_times_outside_the_sane_window_are_dead_letters_with_the_reason(normalizer, line):
    batch = normalizer.normalize([RawRecord("access", line, "file:h:/p:1.0:0", RECEIVED_AT)])
    assert batch.counts == (0, 0, 1)
    dead = batch.dead_letters.to_pylist()[0]
    assert dead["reason"].startswith("access line time ")
    assert dead["reason"].endswith(" outside 2000-01-01..2200-01-01")
