"""Settings of Harbor's pulled and forwarded audit log: ``regaudit poll harbor`` and ``regaudit listen-syslog``.

The webhook needs none of its own (it is a path of ``regaudit webhook``). Sections of ``regaudit.settings``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

#: as ``regaudit.settings.REGISTRY_NAME_PATTERN``: the instance name is a registry name
_INSTANCE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True, hide_input_in_errors=True)


class HarborAuditSettings(_Section):
    """``regaudit poll harbor``: Harbor's audit-log API, polled with a saved cursor."""

    url: str = Field("", description="Harbor's base URL, e.g. https://harbor.example.com (required).")
    instance: str = Field(
        "harbor",
        pattern=_INSTANCE_PATTERN,
        description="Registry name stored with the events (as /events/harbor/<instance>).",
    )
    username: str = Field("", description="Account that lists the audit log: a robot account (robot$...) or a user.")
    password: SecretStr = Field(SecretStr(""), description="Its secret or password.")
    endpoint: Literal["auditlog-exts", "audit-logs"] = Field(
        "auditlog-exts", description="auditlog-exts (Harbor 2.13+), or audit-logs (the log before 2.13)."
    )
    page_size: int = Field(100, ge=1, le=100, description="Rows per request (Harbor allows 100 at most).")
    poll_seconds: float = Field(30.0, gt=0, description="How often the API is asked for new rows once caught up.")
    lag_seconds: float = Field(
        10.0, ge=0, description="Rows younger than this are left for the next poll (Harbor writes them asynchronously)."
    )
    start: datetime | None = Field(None, description="Oldest op_time read on the first run (default: the whole log).")
    cursor_path: Path | None = Field(
        None, description="File that keeps the cursor (default: regaudit-harbor-<instance>.cursor in the directory)."
    )
    ca_file: Path | None = Field(None, description="CA bundle that signs Harbor's certificate (default: the system's).")
    timeout_seconds: float = Field(10.0, gt=0, description="Timeout of one API request.")
    sink: Literal["kafka", "duckdb"] = Field(
        "kafka", description="Where rows go: Kafka, or straight into the DuckDB store."
    )


Transport = Literal["tcp", "udp"]


class HarborSyslogSettings(_Section):
    """``regaudit listen-syslog``: Harbor's audit log forwarding (audit_log_forward_endpoint)."""

    host: str = Field("127.0.0.1", description="Address the syslog listener binds.")
    port: int = Field(1514, ge=0, le=65535, description="Port of the TCP and UDP listeners.")
    protocols: list[Transport] = Field(
        ["tcp", "udp"], description="Transports to listen on (Harbor forwards over TCP)."
    )
    instance: str = Field("harbor", pattern=_INSTANCE_PATTERN, description="Registry name stored with the events.")
    batch_lines: int = Field(1000, gt=0, description="Lines delivered per batch at most.")
    max_line_bytes: int = Field(
        65536, ge=1024, description="Longest line kept whole; a longer one is kept clipped as a dead letter."
    )
    sink: Literal["kafka", "duckdb"] = Field(
        "kafka", description="Where lines go: Kafka, or straight into the DuckDB store."
    )
