"""CloudTrail log files in S3 as pages of ECR records: the ``PageSource`` of ``regaudit.ingest.receive.poller``.

A trail writes gzip JSON ``{"Records": [...]}`` files under
``<prefix>/AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<id>.json.gz``
(an organization trail puts ``<o-id>/`` after ``AWSLogs/``). Within one account and region the keys sort by
delivery time, so the cursor is, per such prefix, the last key read: S3 lists the keys after it
(``StartAfter``) and nothing before it is read again. One page is one log file: its ECR records (every other
service's are skipped, counted in the log line), or the file itself as a dead letter when it is not gzip JSON with
``Records``; the cursor moves past it either way (a file never changes once delivered). The poller saves the
cursor only after the sink acknowledged the page, so a crash re-reads at most that file, whose records carry the
same ``eventID`` and are stored once. Digest files (``CloudTrail-Digest/``) are not under ``CloudTrail/``.

Whoever can write to the bucket can plant a file, so a file is read within bounds: at most ``MAX_LOG_BYTES``
compressed and inflated (a gzip bomb of 10 MB inflating to 10 GB would otherwise kill the poller, which would read
the same file again on restart and never get past it); a bigger one is a dead letter. An ECR record nested deeper
than orjson writes back (254 levels; it reads 1024) is a dead letter too, instead of an exception out of ``fetch``.

A key is read only once the time in its name (the delivery's, to the minute) is ``settle_seconds`` old: two files
delivered in the same minute sort by their random suffix, not by arrival, so a file landing just after a later-sorting
one was read would sort before the saved key and never be read. Waiting until the minute has settled closes that gap.

``S3Client`` is the part of boto3's S3 client used here, so tests give the real client an S3 server (moto's).
"""

from __future__ import annotations

import gzip
import logging
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import orjson

from regaudit.errors import TerminalError, TransientError
from regaudit.ingest.receive.poller import Cursor, Page
from regaudit.ingest.records import RawRecord
from regaudit.ingest.sources.ecr.cloudtrail import EVENT_SOURCES, REGISTRY_KIND

log = logging.getLogger(__name__)

LOG_SUFFIX = ".json.gz"
#: what is kept of a log file that is not one (the reason says why; a real log file is never refused)
MAX_DEAD_BYTES = 1024 * 1024
#: the most a log file may hold, compressed and inflated; CloudTrail's files are a few MB
MAX_LOG_BYTES = 256 * 1024 * 1024
#: the delivery time in a log file's name: ``<account>_CloudTrail_<region>_20190415T1650Z_<id>.json.gz``
_DELIVERED = re.compile(r"_(\d{8}T\d{4}Z)_[^/]*$")


class S3Client(Protocol):
    """The calls of boto3's S3 client this reads with."""

    def list_objects_v2(self, **kwargs: Any) -> dict[str, Any]: ...

    def get_object(self, **kwargs: Any) -> dict[str, Any]: ...


@dataclass(frozen=True)
class TrailLocation:
    """Where the trail writes: the bucket, the trail's key prefix (may be empty) and the registry instance name."""

    bucket: str
    prefix: str
    instance: str


class CloudTrailBucket:
    """Reads a trail's log files one at a time, per account and region in key order (see the module docstring)."""

    def __init__(self, client: S3Client, location: TrailLocation, clock: Any, settle_seconds: float = 300.0) -> None:
        self._client = client
        self._location = location
        self._clock = clock  # () -> aware datetime: when a record was received (a source may read the clock)
        self._settle = timedelta(seconds=settle_seconds)
        self.skipped = 0

    def fetch(self, cursor: Cursor | None) -> Page | None:
        """The next log file after the cursor, in the first region prefix that has one; None when none is new."""
        after: dict[str, str] = dict((cursor or {}).get("after", {}))
        for prefix in self._region_prefixes():
            key = self._next_key(prefix, after.get(prefix))
            if key is None or not self._settled(key):
                continue
            records = self._records(key)
            return Page(records=records, cursor={"after": {**after, prefix: key}})
        return None

    def close(self) -> None:
        """boto3 clients hold no connection to close."""

    def _settled(self, key: str) -> bool:
        """Whether the minute the key's name says it was delivered in is ``settle_seconds`` past (a name without
        that time is read at once)."""
        match = _DELIVERED.search(key)
        if match is None:
            return True
        delivered = datetime.strptime(match.group(1), "%Y%m%dT%H%MZ").replace(tzinfo=UTC)
        return bool(self._clock() - delivered >= self._settle + timedelta(minutes=1))

    def _region_prefixes(self) -> Iterator[str]:
        """``.../AWSLogs/<account>/CloudTrail/<region>/`` for every account (and organization) and region."""
        root = f"{self._location.prefix.strip('/')}/AWSLogs/".lstrip("/")
        for account in self._children(root):
            if account.rstrip("/").rsplit("/", 1)[-1].startswith("o-"):
                members = list(self._children(account))
            else:
                members = [account]
            for member in members:
                yield from self._children(f"{member}CloudTrail/")

    def _children(self, prefix: str) -> Iterator[str]:
        token: str | None = None
        while True:
            page = self._list(Prefix=prefix, Delimiter="/", **({"ContinuationToken": token} if token else {}))
            for common in page.get("CommonPrefixes", []):
                yield str(common["Prefix"])
            token = page.get("NextContinuationToken")
            if not token:
                return

    def _next_key(self, prefix: str, after: str | None) -> str | None:
        """The first log file key after ``after`` under ``prefix`` (S3 lists keys in order)."""
        token: str | None = None
        while True:
            arguments: dict[str, Any] = {"Prefix": prefix, "MaxKeys": 100}
            arguments |= {"ContinuationToken": token} if token else {"StartAfter": after} if after else {}
            page = self._list(**arguments)
            for item in page.get("Contents", []):
                if str(item["Key"]).endswith(LOG_SUFFIX):
                    return str(item["Key"])
            token = page.get("NextContinuationToken")
            if not token:
                return None

    def _list(self, **arguments: Any) -> dict[str, Any]:
        page: dict[str, Any] = _call(lambda: self._client.list_objects_v2(Bucket=self._location.bucket, **arguments))
        return page

    def _records(self, key: str) -> list[tuple[str | None, RawRecord]]:
        body = _call(lambda: self._client.get_object(Bucket=self._location.bucket, Key=key))["Body"].read(
            MAX_LOG_BYTES + 1
        )
        origin = f"s3://{self._location.bucket}/{key}"
        received_at = self._clock()
        try:
            records = orjson.loads(_gunzip(body, MAX_LOG_BYTES))["Records"]
            if not isinstance(records, list):
                raise TypeError("Records is not a list")
        except (OSError, EOFError, zlib.error, orjson.JSONDecodeError, KeyError, TypeError, OverflowError) as error:
            reason = f"not a CloudTrail log file: {type(error).__name__}: {error}"[:1000]
            return [(None, self._dead(body, origin, received_at, reason, f"s3:{origin}"))]
        return self._ecr_records(records, body, origin, received_at)

    def _dead(self, body: bytes, origin: str, received_at: datetime, reason: str, key: str) -> RawRecord:
        return RawRecord("deadletter", body[:MAX_DEAD_BYTES], origin, received_at, self._location.instance, key,
                         None, reason)  # fmt: skip

    def _ecr_records(
        self, records: list[Any], body: bytes, origin: str, received_at: datetime
    ) -> list[tuple[str | None, RawRecord]]:
        """One raw record per ECR record (re-encoded alone, as CloudTrail wrote it); the other services' skipped."""
        out: list[tuple[str | None, RawRecord]] = []
        for index, record in enumerate(records):
            if not isinstance(record, dict) or record.get("eventSource") not in EVENT_SOURCES:
                self.skipped += 1
                continue
            parameters = record.get("requestParameters")
            repository = parameters.get("repositoryName") if isinstance(parameters, dict) else None
            try:
                value = orjson.dumps(record)
            except orjson.JSONEncodeError as error:  # nested deeper than orjson writes: the file is kept instead
                reason = f"ECR record {index} of the log file not re-encoded: {error}"
                out.append((None, self._dead(body, f"{origin}#{index}", received_at, reason, f"s3:{origin}#{index}")))
                continue
            raw = RawRecord("event", value, f"{origin}#{index}", received_at,
                            self._location.instance, None, "application/json", None, REGISTRY_KIND)  # fmt: skip
            out.append((repository if isinstance(repository, str) else None, raw))
        log.debug("file=%s ecr=%d skipped_total=%d", origin, len(out), self.skipped)
        return out


def _gunzip(body: bytes, limit: int) -> bytes:
    """``gzip.decompress`` that stops past ``limit`` inflated bytes (``OverflowError``) instead of filling memory."""
    if len(body) > limit:
        raise OverflowError(f"log file over {limit} bytes compressed")
    out = bytearray()
    rest = body
    while rest:
        if rest[:2] != b"\x1f\x8b":  # as gzip.decompress says it
            raise gzip.BadGzipFile(f"Not a gzipped file ({rest[:2]!r})")
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)  # gzip framing, one member at a time
        out += inflater.decompress(rest, limit + 1 - len(out))
        if len(out) > limit:
            raise OverflowError(f"log file inflates past {limit} bytes")
        if not inflater.eof:
            raise EOFError("Compressed file ended before the end-of-stream marker was reached")
        rest = inflater.unused_data.lstrip(b"\0")  # gzip.decompress also skips zero padding after a member
    return bytes(out)


def _call(request: Any) -> Any:
    """An S3 call; a refused credential or a missing bucket is terminal, everything else (network, 5xx) transient."""
    from botocore.exceptions import BotoCoreError, ClientError  # boto3 is needed only by this reader

    try:
        return request()
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code in {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "NoSuchBucket", "403", "404"}:
            raise TerminalError(f"S3 refused the trail read: {code}: {error}") from error
        raise TransientError(f"S3: {error}") from error
    except BotoCoreError as error:
        raise TransientError(f"S3: {error}") from error
