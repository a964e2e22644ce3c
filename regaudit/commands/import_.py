"""``regaudit import``: backfill rotated access logs and notification dumps into the store, then exit.

The module is ``import_`` because ``import`` is a Python keyword (``regaudit.cli.command_module``).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import TextIO

from regaudit.settings import Settings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="+",
        type=Path,
        help="Files to import, plain or gzip, in any order: rotated access logs (nginx's, combined or JSON, bare or "
        "in a shipper's envelope, or Artifactory's request log) and JSON Lines dumps of notification envelopes or "
        "events.",
    )
    parser.add_argument(
        "--log-path",
        help="The path ship-logs follows (or followed) for these files; their lines get the keys it gives them, so "
        "lines it shipped are not stored twice (default: each file's name without its rotation suffix: "
        "access.log.2.gz -> access.log).",
    )
    parser.add_argument("--kind", choices=["access", "event"], help="What the files hold (default: by first line).")
    parser.add_argument(
        "--source",
        choices=["acr", "gar", "dockerhub-usage"],
        help="Event files of another source: acr, an Azure storage account's resource log blobs (PT1H.json, JSON "
        "Lines of ContainerRegistryRepositoryEvents and ContainerRegistryLoginEvents records); gar, a Log Router "
        "sink's Cloud Storage files of Artifact Registry audit log entries (JSON Lines); dockerhub-usage, the "
        "pulls CSV Docker Hub's Usage page emails (hourly counts: each pull and version check a row at the hour's "
        "start, stored under dockerhub.instance unless --registry); implies --kind event (default: Distribution's "
        "notification dumps).",
    )
    parser.add_argument("--host", help="Host name in the line keys, as ship-logs --host (default: ship_logs.host).")
    parser.add_argument(
        "--registry",
        help="Registry name of the events (default: webhook.registry; with --source dockerhub-usage, "
        "dockerhub.instance).",
    )
    parser.add_argument("--db", help="DuckDB file (default: store.path).")
    parser.add_argument(
        "--batch-lines",
        type=int,
        help="Lines per transaction (default: 250000 for access logs, 100000 for notification dumps).",
    )
    parser.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, help="Progress bar on stderr (default: if a terminal)."
    )


def overrides(args: argparse.Namespace) -> dict[str, dict[str, object]]:
    return {"ship_logs": {"host": args.host}, "webhook": {"registry": args.registry}, "store": {"path": args.db}}


def run(args: argparse.Namespace, settings: Settings) -> int:
    from regaudit.ingest.hooks import load_hooks
    from regaudit.ingest.importer import Importer, reuse_freed_memory
    from regaudit.ingest.normalize import Normalizer
    from regaudit.ingest.sinks.duckdb import DuckDBSink

    missing = [str(path) for path in args.paths if not path.is_file()]
    if missing:
        print(f"regaudit import: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    registry = settings.webhook.registry
    if args.source == "dockerhub-usage" and not args.registry:  # the Hub organization the audit log poller names
        registry = settings.dockerhub.instance
    reuse_freed_memory()
    sink = DuckDBSink(
        settings.store.path,
        settings.store.lock_timeout_seconds,
        registry,
        hooks=load_hooks(settings),
        hold_seconds=settings.consumer.hold_seconds,  # readers get the file as from a consumer's backlog
    )
    normalizer = Normalizer(registry)
    try:
        importer = Importer(sink, normalizer, settings.ship_logs.host, registry, args.batch_lines, args.source)
        files = importer.plan(args.paths, args.log_path, "event" if args.source else args.kind)
        show = sys.stderr.isatty() if args.progress is None else args.progress
        bar = ProgressBar(sys.stderr) if show else None
        if bar:  # the bar stands for the sink's line per batch, which would break it up
            logging.getLogger("regaudit.ingest.sinks.duckdb").setLevel(logging.WARNING)
        summary = importer.run(files, bar.update if bar else None)
        if bar:
            bar.close()
    finally:
        normalizer.close()
    rate = summary.lines / summary.seconds if summary.seconds else 0.0
    print(
        f"files={summary.files} lines={summary.lines} stored={summary.stored} duplicates={summary.duplicates} "
        f"dead_letters={summary.dead_letters} unfinished={summary.unfinished} failed={len(summary.failed)} "
        f"seconds={summary.seconds:.2f} lines_per_second={rate:.0f}"
    )
    for failure in summary.failed:
        print(f"regaudit import: {failure}", file=sys.stderr)
    return 1 if summary.failed else 0


class ProgressBar:
    """One line on a terminal, redrawn at most five times a second: bytes read, lines, rate."""

    WIDTH = 30

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.started = self.drawn = time.monotonic()

    def update(self, done: int, total: int, summary: object) -> None:
        now = time.monotonic()
        if now - self.drawn < 0.2 and done < total:
            return
        self.drawn = now
        share = done / total if total else 1.0
        filled = int(share * self.WIDTH)
        lines = int(getattr(summary, "lines", 0))
        rate = lines / max(now - self.started, 1e-9)
        self.stream.write(
            f"\r[{'#' * filled}{'.' * (self.WIDTH - filled)}] {share:4.0%} {lines:,} lines {rate:,.0f} lines/s"
        )
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()
