"""The encoders write what Distribution 2.8.2 and nginx 1.22 really write (checked against the captures)."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import pytest

from regaudit.simulator.exchanges import Exchange, access_combined, access_json
from regaudit.simulator.primitives import rfc3339_nano, to_ns
from regaudit.simulator.wire import Event, encode_envelope, encode_event

SAMPLES = Path(__file__).parents[1] / "fixtures" / "samples"
ACCESS_KEYS = [
    "ts", "msec", "req_id", "remote_addr", "xff", "remote_user", "auth", "host", "method", "uri", "proto",
    "status", "body_bytes_sent", "request_length", "request_time", "ua", "accept", "req_ct", "range", "resp_ct",
    "digest", "location", "www_auth", "up_addr", "up_status", "up_time", "tls",
]  # fmt: skip
COMBINED = re.compile(
    r"^(?P<addr>\S+) - (?P<user>\S+) \[(?P<time>\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] "
    r'"(?P<request>[^"]*)" (?P<status>\d{3}) (?P<bytes>\d+) "(?P<referer>[^"]*)" "(?P<ua>[^"]*)"$'
)


def _captured_posts() -> list[dict]:
    posts = []
    for capture in sorted(SAMPLES.glob("distribution-2.8.2-*.events.jsonl")):
        posts += [json.loads(line) for line in capture.read_text().splitlines() if line.strip()]
    return [post for post in posts if "references" not in post["body"]["events"][0]["target"]]


def _event_from(captured: dict) -> Event:
    target, request = captured["target"], captured["request"]
    whole, _, fraction = captured["timestamp"].removesuffix("Z").partition(".")
    ns = to_ns(datetime.fromisoformat(whole + "+00:00")) + int((fraction + "0" * 9)[:9])
    event = Event(
        captured["id"], ns, captured["action"], target["repository"], request["id"], request["method"],
        captured["actor"].get("name", ""), media_type=target.get("mediaType"), size=target.get("size"),
        digest=target.get("digest"), from_repository=target.get("fromRepository"), url=target.get("url"),
        tag=target.get("tag"),
    )  # fmt: skip
    event.addr, event.host, event.user_agent = request["addr"], request["host"], request["useragent"]
    event.source_addr, event.instance_id = captured["source"]["addr"], captured["source"]["instanceID"]
    return event


@pytest.mark.parametrize("post", _captured_posts(), ids=lambda post: post["body"]["events"][0]["id"][:8])
def test_envelope_reproduces_the_captured_post_byte_for_byte(post: dict) -> None:
    body = encode_envelope(_event_from(post["body"]["events"][0]))
    assert body == json.dumps(post["body"], indent=3).encode()
    assert len(body) == int(post["headers"]["Content-Length"])


def test_fast_envelope_matches_the_generic_encoder() -> None:
    event = _event_from(_captured_posts()[0]["body"]["events"][0])
    event.actor, event.user_agent = "", 'docker/27 \\(linux\\) "x" <&>'
    body = encode_envelope(event)
    assert body == ('{\n   "events": [\n      ' + encode_event(event) + "\n   ]\n}").encode()
    assert json.loads(body)["events"][0] == json.loads(encode_event(event, indent=False))
    assert b'"actor": {}' in body
    assert b"\\u003c\\u0026\\u003e" in body


@pytest.mark.parametrize(
    ("ns", "offset", "text"),
    [
        (1_746_100_803_418_290_000, 0, "2025-05-01T12:00:03.41829Z"),
        (1_746_100_803_000_000_000, 0, "2025-05-01T12:00:03Z"),
        (1_746_100_803_000_000_001, 120, "2025-05-01T14:00:03.000000001+02:00"),
        (1_746_100_803_500_000_000, -420, "2025-05-01T05:00:03.5-07:00"),
    ],
)
def test_timestamps_follow_go_rfc3339nano(ns: int, offset: int, text: str) -> None:
    assert rfc3339_nano(ns, offset) == text


def _exchange() -> Exchange:
    exchange = Exchange(1_746_100_803_418_000_000, "GET", "/v2/team/api/manifests/v1.4.2", 200)
    exchange.duration_ns, exchange.upstream_ns, exchange.upstream = 12_000_000, 11_000_000, "10.40.0.10:5000"
    exchange.remote_addr, exchange.remote_user, exchange.auth, exchange.sent = "10.20.3.17", "ci-bot", "basic", 1578
    exchange.user_agent = 'docker/27.3.1 UpstreamClient(Docker-Client/27.3.1 \\(linux\\)) "q"'
    return exchange


def test_access_json_line_has_the_formats_keys_in_order_all_strings() -> None:
    line = json.loads(access_json(_exchange(), "registry.example.com"))
    assert list(line) == ACCESS_KEYS
    assert all(isinstance(value, str) for value in line.values())
    assert line["ts"] == "2025-05-01T12:00:03+00:00"
    assert line["msec"] == "1746100803.430"
    assert line["ua"].endswith('\\(linux\\)) "q"')
    assert line["up_status"] == "200"


def test_access_json_leaves_upstream_fields_empty_when_nginx_answered_itself() -> None:
    exchange = _exchange()
    exchange.status, exchange.upstream, exchange.upstream_ns = 401, "", 0
    line = json.loads(access_json(exchange, "registry.example.com"))
    assert (line["up_addr"], line["up_status"], line["up_time"]) == ("", "", "")


def test_combined_line_escapes_like_nginx_default() -> None:
    line = access_combined(_exchange()).decode()
    match = COMBINED.match(line)
    assert match is not None, line
    assert match["time"] == "01/May/2025:12:00:03 +0000"
    assert match["ua"].endswith("\\x5C(linux\\x5C)) \\x22q\\x22")
    exchange = _exchange()
    exchange.remote_user = ""
    assert COMBINED.match(access_combined(exchange).decode())["user"] == "-"  # type: ignore[index]


def test_combined_regex_accepts_the_captured_log() -> None:
    for line in (SAMPLES / "nginx-1.22-registry.access.combined.log").read_text().splitlines():
        assert COMBINED.match(line), line
