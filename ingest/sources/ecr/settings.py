"""``[ecr]``: where regaudit finds an AWS ECR registry's CloudTrail log files (``regaudit poll ecr``).

The trail's S3 bucket and key prefix, and the registry name its events are stored under. AWS credentials are
boto3's own (environment, shared config, instance or task role): none is kept here. The reader needs
``s3:ListBucket`` on the bucket (with the trail's prefix) and ``s3:GetObject`` on its objects, nothing else
(docs/production.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class EcrSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True, hide_input_in_errors=True)

    bucket: str | None = Field(None, description="S3 bucket the CloudTrail trail delivers its log files to.")
    prefix: str = Field("", description="The trail's S3 key prefix (before AWSLogs/); empty when the trail has none.")
    instance: str = Field("ecr", description="Registry name the ECR events are stored under.")
    region: str | None = Field(None, description="The bucket's AWS region; unset: boto3's configured region.")
    endpoint_url: str | None = Field(
        None, description="S3 endpoint URL (a VPC endpoint, or an S3-compatible server); unset: AWS's own."
    )
    cursor_path: Path | None = Field(
        None,
        description="File of the last log file read per account and region; unset: regaudit-ecr-<instance>.cursor.",
    )
    poll_seconds: float = Field(
        60.0, gt=0, description="Pause when no log file is new (CloudTrail delivers about every 5 minutes)."
    )
    settle_seconds: float = Field(
        300.0,
        ge=0,
        description="A log file is read once the minute in its name is this old: files delivered in the same minute"
        " sort by a random suffix, so one landing late would sort before a file already read.",
    )
    sink: Literal["kafka", "duckdb"] = Field("kafka", description="Where the records go: Kafka, or the store.")
