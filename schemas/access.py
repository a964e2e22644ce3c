"""nginx access-log records in front of a registry (FORMATS.md section 3) and the shipper envelopes around them
(section 4).

Two JSON dialects are accepted: the recommended ``registry_json`` format of FORMATS.md 3.1 (``ts``, ``msec``,
``method``, ``uri``, every value a string) and the one of ``samples/nginx-1.22-registry.conf`` (``time``,
``request_method``, ``request_uri``, numbers unquoted). Both map onto ``NginxRecord`` through aliases. The
predefined ``combined`` line is parsed by ``COMBINED_PATTERN``. Times stay text, but one that parses and lies
outside ``TIME_WINDOW`` (schemas/registry.py) is refused, as the consumer's SQL refuses it.

Shippers (detection order of FORMATS.md 4): Filebeat (``@metadata.beat``), Vector (``source_type``), Fluent Bit
(``log`` plus a numeric ``@timestamp``); a bare line otherwise.
"""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field

from regaudit.schemas.registry import EARLIEST_AT, LATEST_AT, TIME_WINDOW, outside_window


def _text(value: Any) -> Any:
    """nginx writes numbers unquoted in some formats; empty and ``-`` mean missing (checklist 15)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    if value in ("", "-"):
        return None
    return value


Text = Annotated[str | None, BeforeValidator(_text)]


def _refuse_outside_window(moment: datetime | None) -> None:
    if moment is not None and (reason := outside_window(moment if moment.tzinfo else moment.replace(tzinfo=UTC))):
        raise ValueError(reason)


def _iso_time(value: str | None) -> str | None:
    """``$time_iso8601``: stays text, but a time outside ``TIME_WINDOW`` is refused, as the consumer refuses it."""
    moment = None
    with contextlib.suppress(ValueError):
        moment = datetime.fromisoformat(value) if value else None
    _refuse_outside_window(moment)
    return value


def _epoch_time(value: str | None) -> str | None:
    """``$msec`` (seconds since 1970 with milliseconds): refused outside ``TIME_WINDOW``."""
    try:
        seconds = float(value) if value else None
    except ValueError:
        return value
    if seconds is not None and not EARLIEST_AT.timestamp() <= seconds < LATEST_AT.timestamp():
        raise ValueError(f"msec {value} outside {TIME_WINDOW}")
    return value


def _local_time(value: str) -> str:
    """``$time_local`` of the combined line: refused outside ``TIME_WINDOW``."""
    moment = None
    with contextlib.suppress(ValueError):
        moment = datetime.strptime(value, "%d/%b/%Y:%H:%M:%S %z")
    _refuse_outside_window(moment)
    return value


IsoTime = Annotated[Text, AfterValidator(_iso_time)]
EpochTime = Annotated[Text, AfterValidator(_epoch_time)]

COMBINED_PATTERN = re.compile(
    r'^(?P<remote_addr>\S+) - (?P<remote_user>\S+) \[(?P<time_local>[^\]]+)\] "(?P<request>[^"]*)" '
    r'(?P<status>\d{3}) (?P<body_bytes_sent>\d+|-) "(?P<referer>[^"]*)" "(?P<user_agent>[^"]*)"'
)


def _alias(*names: str) -> Any:
    return Field(None, validation_alias=AliasChoices(*names))


class NginxRecord(BaseModel):
    """One JSON access-log line. Every field is text as nginx wrote it; the consumer converts types."""

    model_config = ConfigDict(extra="allow", frozen=True)

    ts: IsoTime = _alias("ts", "time", "time_iso8601")
    msec: EpochTime = None
    req_id: Text = _alias("req_id", "request_id")
    remote_addr: Text = None
    xff: Text = _alias("xff", "http_x_forwarded_for")
    remote_user: Text = None
    auth: Text = None
    host: Text = None
    method: Text = _alias("method", "request_method")
    uri: Text = _alias("uri", "request_uri")
    proto: Text = None
    status: Text = None
    body_bytes_sent: Text = None
    request_length: Text = None
    request_time: Text = None
    ua: Text = _alias("ua", "http_user_agent")
    accept: Text = None
    req_ct: Text = None
    range: Text = None  # noqa: A003 - the wire name
    resp_ct: Text = None
    digest: Text = _alias("digest", "upstream_digest")
    location: Text = None
    www_auth: Text = None
    up_addr: Text = None
    up_status: Text = None
    up_time: Text = None
    tls: Text = _alias("tls", "ssl_protocol")


class CombinedLine(BaseModel):
    """The predefined ``combined`` format, one regex match."""

    model_config = ConfigDict(frozen=True)

    remote_addr: str
    remote_user: Text
    time_local: Annotated[str, AfterValidator(_local_time)]
    request: str
    status: str
    body_bytes_sent: Text
    referer: Text
    user_agent: Text


class VectorEnvelope(BaseModel):
    """Vector ``kafka`` sink with the json codec (``file`` source, legacy namespace)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    message: str
    source_type: str
    timestamp: str | None = None
    host: str | None = None
    file: str | None = None


class FilebeatLogFile(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    path: str | None = None


class FilebeatLog(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    offset: int | None = None
    file: FilebeatLogFile | None = None


class FilebeatMetadata(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    beat: str


class FilebeatEnvelope(BaseModel):
    """Filebeat ``output.kafka`` with the default json codec."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    metadata: FilebeatMetadata = Field(alias="@metadata")
    timestamp: str | None = Field(None, alias="@timestamp")
    message: str
    log: FilebeatLog | None = None


class FluentBitEnvelope(BaseModel):
    """Fluent Bit ``kafka`` output, ``format json``, tail input; ``@timestamp`` is a float epoch."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    timestamp: float = Field(alias="@timestamp")
    log: str
