"""The consumer lays Kafka messages out as raw-record columns itself: the same columns ``to_arrow`` makes from
the records the receivers produced, and the topic's defaults for a foreign producer's bare messages."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

from regaudit.ingest.consumer import kafka_batch
from regaudit.ingest.normalize import to_arrow
from regaudit.ingest.records import RawRecord
from regaudit.ingest.sinks.kafka import record_headers

KINDS = {"registry.events": "event", "registry.access": "access", "registry.deadletters": "deadletter"}
RECEIVED_AT = datetime(2025, 5, 1, 12, 0, 3, 418290, tzinfo=UTC)
SENT_AT_MS = 1_746_100_000_123  # the broker's message timestamp


def message(topic: str, offset: int, value: bytes | None, headers: list[tuple[str, bytes]] | None = None):
    return SimpleNamespace(topic=topic, partition=2, offset=offset, timestamp=SENT_AT_MS, value=value, headers=headers)


def test_records_from_the_receivers_keep_every_field_they_carried_in_headers():
    sent = [
        RawRecord("event", b'{"id": "e1"}', "webhook:r1/0", RECEIVED_AT, "main", content_type="application/json"),
        RawRecord("access", "GET /v2/ caf\xe9".encode("latin-1"), "file:h:/log:1.0:10", RECEIVED_AT, key="h:/l:1"),
        RawRecord("deadletter", b"\xff{", "webhook:r2", RECEIVED_AT, reason="envelope is not JSON"),
    ]
    topics = ["registry.events", "registry.access", "registry.deadletters"]
    messages = [message(t, n, r.value, record_headers(r)) for n, (t, r) in enumerate(zip(topics, sent, strict=True))]

    expected = [
        RawRecord(r.kind, r.value, f"kafka:{t}/2/{n}", r.received_at, r.registry, r.key, r.content_type, r.reason)
        for n, (t, r) in enumerate(zip(topics, sent, strict=True))
    ]
    assert kafka_batch(messages, KINDS).to_pylist() == to_arrow(expected).to_pylist()


def test_a_foreign_producers_bare_messages_take_the_topics_kind_and_the_broker_timestamp():
    messages = [message("registry.events", 7, b'{"id": "e1"}'), message("registry.access", 8, None)]
    sent_at = datetime.fromtimestamp(SENT_AT_MS / 1000, UTC)

    expected = [
        RawRecord("event", b'{"id": "e1"}', "kafka:registry.events/2/7", sent_at),
        # an access line's idempotency key is then its Kafka position
        RawRecord("access", b"", "kafka:registry.access/2/8", sent_at, key="kafka:registry.access/2/8"),
    ]
    assert kafka_batch(messages, KINDS).to_pylist() == to_arrow(expected).to_pylist()


def test_a_declared_kind_wins_over_the_topic_and_an_unreadable_receive_time_falls_back_to_the_broker():
    headers = [("regaudit-kind", b"access"), ("regaudit-received-at", b"yesterday"), ("other", b"x")]
    row = kafka_batch([message("registry.events", 1, b"line", headers)], KINDS).to_pylist()[0]

    assert (row["kind"], row["text"], row["key"]) == ("access", "line", "kafka:registry.events/2/1")
    assert row["received_at"] == datetime.fromtimestamp(SENT_AT_MS / 1000, UTC)


def test_a_receive_time_header_outside_the_sane_window_falls_back_to_the_broker():
    for text in (b"9999-12-31T23:59:59-23:59", b"1970-01-01T00:00:00Z"):
        headers = [("regaudit-kind", b"event"), ("regaudit-received-at", text)]
        row = kafka_batch([message("registry.events", 1, b"{}", headers)], KINDS).to_pylist()[0]
        assert row["received_at"] == datetime.fromtimestamp(SENT_AT_MS / 1000, UTC)


def test_headers_on_a_registrys_own_topic_cannot_claim_another_registry_kind_or_time():
    """Whoever may write Quay's topic (its forwarding credentials) writes Quay's records for its instance only."""
    headers = [("regaudit-registry", b"prod"), ("regaudit-registry-kind", b"distribution"),
               ("regaudit-kind", b"deadletter"), ("regaudit-received-at", b"2025-05-01T12:00:03Z")]  # fmt: skip
    kinds = KINDS | {"quay.logs": "event"}
    [row] = kafka_batch(
        [message("quay.logs", 3, b"{}", headers)], kinds, {"quay.logs": ("quay", "quay-prod")}
    ).to_pylist()
    assert (row["kind"], row["registry"], row["registry_kind"]) == ("event", "quay-prod", "quay")
    assert row["received_at"] == datetime.fromtimestamp(SENT_AT_MS / 1000, UTC)
