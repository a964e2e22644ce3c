"""Fuzzing the running webhook over HTTP: whatever is posted, it answers 2xx, 401 or 413 (issue 14, section 4).

The real ``regaudit webhook`` process, with its Kafka sink on the real broker and with ``--sink duckdb``, gets
arbitrary bytes, arbitrary JSON, and captured envelopes mutated the way a hostile or broken sender would (deep
nesting, huge event counts, odd unicode, wrong types, odd timestamps, odd content types and authorization
headers, chunked bodies). A 5xx would block the registry's queue for ever; a 503 is only for a real outage of
Kafka or the store, and there is none here.

Each test prints how many inputs it tried and the status codes it saw, in the test output even without ``-s``.
``/events/<name>`` with a name that is not a registry name gets 404 (webhook.py says why); those are in
test_webhook_auth.py, and the names here are valid ones.
"""

from __future__ import annotations

import contextlib
import json
import sys
import uuid
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regaudit.ingest.sinks.kafka import max_message_bytes
from regaudit.settings import REGISTRY_NAME_PATTERN
from tests.infra.fixtures import KafkaTopics
from tests.ingest import processes
from tests.samples import SAMPLES, posts

pytestmark = [pytest.mark.kafka]
TOKEN = "fuzz-test-token-0123456789"  # noqa: S105 - a test token
MAX_BODY = 256 * 1024
EXAMPLES = 200
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
CAPTURED = [
    event for post in posts(SAMPLES / "distribution-2.8.2-htpasswd.events.jsonl") for event in post["body"]["events"]
]
GOOD = {"Authorization": f"Bearer {TOKEN}"}
AUTHORIZATIONS = {
    "valid": f"Bearer {TOKEN}".encode(),
    "valid, lower-case scheme": f"bearer {TOKEN}".encode(),
    "wrong": b"Bearer not-the-token-0123456789",
    "prefix of the token": f"Bearer {TOKEN[:-1]}".encode(),
    "token and more": f"Bearer {TOKEN}x".encode(),
    "no-break space": b"Bearer \xa0",
    "bare scheme": b"Bearer",  # h11 sends no trailing white space: "Bearer " arrives as this
    "basic": b"Basic " + TOKEN.encode(),
}


@pytest.fixture(scope="module", params=["kafka", "duckdb"])
def webhook(request, kafka_broker, tmp_path_factory) -> Iterator[tuple[str, str]]:
    """A running `regaudit webhook` with each sink: Kafka, on fresh topics sized for its body limit as kafka-init
    creates them, and the DuckDB store (``--sink duckdb``)."""
    work = tmp_path_factory.mktemp("fuzz")
    prefix = f"t.fuzz-{uuid.uuid4().hex[:8]}"
    topics = KafkaTopics(f"{prefix}.events", f"{prefix}.access", f"{prefix}.deadletters", f"{prefix}.alerts")
    configs = {"max.message.bytes": str(max_message_bytes(MAX_BODY))}
    spec = {name: {"num_partitions": 3, "replication_factor": 1, "configs": configs} for name in topics.names}
    with contextlib.closing(kafka_broker.admin_client()) as admin:
        admin.create_topics(spec, wait_for_metadata=True)
    env = processes.regaudit_env(
        work / "audit.duckdb", kafka_broker.bootstrap, topics, REGAUDIT_WEBHOOK__MAX_BODY_BYTES=str(MAX_BODY)
    )
    log = work / "webhook.log"
    with processes.webhook(env, log, [TOKEN], sink=request.param) as url:
        yield url, request.param
        assert httpx.get(url + "/healthz", timeout=10).status_code == 200  # still up and connected
    assert "parser failed" not in log.read_text()  # the webhook's last-resort catch never fired


class Fuzzer:
    """Posts inputs to the webhook and keeps the count of status codes seen."""

    def __init__(self, webhook: tuple[str, str]) -> None:
        self.url, self.sink = webhook
        self.client = httpx.Client(timeout=60)
        self.seen: Counter[int] = Counter()

    def post(self, body: bytes, headers: dict[str, bytes | str] | None = None, path: str = "/events", chunked=False):
        sent = {"Authorization": GOOD["Authorization"], **(headers or {})}
        content: bytes | Iterator[bytes] = body
        if chunked:  # no Content-Length: the limit is enforced while reading
            content = iter([body[i : i + 4096] for i in range(0, len(body), 4096)] or [b""])
        status = self.client.post(self.url + path, content=content, headers=sent).status_code
        self.seen[status] += 1
        return status

    def report(self, capsys: pytest.CaptureFixture[str], what: str) -> None:
        self.client.close()
        codes = ", ".join(f"{code}: {count}" for code, count in sorted(self.seen.items()))
        with capsys.disabled():
            print(
                f"\nwebhook fuzz over HTTP, --sink {self.sink}, {what}: {sum(self.seen.values())} inputs, "
                f"status codes {{{codes}}}"
            )


def allowed(status: int) -> bool:
    return 200 <= status < 300 or status in (401, 413)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=30,
)
odd_timestamps = (
    st.sampled_from(
        [
            "9999-12-31T23:59:59Z",
            "9999-12-31T23:59:59-23:59",
            "0001-01-01T00:00:00+23:59",
            "0000-00-00T00:00:00Z",
            "2025-02-30T10:00:00Z",
            "2025-05-01T12:00:00.1234567891234Z",
            "2025-05-01T12:00:00",
            "",
            "1e400",
        ]
    )
    | st.text(max_size=40)
    | st.integers()
)
registry_names = st.from_regex(REGISTRY_NAME_PATTERN, fullmatch=True)


def nested(depth: int, leaf: object) -> object:
    value = leaf
    for level in range(depth):
        value = [value] if level % 2 else {"n": value}
    return value


@st.composite
def mutated_envelopes(draw: st.DrawFn) -> bytes:
    """A captured envelope with one or more hostile changes."""
    events = [dict(event) for event in draw(st.lists(st.sampled_from(CAPTURED), min_size=0, max_size=5))]
    for event in events:
        mutation = draw(st.sampled_from(["none", "field", "timestamp", "deep", "drop", "unicode", "surrogate"]))
        if mutation == "field":
            event[draw(st.sampled_from(["id", "action", "target", "request", "actor", "source"]))] = draw(json_values)
        elif mutation == "timestamp":
            event["timestamp"] = draw(odd_timestamps)
        elif mutation == "deep":
            event["target"] = nested(draw(st.integers(1, 600)), event.get("target"))
        elif mutation == "drop" and event:
            event.pop(draw(st.sampled_from(sorted(event))))
        elif mutation == "unicode":
            event["id"] = draw(st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=50))
        elif mutation == "surrogate":  # a lone surrogate: escaped, or raw bytes that are not UTF-8
            event["id"] = "\ud800" + draw(st.text(max_size=5))
    envelope: object = {"events": events}
    shape = draw(st.sampled_from(["envelope", "events not a list", "wrapped deep", "extra keys"]))
    if shape == "events not a list":
        envelope = {"events": draw(json_values)}
    elif shape == "wrapped deep":
        envelope = nested(draw(st.integers(1, 1500)), envelope)
    elif shape == "extra keys":
        envelope = {"events": events, **draw(st.dictionaries(st.text(max_size=8), json_values, max_size=3))}
    ascii_only = draw(st.booleans())
    # wrapped up to 1,500 deep around events up to 600 deep: json.dumps recurses once a level, past Python's
    # default limit of 1,000 (a run here drew such an example: RecursionError while generating the body)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(limit + 2500)
    try:
        return json.dumps(envelope, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    finally:
        sys.setrecursionlimit(limit)


def test_arbitrary_bytes_get_2xx_401_or_413(webhook, capsys):
    fuzz = Fuzzer(webhook)

    @FUZZ
    @given(body=st.binary(max_size=4096), chunked=st.booleans())
    def check(body: bytes, chunked: bool) -> None:
        assert 200 <= fuzz.post(body, chunked=chunked) < 300

    check()
    fuzz.report(capsys, "arbitrary bytes")
    assert set(fuzz.seen) <= {200}


def test_arbitrary_json_gets_2xx(webhook, capsys):
    fuzz = Fuzzer(webhook)

    @FUZZ
    @given(value=json_values, ascii_only=st.booleans())
    def check(value: object, ascii_only: bool) -> None:
        body = json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
        assert 200 <= fuzz.post(body) < 300

    check()
    fuzz.report(capsys, "arbitrary JSON")


def test_mutated_envelopes_with_odd_headers_get_2xx_401_or_413(webhook, capsys):
    fuzz = Fuzzer(webhook)

    @FUZZ
    @given(
        body=mutated_envelopes(),
        authorization=st.sampled_from(["valid"] * 6 + sorted(AUTHORIZATIONS)),  # mostly past the token check
        content_type=st.text(
            st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=300
        ),
        registry=st.none() | registry_names,
        chunked=st.booleans(),
    )
    def check(body: bytes, authorization: str, content_type: str, registry: str | None, chunked: bool) -> None:
        content_type = content_type.strip(" ")  # a header value has no white space at either end on the wire
        headers = {"Authorization": AUTHORIZATIONS[authorization], "Content-Type": content_type.encode("latin-1")}
        path = "/events" if registry is None else f"/events/{registry}"
        status = fuzz.post(body, headers, path, chunked)
        assert allowed(status)
        if not authorization.startswith("valid"):
            assert status == 401
        else:
            assert status == (413 if len(body) > MAX_BODY else 200)

    check()
    fuzz.report(capsys, "mutated envelopes, odd headers")


def test_huge_event_counts_get_2xx_or_413_in_bounded_time(webhook, capsys):
    fuzz = Fuzzer(webhook)

    @settings(FUZZ, max_examples=40)
    @given(count=st.integers(0, 120_000), item=st.sampled_from([b"{}", b"1", b"[]", json.dumps(CAPTURED[0]).encode()]))
    def check(count: int, item: bytes) -> None:
        body = b'{"events":[' + b",".join([item] * count) + b"]}"
        status = fuzz.post(body)
        assert status == (413 if len(body) > MAX_BODY else 200)

    check()
    fuzz.report(capsys, "huge event counts")
