"""``regaudit consume``: move events and access lines from Kafka into DuckDB (see ``regaudit.ingest.consumer``)."""

from __future__ import annotations

import argparse

from regaudit.settings import Settings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bootstrap-servers", help="Kafka bootstrap servers (default: kafka.bootstrap_servers).")
    parser.add_argument("--db", help="DuckDB file (default: store.path).")
    parser.add_argument("--group", help="Consumer group (default: consumer.group_id).")
    parser.add_argument("--registry", help="Registry name for events that carry none (default: webhook.registry).")
    parser.add_argument("--batch-max-records", type=int, help="Records per transaction (default: consumer setting).")
    parser.add_argument(
        "--until-idle",
        type=float,
        metavar="SECONDS",
        help="Exit after SECONDS without new records (scripts, tests).",
    )


def overrides(args: argparse.Namespace) -> dict[str, dict[str, object]]:
    return {
        "kafka": {"bootstrap_servers": args.bootstrap_servers},
        "store": {"path": args.db},
        "consumer": {"group_id": args.group, "batch_max_records": args.batch_max_records},
        "webhook": {"registry": args.registry},
    }


def run(args: argparse.Namespace, settings: Settings) -> int:
    from regaudit.ingest.consumer import Consumer

    consumer = Consumer(settings, registry=settings.webhook.registry)
    consumer.install_signal_handlers()
    dispatcher = None
    if settings.alerts.sinks and settings.alerts.dispatch_in_consumer:
        from regaudit.analytics.alerts.dispatcher import Dispatcher

        dispatcher = Dispatcher(settings, store_lock=consumer.store_lock)
        consumer.on_batch = dispatcher.wake
        dispatcher.start()
    try:
        stats = consumer.run(max_idle_seconds=args.until_idle)
    finally:
        if dispatcher is not None:
            dispatcher.stop()
    print(
        f"batches={stats.batches} records={stats.records} new_events={stats.events} "
        f"new_access={stats.access} dead_letters={stats.dead_letters} isolated={stats.isolated} lag={stats.lag}"
    )
    return 0
