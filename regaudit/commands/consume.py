"""``regaudit consume``: move events and access lines from Kafka into DuckDB (see ``regaudit.ingest.consumer``).

While it runs it serves ``/metrics`` and ``/healthz`` on ``consumer.metrics_host``:``consumer.metrics_port``
(``regaudit.ingest.consumer_metrics``), so Prometheus can scrape the Kafka path as it scrapes the webhook.
"""

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
        "--metrics-host", help="Address of /metrics and /healthz (default: consumer.metrics_host, 127.0.0.1)."
    )
    parser.add_argument(
        "--metrics-port", type=int, help="Port of /metrics and /healthz, 0 for none (default: consumer.metrics_port)."
    )
    parser.add_argument(
        "--until-idle",
        type=float,
        metavar="SECONDS",
        help="Exit after SECONDS without new records, with the broker saying none wait after the consumer's "
        "positions and no queued time ranges left to derive (cron, scripts, tests). A broker that does not answer "
        "for longer than SECONDS (3 looks at least) ends the run with exit code 75 instead, never 0; the records "
        "whose offsets were not committed are read again next run and stored once.",
    )


def overrides(args: argparse.Namespace) -> dict[str, dict[str, object]]:
    return {
        "kafka": {"bootstrap_servers": args.bootstrap_servers},
        "store": {"path": args.db},
        "consumer": {
            "group_id": args.group,
            "batch_max_records": args.batch_max_records,
            "metrics_host": args.metrics_host,
            "metrics_port": args.metrics_port,
        },
        "webhook": {"registry": args.registry},
    }


def run(args: argparse.Namespace, settings: Settings) -> int:
    from regaudit.ingest.consumer import Consumer
    from regaudit.ingest.metrics import MetricsServer

    consumer = Consumer(settings, registry=settings.webhook.registry)
    consumer.install_signal_handlers()
    config = settings.consumer
    metrics = MetricsServer(config.metrics_host, config.metrics_port, consumer.metrics.render, consumer.metrics.health)
    if config.metrics_port:
        metrics.start()  # a port taken is logged, never a reason to stop consuming
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
        metrics.stop()
    print(
        f"batches={stats.batches} records={stats.records} new_events={stats.events} "
        f"new_access={stats.access} dead_letters={stats.dead_letters} isolated={stats.isolated} lag={stats.lag}"
    )
    return 0
