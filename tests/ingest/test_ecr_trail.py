"""CloudTrail log files read from S3 with boto3, against moto's S3 server (a real HTTP S3 API in its own process):
the layout walked per account and region, the saved position, a restart resuming, nothing stored twice."""

from __future__ import annotations

import gzip
import json
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest

from regaudit.errors import TransientError
from regaudit.ingest import store
from regaudit.ingest.receive.poller import CursorFile, Poller
from regaudit.ingest.sinks.store import StoreRecordSink
from regaudit.ingest.sources.ecr import trail
from regaudit.ingest.sources.ecr.trail import CloudTrailBucket, TrailLocation
from tests.ingest.moto_server import CREDENTIALS, moto_endpoint
from tests.ingest.processes import REGAUDIT, free_port, regaudit_env

__all__ = ["moto_endpoint"]  # the server fixture, shared with the credential report's test

FIXTURES = Path(__file__).parents[1] / "fixtures" / "ecr"
BUCKET = "trail-logs"
ACCOUNT = "123456789012"
EAST = f"team/AWSLogs/{ACCOUNT}/CloudTrail/us-east-2/2019/04/15/"
WEST = f"team/AWSLogs/o-exampleorg/{ACCOUNT}/CloudTrail/us-west-2/2020/03/12/"  # an organization trail


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_bytes())


def log_file(*names: str) -> bytes:
    """A trail's log file: the records, one line of gzip JSON (the CloudTrail log file format)."""
    return gzip.compress(json.dumps({"Records": [fixture(name) for name in names]}).encode())


def key(prefix: str, stamp: str, unique: str) -> str:
    region = prefix.split("/CloudTrail/")[1].split("/")[0]
    return f"{prefix}{ACCOUNT}_CloudTrail_{region}_{stamp}_{unique}.json.gz"


@pytest.fixture
def s3(moto_endpoint):
    client = boto3.client("s3", endpoint_url=moto_endpoint, **CREDENTIALS)
    bucket = f"{BUCKET}-{time.monotonic_ns()}"
    client.create_bucket(Bucket=bucket)
    yield client, bucket
    client.close()


def poll(client, bucket: str, db: Path, cursor: Path) -> tuple[int, CloudTrailBucket]:
    source = CloudTrailBucket(client, TrailLocation(bucket, "team", "ecr-prod"), lambda: datetime.now(UTC))
    sink = StoreRecordSink(db, 10.0, "default", "ecr-trail")
    try:
        delivered = Poller(source, sink, CursorFile(cursor), poll_seconds=0.05).run(max_idle_seconds=0.3)
    finally:
        sink.close()
    return delivered, source


def stored(db: Path) -> list[tuple]:
    with store.reader(db) as con:
        return con.execute(
            "SELECT event_id, action, registry, origin FROM registry_events WHERE registry_kind = 'ecr' ORDER BY 1"
        ).fetchall()


def test_the_trail_is_read_per_region_in_key_order_and_a_restart_reads_only_what_is_new(s3, tmp_path):
    client, bucket = s3
    db, cursor = tmp_path / "store.duckdb", tmp_path / "ecr.cursor.json"
    client.put_object(Bucket=bucket, Key=key(EAST, "20190415T1650Z", "a1"),
                      Body=log_file("cloudtrail_kms_create_grant", "cloudtrail_put_image"))  # fmt: skip
    client.put_object(Bucket=bucket, Key=key(WEST, "20200312T2225Z", "b1"),
                      Body=log_file("cloudtrail_lifecycle_expiry"))  # fmt: skip
    client.put_object(Bucket=bucket, Key=f"team/AWSLogs/{ACCOUNT}/CloudTrail-Digest/us-east-2/2019/04/15/x.json.gz",
                      Body=b"{}")  # a digest file is not a log file  # fmt: skip
    delivered, source = poll(client, bucket, db, cursor)
    assert delivered == 2  # PutImage, PolicyExecutionEvent (one record, two expired digests)
    assert source.skipped == 1  # the KMS record
    assert [row[:3] for row in stored(db)] == [
        ("2bfd4ee2-2178-4a82-a27d-b12939923f0f", "push", "ecr-prod"),
        ("9354dd7f-9aac-4e9d-956d-12561a4923aa", "delete", "ecr-prod"),
        ("9354dd7f-9aac-4e9d-956d-12561a4923aa.1", "delete", "ecr-prod"),
    ]
    saved = json.loads(cursor.read_text())["cursor"]["after"]
    regions = {prefix.rsplit("/", 4)[0] + "/": prefix for prefix in (EAST, WEST)}  # .../CloudTrail/<region>/
    assert saved == {region: key(regions[region], stamp, unique) for region, stamp, unique in zip(
        regions, ("20190415T1650Z", "20200312T2225Z"), ("a1", "b1"), strict=True)}  # fmt: skip

    # the next delivery: a new file, and CloudTrail delivering the push again in it (it can): stored once
    client.put_object(Bucket=bucket, Key=key(EAST, "20190415T1725Z", "a2"),
                      Body=log_file("cloudtrail_batch_get_image", "cloudtrail_put_image"))  # fmt: skip
    delivered, _ = poll(client, bucket, db, cursor)
    assert delivered == 2  # only the new file was read
    rows = stored(db)
    assert len(rows) == 4
    assert ("c84f5880-c2f9-4585-9757-28fa5c1065df", "pull") in [row[:2] for row in rows]
    assert poll(client, bucket, db, cursor)[0] == 0  # nothing new: nothing read


def test_a_file_that_is_not_a_log_file_is_a_dead_letter_and_the_trail_goes_on(s3, tmp_path):
    client, bucket = s3
    db, cursor = tmp_path / "store.duckdb", tmp_path / "ecr.cursor.json"
    client.put_object(Bucket=bucket, Key=key(EAST, "20190415T1650Z", "a1"), Body=b"not gzip at all")
    client.put_object(Bucket=bucket, Key=key(EAST, "20190415T1655Z", "a2"), Body=log_file("cloudtrail_put_image"))
    poll(client, bucket, db, cursor)
    assert len(stored(db)) == 1
    with store.reader(db) as con:
        [(origin, reason)] = con.execute("SELECT origin, reason FROM dead_letters").fetchall()
    assert origin == f"s3://{bucket}/{key(EAST, '20190415T1650Z', 'a1')}"
    assert reason.startswith("not a CloudTrail log file: BadGzipFile")


class FailingSink:
    """A sink that never acknowledges: the position must not move."""

    def deliver(self, records):
        raise RuntimeError("store gone")

    def healthy(self) -> bool:
        return False

    def close(self) -> None:
        pass


def test_the_position_is_saved_only_after_the_sink_acknowledged(s3, tmp_path):
    client, bucket = s3
    cursor = tmp_path / "ecr.cursor.json"
    client.put_object(Bucket=bucket, Key=key(EAST, "20190415T1650Z", "a1"), Body=log_file("cloudtrail_put_image"))
    source = CloudTrailBucket(client, TrailLocation(bucket, "team", "ecr-prod"), lambda: datetime.now(UTC))
    with pytest.raises(RuntimeError, match="store gone"):
        Poller(source, FailingSink(), CursorFile(cursor), poll_seconds=0.05).run(max_idle_seconds=0.3)
    assert not cursor.exists()
    assert poll(client, bucket, tmp_path / "store.duckdb", cursor)[0] == 1  # read again, then saved


def test_an_unreachable_s3_endpoint_is_transient(tmp_path):
    client = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{free_port()}", **CREDENTIALS)
    source = CloudTrailBucket(client, TrailLocation(BUCKET, "", "ecr-prod"), lambda: datetime.now(UTC))
    with pytest.raises(TransientError, match="S3"):
        source.fetch(None)
    client.close()


def test_regaudit_poll_ecr_reads_the_trail_into_the_store_and_resumes(s3, tmp_path, moto_endpoint):
    client, bucket = s3
    client.put_object(Bucket=bucket, Key=key(EAST, "20190415T1650Z", "a1"), Body=log_file("cloudtrail_put_image"))
    db, cursor = tmp_path / "store.duckdb", tmp_path / "ecr.cursor.json"
    env = regaudit_env(db, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",  # noqa: S106
                       AWS_DEFAULT_REGION="us-east-1", REGAUDIT_ECR__POLL_SECONDS="0.1")  # fmt: skip
    command = [*REGAUDIT, "poll", "ecr", "--bucket", bucket, "--prefix", "team", "--instance", "ecr-prod",
               "--endpoint-url", moto_endpoint, "--cursor", str(cursor), "--sink", "duckdb",
               "--until-idle", "0.5"]  # fmt: skip
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert first.returncode == 0, first.stderr
    assert "polled=1 files=1" in first.stdout
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert "polled=0 files=0" in again.stdout  # the saved position: nothing read twice
    assert [row[:3] for row in stored(db)] == [("2bfd4ee2-2178-4a82-a27d-b12939923f0f", "push", "ecr-prod")]


def test_a_log_file_is_read_only_once_the_minute_of_its_name_has_settled(s3):
    client, bucket = s3
    client.put_object(Bucket=bucket, Key=key(EAST, "20190415T1650Z", "a1"), Body=log_file("cloudtrail_put_image"))
    now = [datetime(2019, 4, 15, 16, 55, 59, tzinfo=UTC)]  # 5 minutes into 16:50's minute: not yet
    source = CloudTrailBucket(client, TrailLocation(bucket, "team", "ecr-prod"), lambda: now[0], settle_seconds=300)
    assert source.fetch(None) is None
    now[0] = datetime(2019, 4, 15, 16, 56, 0, tzinfo=UTC)  # 16:51 + 300 s: a file of 16:50 can no longer arrive
    page = source.fetch(None)
    assert page is not None
    assert len(page.records) == 1


def test_a_gzip_bomb_in_the_bucket_is_a_dead_letter_not_the_pollers_memory(s3, tmp_path, monkeypatch):
    """Anyone who may write to the bucket can plant a file: one inflating past the limit (here 1 MB, 256 MB in use)
    is refused as it inflates, and the next file is read."""
    monkeypatch.setattr(trail, "MAX_LOG_BYTES", 1024 * 1024)
    client, bucket = s3
    db, cursor = tmp_path / "store.duckdb", tmp_path / "ecr.cursor.json"
    padded = json.dumps({"Records": [fixture("cloudtrail_put_image")]}).encode() + b" " * (2 * 1024 * 1024)
    client.put_object(Bucket=bucket, Key=key(EAST, "20190415T1650Z", "a1"), Body=gzip.compress(padded))
    client.put_object(Bucket=bucket, Key=key(EAST, "20190415T1655Z", "a2"), Body=log_file("cloudtrail_batch_get_image"))
    poll(client, bucket, db, cursor)
    assert [row[1] for row in stored(db)] == ["pull"]
    with store.reader(db) as con:
        [(reason,)] = con.execute("SELECT reason FROM dead_letters").fetchall()
    assert reason == f"not a CloudTrail log file: OverflowError: log file inflates past {1024 * 1024} bytes"


def test_an_ecr_record_nested_deeper_than_orjson_writes_is_a_dead_letter_and_its_file_goes_on(s3, tmp_path):
    client, bucket = s3
    db, cursor = tmp_path / "store.duckdb", tmp_path / "ecr.cursor.json"
    deep = fixture("cloudtrail_put_image")
    deep["requestParameters"]["hostile"] = json.loads("[" * 300 + "]" * 300)
    body = gzip.compress(json.dumps({"Records": [deep, fixture("cloudtrail_batch_get_image")]}).encode())
    client.put_object(Bucket=bucket, Key=key(EAST, "20190415T1650Z", "a1"), Body=body)
    poll(client, bucket, db, cursor)  # raised TypeError (orjson's recursion limit) out of fetch: the poller died
    assert [row[1] for row in stored(db)] == ["pull"]
    with store.reader(db) as con:
        [(origin, reason)] = con.execute("SELECT origin, reason FROM dead_letters").fetchall()
    assert origin == f"s3://{bucket}/{key(EAST, '20190415T1650Z', 'a1')}#0"
    assert reason.startswith("ECR record 0 of the log file not re-encoded")
