"""The deployment's Kafka takes the webhook's largest record (issue 14, section 4): a dead letter is the whole
body, up to webhook.max_body_bytes, plus its headers; Kafka's default limit (1 MiB + 12 bytes) refused a 1 MiB
body's dead letter, and the registry retried the 503 for ever. tests/ingest/test_webhook_kafka_limits.py holds
the same numbers against the real broker."""

from __future__ import annotations

import re

from regaudit.ingest.sinks.kafka import max_message_bytes
from tests.deploy.compose import kafka_properties, load_compose, load_toml, shell_script


def needed() -> int:
    return max_message_bytes(int(load_toml()["webhook"]["max_body_bytes"]))


def test_kafka_init_creates_every_topic_with_room_for_the_webhooks_largest_record() -> None:
    script = shell_script(load_compose()["services"]["kafka-init"]["command"][2])
    function = re.search(r"topic\(\) \{(.*?)\n\s*\}", script, re.S)
    assert function is not None
    [limit] = re.findall(r"--config max\.message\.bytes=(\d+)", function.group(1))
    assert int(limit) >= needed()
    created = re.findall(r"^\s*topic (\S+) ", script, re.M)
    assert {"registry.events", "registry.deadletters"} <= set(created)
    assert script.count("--create") == function.group(1).count("--create") == 1  # every topic made by topic()


def test_the_broker_default_has_room_too_for_topics_created_by_hand() -> None:
    assert int(kafka_properties()["message.max.bytes"]) >= needed()
