"""``regaudit poll ecr``: read an ECR registry's CloudTrail log files from S3, deliver each, then save the position."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from regaudit.errors import TerminalError
from regaudit.ingest.receive.receivers import (
    add_sink_arguments,
    add_until_idle_argument,
    run_poller,
    sink_overrides,
)
from regaudit.settings import Settings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        "AWS credentials come from boto3's chain (environment, shared config, an instance or task role); none "
        "is a setting (docs/production.md)."
    )
    parser.add_argument("--bucket", help="The trail's S3 bucket (default: ecr.bucket).")
    parser.add_argument("--prefix", help="The trail's S3 key prefix, before AWSLogs/ (default: ecr.prefix).")
    parser.add_argument("--instance", help="Registry name stored with the events (default: ecr.instance).")
    parser.add_argument("--endpoint-url", help="S3 endpoint URL (default: ecr.endpoint_url, else AWS's).")
    parser.add_argument("--cursor", type=Path, help="Position file (default: ecr.cursor_path).")
    add_until_idle_argument(parser, "with no new log file")
    add_sink_arguments(parser)


def overrides(args: argparse.Namespace) -> dict[str, dict[str, object]]:
    ecr = {
        "bucket": args.bucket,
        "prefix": args.prefix,
        "instance": args.instance,
        "endpoint_url": args.endpoint_url,
        "cursor_path": args.cursor,
        "sink": args.sink,
    }
    return {"ecr": ecr, **sink_overrides(args)}


def run(args: argparse.Namespace, settings: Settings) -> int:
    import boto3

    from regaudit.ingest.sources.ecr.trail import CloudTrailBucket, TrailLocation

    config = settings.ecr
    if not config.bucket:
        raise TerminalError("poll ecr needs ecr.bucket (--bucket): the S3 bucket the trail delivers to")
    client = boto3.client("s3", region_name=config.region, endpoint_url=config.endpoint_url)
    location = TrailLocation(config.bucket, config.prefix, config.instance)
    source = CloudTrailBucket(client, location, lambda: datetime.now(UTC), config.settle_seconds)
    delivered, poller = run_poller(
        source,
        settings,
        "ecr",
        config.instance,
        config.sink,
        config.cursor_path,
        config.poll_seconds,
        args.until_idle,
    )
    print(f"polled={delivered} files={poller.pages} other_services_skipped={source.skipped}")
    return 0
