"""``[alerts]``: where alerts go, which ones, and how hard delivery tries.

Each sink is one table of ``[[alerts.sinks]]`` (or one object of the JSON list in ``REGAUDIT_ALERTS__SINKS``)::

    [alerts]
    dashboard_url = "https://regaudit.example.com"

    [[alerts.sinks]]
    name = "secops-slack"
    type = "slack"
    url = "https://hooks.slack.com/services/T000/B000/XXXX"
    min_severity = "high"
    exclude = ["push.off_hours"]

    [[alerts.sinks]]
    name = "siem"
    type = "syslog"
    host = "siem.example.com"
    protocol = "tls"
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from regaudit.analytics.detection import Severity

SinkType = Literal["webhook", "slack", "kafka", "syslog", "stdout"]
SyslogProtocol = Literal["udp", "tcp", "tls"]
FACILITIES: dict[str, int] = {
    name: code
    for code, name in enumerate(
        [
            "kern",
            "user",
            "mail",
            "daemon",
            "auth",
            "syslog",
            "lpr",
            "news",
            "uucp",
            "cron",
            "authpriv",
            "ftp",
            "ntp",
            "audit",
            "alert",
            "clock",
            *(f"local{n}" for n in range(8)),
        ]  # fmt: skip
    )
}
STREAM_DETECTIONS = [
    "push.first_to_repository",
    "push.human_to_ci_repository",
    "push.off_hours",
    "push.outside_ci_network",
    "tag.release_overwrite",
    "tag.protected_delete",
]


def _is_http_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname) and url.isprintable() and " " not in url


class SinkSettings(BaseModel):
    """One place alerts go. Fields a type does not use are ignored.

    ``url`` and ``secret`` are credentials (a Slack incoming-webhook URL is one by itself), so both are
    ``SecretStr``: shown as ``**********`` by ``regaudit settings --effective``, never in a validation error,
    and read with ``get_secret_value()`` only by the sink that sends."""

    model_config = ConfigDict(extra="forbid", validate_default=True, hide_input_in_errors=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="Name of the sink, as `alerts` logs it.")
    type: SinkType = Field(description="webhook (signed JSON), slack, kafka, syslog (RFC 5424) or stdout.")
    min_severity: Severity = Field(Severity.MEDIUM, description="Least severity this sink receives.")
    include: list[str] = Field(
        default_factory=list, description="Detections this sink receives: ids, families or globs (empty: all)."
    )
    exclude: list[str] = Field(
        default_factory=list, description="Detections this sink never receives: ids, families or globs."
    )
    url: SecretStr | None = Field(
        None, description="webhook, slack: the URL alerts are POSTed to (a credential: shown masked)."
    )
    secret: SecretStr | None = Field(
        None, description="webhook: HMAC-SHA256 key of the X-Regaudit-Signature header (required)."
    )
    topic: str = Field("registry.alerts", description="kafka: topic (brokers and security from [kafka]).")
    host: str | None = Field(None, description="syslog: collector host name or address.")
    port: int | None = Field(None, ge=1, le=65535, description="syslog: collector port (default 514, 6514 with TLS).")
    protocol: SyslogProtocol = Field(
        "udp", description="syslog: udp (RFC 5426), tcp or tls (octet-counting framing, RFC 6587 / 5425)."
    )
    tls_ca_file: Path | None = Field(None, description="syslog over tls: CA bundle (default: the system's).")
    facility: str = Field("auth", description="syslog: facility name (auth, authpriv, local0..local7...).")
    app_name: str = Field("regaudit", description="syslog: APP-NAME of each message.")
    rate_limit_per_minute: float = Field(
        60.0, gt=0, description="Alerts per minute this sink gets at most; the rest wait their turn."
    )
    rate_limit_burst: int = Field(10, ge=1, description="Alerts sent back to back before the rate limit applies.")
    timeout_seconds: float = Field(5.0, gt=0, description="How long one delivery may take before it failed.")

    @field_validator("facility")
    @classmethod
    def _facility(cls, value: str) -> str:
        if value not in FACILITIES:
            raise ValueError(f"unknown syslog facility {value!r}; one of {', '.join(FACILITIES)}")
        return value

    @model_validator(mode="after")
    def _complete(self) -> SinkSettings:
        if self.type in ("webhook", "slack"):
            url = self.url.get_secret_value() if self.url is not None else ""
            if not url:
                raise ValueError(f"sink {self.name!r}: type {self.type} needs a url")
            if not _is_http_url(url):  # else urllib's own error would quote the URL, credential and all
                raise ValueError(f"sink {self.name!r}: url must be an http:// or https:// URL without spaces")
        if self.type == "webhook" and (self.secret is None or not self.secret.get_secret_value()):
            raise ValueError(f"sink {self.name!r}: type webhook needs a secret to sign with")
        if self.type == "syslog" and not self.host:
            raise ValueError(f"sink {self.name!r}: type syslog needs a host")
        return self

    @property
    def syslog_port(self) -> int:
        return self.port or (6514 if self.protocol == "tls" else 514)


class AlertsSettings(BaseModel):
    """Streaming rules in the consumer, and delivery of their alerts and of analyze's findings to the sinks."""

    model_config = ConfigDict(extra="forbid", validate_default=True, hide_input_in_errors=True)

    sinks: list[SinkSettings] = Field(
        default_factory=list, description="Where alerts go (`[[alerts.sinks]]`, fields below); none: no alerts."
    )
    dashboard_url: str | None = Field(
        None, description="Base URL of the dashboard; alerts link to its finding, identity and repository pages."
    )
    stream_detections: list[str] = Field(
        list(STREAM_DETECTIONS),
        description="Detections evaluated inside each ingest batch over its new pushes and deletes.",
    )
    stream_max_event_age_minutes: float = Field(
        1440.0, gt=0, description="Older events (an import of old logs) are left to `regaudit analyze`."
    )
    dedup_window_minutes: float = Field(
        1440.0, ge=0, description="A finding delivered to a sink is not sent to it again for this long."
    )
    retry_initial_seconds: float = Field(1.0, gt=0, description="First wait after a sink failed; then doubled.")
    retry_max_seconds: float = Field(
        60.0, gt=0, description="Longest wait between tries of a failing sink: the catch-up bound once it is back."
    )
    give_up_after_hours: float = Field(
        24.0, gt=0, description="Alerts not delivered this long after creation are logged as expired."
    )
    poll_seconds: float = Field(
        1.0, gt=0, description="How often the dispatcher looks for new alerts and analyze findings unprompted."
    )
    batch_size: int = Field(100, ge=1, description="Alerts handed to one sink per dispatcher cycle at most.")
    dispatch_in_consumer: bool = Field(
        True, description="`regaudit consume` runs the dispatcher as a thread (else run `regaudit alerts dispatch`)."
    )

    @model_validator(mode="after")
    def _unique_names(self) -> AlertsSettings:
        names = [sink.name for sink in self.sinks]
        if duplicates := sorted({name for name in names if names.count(name) > 1}):
            raise ValueError(f"sink names must be unique: {duplicates}")
        return self

    def sink(self, name: str) -> SinkSettings:
        for sink in self.sinks:
            if sink.name == name:
                return sink
        raise KeyError(name)
