"""Where checkpoints go: an append-only JSON-lines file and a Kafka topic, both outside the store.

``CheckpointFile`` appends one line per checkpoint (``O_APPEND``, then ``fsync``), so a crash leaves whole lines;
put it on another volume than the store (or another host, or a WORM bucket it is copied to), and let the OS
refuse anything but appends (``chattr +a`` on ext4 and XFS). ``CheckpointTopic`` produces each checkpoint's line
keyed by store id (one partition per store, so the series stays in order), acks=all, and reads a topic's
series back. Give that topic unlimited retention (``retention.ms=-1``) and let no client but the checkpoint
writer produce to it.

Errors: ``BrokerUnavailable`` (transient) when Kafka does not acknowledge or cannot be read in time.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError

from regaudit.errors import BrokerUnavailable
from regaudit.evidence.checkpoints import canonical, parse
from regaudit.ingest.sinks.kafka import kafka_client_options
from regaudit.settings import KafkaSettings


class CheckpointFile:
    """A JSON-lines file of checkpoints, only ever appended to."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __str__(self) -> str:
        return str(self.path)

    def read(self) -> tuple[list[dict[str, Any]], list[str]]:
        """Checkpoints in file order, and a complaint per line that is not one; none if there is no file yet."""
        if not self.path.exists():
            return [], []
        return parse(self.path.read_text(encoding="utf-8").splitlines(), str(self.path))

    def append(self, document: Mapping[str, Any]) -> None:
        line = (canonical(document) + "\n").encode()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(descriptor, line)
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


class CheckpointTopic:
    """A Kafka topic of checkpoints, keyed by store id."""

    def __init__(self, kafka: KafkaSettings, topic: str) -> None:
        self.topic = topic
        self.options = kafka_client_options(kafka)
        self.timeout = kafka.request_timeout_seconds

    def __str__(self) -> str:
        return f"kafka topic {self.topic}"

    def send(self, documents: Iterable[Mapping[str, Any]]) -> None:
        """Produce each checkpoint in order; returns once every one was acknowledged by all replicas."""
        timeout_ms = int(self.timeout * 1000)
        try:
            producer = KafkaProducer(
                **self.options,
                acks="all",
                max_block_ms=timeout_ms,
                bootstrap_timeout_ms=timeout_ms,  # kafka-python's own default waits 30 s for a broker that is away
                request_timeout_ms=timeout_ms,
            )
        except KafkaError as error:
            raise BrokerUnavailable(f"{self}: cannot connect: {type(error).__name__}: {error}") from None
        try:
            for document in documents:
                value = canonical(document).encode()
                producer.send(self.topic, value=value, key=str(document["store_id"]).encode()).get(self.timeout + 2)
        except KafkaError as error:
            raise BrokerUnavailable(f"{self}: not acknowledged: {type(error).__name__}: {error}") from None
        finally:
            producer.close(timeout=self.timeout)

    def read(self) -> tuple[list[dict[str, Any]], list[str]]:
        """Every checkpoint on the topic, per partition in offset order, and a complaint per message that is not one."""
        try:
            timeout_ms = int(self.timeout * 1000)
            consumer = KafkaConsumer(
                **self.options,
                enable_auto_commit=False,
                consumer_timeout_ms=timeout_ms,
                bootstrap_timeout_ms=timeout_ms,
            )
        except KafkaError as error:
            raise BrokerUnavailable(f"{self}: cannot connect: {type(error).__name__}: {error}") from None
        try:
            return self._read(consumer)
        except KafkaError as error:
            raise BrokerUnavailable(f"{self}: cannot be read: {type(error).__name__}: {error}") from None
        finally:
            consumer.close()

    def _read(self, consumer: KafkaConsumer) -> tuple[list[dict[str, Any]], list[str]]:
        partitions = [TopicPartition(self.topic, p) for p in sorted(consumer.partitions_for_topic(self.topic) or ())]
        if not partitions:
            return [], []
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        lines: dict[int, list[str]] = {tp.partition: [] for tp in partitions}
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            batch = consumer.poll(timeout_ms=int(self.timeout * 1000))
            if not batch:
                raise BrokerUnavailable(f"{self}: no messages within {self.timeout} s before the end of the topic")
            for tp, messages in batch.items():
                lines[tp.partition] += [m.value.decode("utf-8", "replace") for m in messages]
        documents: list[dict[str, Any]] = []
        complaints: list[str] = []
        for partition, values in sorted(lines.items()):
            found, bad = parse(values, f"{self} partition {partition}")
            documents += found
            complaints += bad
        return documents, complaints
