"""Building the receivers' record sink from settings: Kafka (production) or the DuckDB store (embedded)."""

from __future__ import annotations

import argparse
from typing import Literal

from regaudit.ingest.sinks import RecordSink
from regaudit.settings import Settings


def add_sink_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sink", choices=["kafka", "duckdb"], help="Kafka, or straight into the DuckDB store.")
    parser.add_argument("--bootstrap-servers", help="Kafka bootstrap servers (default: kafka.bootstrap_servers).")
    parser.add_argument("--db", help="DuckDB file for --sink duckdb (default: store.path).")


def sink_overrides(args: argparse.Namespace) -> dict[str, dict[str, object]]:
    return {"kafka": {"bootstrap_servers": args.bootstrap_servers}, "store": {"path": args.db}}


def build_sink(
    settings: Settings,
    kind: Literal["kafka", "duckdb"],
    registry: str,
    source: str,
    max_value_bytes: int | None = None,
) -> RecordSink:
    """The sink; ``max_value_bytes`` (the webhook's body limit) sizes Kafka's producer so the largest record fits."""
    if kind == "kafka":
        from regaudit.ingest.sinks.kafka import KafkaRecordSink

        return KafkaRecordSink(settings.kafka, max_value_bytes)
    from regaudit.ingest.hooks import load_hooks
    from regaudit.ingest.sinks.store import StoreRecordSink

    return StoreRecordSink(
        settings.store.path, settings.store.lock_timeout_seconds, registry, source, load_hooks(settings)
    )
