"""Building the receivers' record sink from settings: Kafka (production) or the DuckDB store (embedded); and the run
every ``regaudit poll <source>`` shares once its page source is built."""

from __future__ import annotations

import argparse
import signal
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Literal

from regaudit.ingest.sinks import RecordSink
from regaudit.settings import Settings

if TYPE_CHECKING:
    from regaudit.ingest.receive.poller import PageSource, Poller


def add_sink_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sink", choices=["kafka", "duckdb"], help="Kafka, or straight into the DuckDB store.")
    parser.add_argument("--bootstrap-servers", help="Kafka bootstrap servers (default: kafka.bootstrap_servers).")
    parser.add_argument("--db", help="DuckDB file for --sink duckdb (default: store.path).")


def add_until_idle_argument(parser: argparse.ArgumentParser, nothing_new: str) -> None:
    """A poller's ``--until-idle``: ``nothing_new`` says what the source had none of ("new rows")."""
    parser.add_argument(
        "--until-idle",
        type=float,
        metavar="SECONDS",
        help=f"Exit after SECONDS {nothing_new} (scripts, tests). An API that fails for longer than SECONDS (3 "
        "fetches at least) ends the run with exit 75 instead; the cursor stays after the last delivered page.",
    )


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


def run_poller(
    source: PageSource,
    settings: Settings,
    name: str,
    instance: str,
    sink_kind: Literal["kafka", "duckdb"],
    cursor_path: Path | None,
    poll_seconds: float,
    max_idle_seconds: float | None,
) -> tuple[int, Poller]:
    """Poll ``source`` into the sink until SIGTERM or SIGINT (the page in flight is delivered first) or
    ``max_idle_seconds`` without news; the cursor file defaults to ``regaudit-<name>-<instance>.cursor``. Returns
    the records delivered and the poller (its page count)."""
    from regaudit.ingest.receive.poller import CursorFile, Poller

    cursor = cursor_path or Path(f"regaudit-{name}-{instance}.cursor")
    sink = build_sink(settings, sink_kind, instance, source=f"poll-{name}")
    poller = Poller(source, sink, CursorFile(cursor), poll_seconds)

    def stop(signum: int, frame: FrameType | None) -> None:
        poller.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        return poller.run(max_idle_seconds=max_idle_seconds), poller
    finally:
        sink.close()
