"""``regaudit consume``: Kafka consumer group ▶ normalize ▶ DuckDB, offsets committed after the DuckDB commit.

The loop is short on purpose:

    poll until the batch is full or old enough ▶ lay the records out as columns ▶ normalize (in-memory DuckDB)
    ▶ write (one transaction on the store file, idempotent) ▶ commit the Kafka offsets

Writing runs on a second thread, one batch at a time, while the loop polls and normalizes the next one
(``regaudit.ingest.loop``, the loop ship-logs runs too): the Python side (kafka-python, records) and DuckDB's write
overlap on two cores, and at most two batches are in memory. Offsets are still committed by the polling thread
(kafka-python's consumer is not thread-safe), in batch order, and only for a batch whose DuckDB transaction
committed. While a backlog is worked off (the batches fill up), the writer keeps the store file open across
batches for up to ``consumer.hold_seconds`` (``regaudit.ingest.sinks.held``), and gives it back as soon as a batch
does not fill up or a poll brings nothing. A crash anywhere before the offset commit replays the batch, and the
idempotent inserts store nothing twice; a crash after it loses nothing, because the DuckDB commit came first.
SIGTERM finishes the batches in hand, commits and leaves the group.

A record the store write fails on does not hold the stream up: the sink isolates it as a dead letter with its
Kafka coordinates and the error (``regaudit.ingest.sinks.isolation``), stores the rest, and the offsets are
committed as for any batch. Only the environment's errors (store locked past the timeout, I/O) end the loop.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from types import FrameType
from typing import Any

import pyarrow as pa
from kafka import KafkaConsumer, OffsetAndMetadata, TopicPartition
from kafka.errors import CommitFailedError, KafkaError

from regaudit.backoff import Outage
from regaudit.errors import BrokerUnavailable
from regaudit.evidence.canonical import epoch_us
from regaudit.ingest.consumer_metrics import ConsumerMetrics
from regaudit.ingest.hooks import load_hooks
from regaudit.ingest.loop import run_batches
from regaudit.ingest.normalize import BATCH_SCHEMA, SOURCES, NormalizedBatch, Normalizer
from regaudit.ingest.records import RecordKind
from regaudit.ingest.sinks.duckdb import DuckDBSink, WriteResult
from regaudit.ingest.sinks.held import StoreTurn
from regaudit.ingest.sinks.kafka import HEADER_PREFIX, kafka_client_options
from regaudit.ingest.sources.quay.logs import load_kinds
from regaudit.ingest.sources.quay.normalize import normalize_records as normalize_quay
from regaudit.schemas.registry import outside_window
from regaudit.settings import Settings

log = logging.getLogger(__name__)

#: how long a look at how far behind the consumer is (after each batch; a one-shot run's ``--until-idle`` when a
#: poll brings nothing) waits for the broker, instead of kafka-python's 30 s request timeout
LOOK_TIMEOUT_MS = 5_000


def kafka_batch(
    messages: Sequence[Any], kinds: dict[str, RecordKind], foreign: Mapping[str, tuple[str, str]] | None = None
) -> pa.Table:
    """Lay Kafka messages out as the normalizer's raw-record columns (``BATCH_SCHEMA``), in one pass.

    Our receivers send the record's fields as ``regaudit-*`` headers; a foreign producer sends none, and the
    record then has the topic's kind, the message timestamp as its receive time and no registry. A registry that
    writes a topic itself (Quay's log forwarding, Azure Monitor's Event Hub, a Pub/Sub bridge) sends no headers
    either: ``foreign`` names, per such topic, the registry kind and instance its records are (``quay.topics``,
    ``acr.topics``, ``gar.topics``), and ``regaudit-*`` headers on such a topic are ignored: whoever may write it
    (Quay's forwarding credentials, an Event Hub's send key) must not claim another registry, kind or receive time
    with them, as a token bound to one registry cannot post for another. Building the columns here instead of a
    RawRecord per message took a third of the polling thread's Python time.
    """
    foreign = foreign or {}
    kind_column: list[str] = []
    values: list[bytes] = []
    texts: list[str | None] = []
    origins: list[str] = []
    received_us: list[int] = []
    registries: list[str | None] = []
    keys: list[str | None] = []
    content_types: list[str | None] = []
    reasons: list[str | None] = []
    registry_kinds: list[str | None] = []
    for message in messages:
        kind = kinds[message.topic]
        value = message.value if message.value is not None else b""
        origin = f"kafka:{message.topic}/{message.partition}/{message.offset}"
        received = message.timestamp * 1000
        registry = key = content_type = reason = registry_kind = None
        if message.topic in foreign:  # its regaudit-* headers, if any, are ignored (see the docstring)
            registry_kind, registry = foreign[message.topic]
        elif message.headers:
            headers = {name[len(HEADER_PREFIX) :]: raw.decode("utf-8", "replace")
                       for name, raw in message.headers if name.startswith(HEADER_PREFIX)}  # fmt: skip
            declared = headers.get("kind")
            if declared == "event" or declared == "access" or declared == "deadletter":
                kind = declared
            declared_at = _received_us(headers.get("received-at"))
            received = received if declared_at is None else declared_at
            registry = headers.get("registry", registry)
            key = headers.get("key")
            content_type = headers.get("content-type")
            reason = headers.get("reason")
            registry_kind = headers.get("registry-kind", registry_kind)
        kind_column.append(kind)
        values.append(value)
        texts.append(value.decode("utf-8", "replace") if kind == "access" else None)
        origins.append(origin)
        received_us.append(received)
        registries.append(registry)
        keys.append(key or (origin if kind == "access" else None))
        content_types.append(content_type)
        reasons.append(reason)
        registry_kinds.append(registry_kind)
    columns = (
        kind_column, values, texts, origins, received_us, registries, keys, content_types, reasons, registry_kinds,
    )  # fmt: skip
    return pa.table([pa.array(c, f.type) for c, f in zip(columns, BATCH_SCHEMA, strict=True)], schema=BATCH_SCHEMA)


def _received_us(text: str | None) -> int | None:
    """The ``received-at`` header (ISO 8601; UTC when it has no offset) in microseconds; none if absent or bad.

    A foreign producer can send any header: a time outside ``TIME_WINDOW`` is ignored like a bad one (the
    message's own timestamp stands), since every later step may compute with the receive time.
    """
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return None if outside_window(moment) else epoch_us(moment)


@dataclass
class ConsumerStats:
    batches: int = 0
    records: int = 0
    events: int = 0
    access: int = 0
    dead_letters: int = 0
    #: records of those dead letters that passed validation but failed alone in the store write (``isolation``)
    isolated: int = 0
    lag: int = 0


class Consumer:
    """The consume loop; ``stop()`` (or SIGTERM via ``install_signal_handlers``) ends it after the batch."""

    def __init__(
        self, settings: Settings, registry: str = "default", on_batch: Callable[[WriteResult], None] | None = None
    ) -> None:
        self.settings = settings
        self.on_batch = on_batch  # called after each DuckDB commit
        kafka = settings.kafka
        self.kinds: dict[str, RecordKind] = {
            kafka.events_topic: "event",
            kafka.access_topic: "access",
            kafka.deadletter_topic: "deadletter",
        }
        quay = settings.quay
        #: topics a registry writes itself, with no headers: topic -> (registry kind, instance)
        self.foreign = {topic: ("quay", instance) for topic, instance in quay.topics.items()}
        self.foreign |= {topic: ("acr", instance) for topic, instance in settings.acr.topics.items()}
        self.foreign |= {topic: ("gar", instance) for topic, instance in settings.gar.topics.items()}
        self.kinds.update(dict.fromkeys(self.foreign, "event"))
        quay_kinds = load_kinds(quay.log_kinds_file)
        self.normalizer = Normalizer(registry, {**SOURCES, "quay": partial(normalize_quay, kinds=quay_kinds)})
        self.sink = DuckDBSink(
            settings.store.path,
            settings.store.lock_timeout_seconds,
            registry,
            hooks=load_hooks(settings),
            hold_seconds=settings.consumer.hold_seconds,
        )
        #: taken while a batch is written; whatever else writes the store from this process (the alert
        #: dispatcher) takes it too, which gives back a file the writer holds, so the two never hold it at once
        self.store_lock = StoreTurn(self.sink)
        self.stats = ConsumerStats()
        #: the same batches counted for ``/metrics`` (read from the metrics server's threads)
        self.metrics = ConsumerMetrics()
        self._stop = threading.Event()
        self._expiry: threading.Timer | None = None
        #: whether the last idle poll derived queued time ranges: until one derives none, the consumer is not idle
        self._drained = False
        #: a one-shot run's looks at the broker left unanswered in a row
        self._unanswered = Outage()
        #: a one-shot run's looks in a row that found the same lag (``_stuck_lag``) with no record polled
        self._stuck = Outage()
        self._stuck_lag = 0

    def stop(self) -> None:
        self._stop.set()
        self.metrics.stop()

    def install_signal_handlers(self) -> None:
        def handler(signum: int, frame: FrameType | None) -> None:
            log.info("signal=%d stopping after the current batch", signum)
            self.stop()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def _connect(self) -> KafkaConsumer:
        config = self.settings.consumer
        try:
            return KafkaConsumer(
                *self.kinds,
                **kafka_client_options(self.settings.kafka),
                group_id=config.group_id,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                max_poll_records=config.batch_max_records,
                max_partition_fetch_bytes=8 * 1024 * 1024,
                fetch_max_bytes=64 * 1024 * 1024,
                consumer_timeout_ms=1000,
            )
        except KafkaError as error:  # the broker unreachable at start: a clear line and exit 75, no traceback
            raise BrokerUnavailable(
                f"Kafka at {self.settings.kafka.bootstrap_servers}: cannot connect: {error}"
            ) from None

    def run(self, max_idle_seconds: float | None = None) -> ConsumerStats:
        """Consume until stopped (or, for tests and one-shot imports, until idle for ``max_idle_seconds``)."""
        consumer = self._connect()
        try:
            run_batches(
                lambda: self._read(consumer),
                lambda batch: self._write(
                    batch[1], more_coming=len(batch[0]) >= self.settings.consumer.batch_max_records
                ),
                lambda batch, result: self._commit(consumer, batch[0], result),
                self._stop,
                thread_name="store-writer",
                max_idle_seconds=max_idle_seconds,
                busy=lambda: self._busy(consumer, max_idle_seconds),
            )
        finally:
            self.metrics.stop()
            self._release()
            consumer.close(autocommit=False)
            self.normalizer.close()
        return self.stats

    def _busy(self, consumer: KafkaConsumer, max_idle_seconds: float | None) -> bool:
        """Whether a poll that brought nothing is not idle: the consumer still joins its group (waiting out a dead
        member) or derived queued time ranges. A one-shot run (``max_idle_seconds``) asks the broker too: it is
        caught up only when no record waits after its positions, so a broker that went away is never taken for
        the end of the stream; once the broker has left its looks unanswered for as long as ``Outage`` gives a
        one-shot run, ``BrokerUnavailable`` ends the run (exit 75) after the batch in flight was committed."""
        if self._drained:
            return True
        if max_idle_seconds is None:
            return not consumer.assignment()
        try:
            if not consumer.assignment():  # joining: busy while the broker answers
                consumer.bootstrap(timeout_ms=LOOK_TIMEOUT_MS, refresh=True)
                self._unanswered.ended()
                return True
            lags = _lags(consumer, LOOK_TIMEOUT_MS, quiet=False)
        except KafkaError as error:
            away = self._unanswered
            away.failed(error)
            log.warning(
                "Kafka did not answer a look at the lag (%d in a row, %.0f s): %s", away.count, away.lasted(), error
            )
            if away.gives_up(max_idle_seconds):
                raise BrokerUnavailable(
                    f"Kafka at {self.settings.kafka.bootstrap_servers}: no answer for {away.lasted():.0f} s "
                    f"({away.count} looks): {error}; what was stored is kept, and records whose offsets were not "
                    "committed are read again next run and stored once"
                ) from None
            return True
        self._unanswered.ended()
        return self._behind_without_records(sum(lags.values()) if lags else 0, max_idle_seconds)

    def _behind_without_records(self, lag: int, max_idle_seconds: float) -> bool:
        """Whether records wait after the positions that the polls have not brought yet (busy). The same lag found
        by looks in a row for as long as ``Outage`` gives a one-shot run, with no record polled meanwhile (offsets
        the broker counts and never delivers, such as a transaction's markers), is idle after all, with a warning:
        a one-shot run never waits forever on it."""
        if lag != self._stuck_lag:
            self._stuck.ended()
            self._stuck_lag = lag
        if lag == 0:
            return False
        self._stuck.failed()
        if self._stuck.gives_up(max_idle_seconds):
            log.warning("the broker counts %d records after the positions and delivers none; idle all the same", lag)
            return False
        return True

    def _read(self, consumer: KafkaConsumer) -> tuple[list[Any], NormalizedBatch] | None:
        """The next batch of messages and its normalized rows; none when the poll brought nothing, and then the
        store file is given back if the writer held it (a batch that filled up ended the stream)."""
        messages = self._poll_batch(consumer)
        if not messages:
            self._drain()
            self._release()
            return None
        self._stuck.ended()
        return messages, self._normalize(messages)

    def _drain(self) -> None:
        """While nothing comes: derive time ranges earlier batches queued (``DuckDBSink.drain``), some per poll."""
        with self.store_lock.lock:
            result = self.sink.drain()
        self._drained = result is not None
        if result is not None:
            self.metrics.observe_pending(self.sink.pending)
            log.info(
                "batch=%d derived time ranges queued by earlier batches; %d wait", result.batch_id, self.sink.pending
            )

    def _release(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
        with self.store_lock.lock:
            self.sink.release()

    def _expire_later(self, held_for: float | None) -> None:
        """If the writer kept the file, give it back when the hold is over even if no batch or poll comes by."""
        if self._expiry is not None:
            self._expiry.cancel()
        if held_for is not None:
            self._expiry = threading.Timer(max(0.0, self.settings.consumer.hold_seconds - held_for), self._expire)
            self._expiry.daemon = True
            self._expiry.start()

    def _expire(self) -> None:
        with self.store_lock.lock:
            self.sink.expire()

    def _poll_batch(self, consumer: KafkaConsumer) -> list[Any]:
        config = self.settings.consumer
        deadline = time.monotonic() + config.batch_max_seconds
        messages: list[Any] = []
        while len(messages) < config.batch_max_records and not self._stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            polled = consumer.poll(
                timeout_ms=int(remaining * 1000), max_records=config.batch_max_records - len(messages)
            )
            for partition_messages in polled.values():
                messages.extend(partition_messages)
        return messages

    def _normalize(self, messages: list[Any]) -> NormalizedBatch:
        normalized = self.normalizer.normalize_table(kafka_batch(messages, self.kinds, self.foreign))
        return self.normalizer.with_seal_parts(normalized)  # here, while the writer writes the batch before

    def _write(self, normalized: NormalizedBatch, more_coming: bool) -> WriteResult:
        """On the writer thread: one DuckDB transaction, then ``on_batch`` (it only wakes the dispatcher).
        ``more_coming``: the batch filled up, so the next is likely in hand and the file may stay open."""
        with self.store_lock.lock:
            result = self.sink.write(normalized, source="kafka", more_coming=more_coming)
            self._expire_later(self.sink.held_for())
        self.metrics.observe_dead_letters(normalized.dead_letters.column("source").to_pylist())
        self.metrics.observe_pending(self.sink.pending)
        if self.on_batch is not None:
            self.on_batch(result)
        return result

    def _commit(self, consumer: KafkaConsumer, messages: list[Any], result: WriteResult) -> bool:
        """After the batch's DuckDB commit: commit its Kafka offsets, count it; the loop goes on."""
        offsets = _next_offsets(messages)
        committed = True
        try:
            consumer.commit(offsets)
        except (CommitFailedError, KafkaError) as error:
            # The rows are committed in DuckDB; a replay after the rebalance is idempotent.
            committed = False
            log.warning("offset commit failed after batch=%d (will replay, stored once): %s", result.batch_id, error)
        stats = self.stats
        stats.batches += 1
        stats.records += len(messages)
        stats.events += result.events_count
        stats.access += result.access_count
        stats.dead_letters += result.dead_letters_count
        stats.isolated += result.isolated_count
        lags = _lags(consumer, LOOK_TIMEOUT_MS)
        stats.lag = -1 if lags is None else sum(lags.values())
        self.metrics.observe_batch(result, len(messages), committed, lags)
        log.info(
            "batch=%d records=%d new_events=%d new_access=%d dead_letters=%d isolated=%d lag=%d",
            result.batch_id, len(messages), result.events_count, result.access_count,
            result.dead_letters_count, result.isolated_count, stats.lag,
        )  # fmt: skip
        return True


def _next_offsets(messages: Iterable[Any]) -> dict[TopicPartition, OffsetAndMetadata]:
    last: dict[TopicPartition, int] = {}
    for message in messages:
        partition = TopicPartition(message.topic, message.partition)
        last[partition] = max(last.get(partition, -1), message.offset)
    return {tp: OffsetAndMetadata(offset + 1, "", -1) for tp, offset in last.items()}


def _lags(
    consumer: KafkaConsumer, timeout_ms: int | None = None, quiet: bool = True
) -> dict[tuple[str, int], int] | None:
    """Records after the position per assigned partition (one ListOffsets request); None if the broker cannot say
    (``quiet``), else its error raised."""
    try:
        assigned = list(consumer.assignment())
        ends = consumer.end_offsets(assigned, timeout_ms=timeout_ms)
        positions = {tp: consumer.position(tp, timeout_ms=timeout_ms) for tp in assigned}
        # a partition with no position yet has all its records after it
        return {(tp.topic, tp.partition): max(0, ends[tp] - (positions[tp] or 0)) for tp in assigned}
    except KafkaError:
        if quiet:
            return None
        raise
