"""``[ghcr]``: where ``regaudit poll ghcr`` reads the package events of a GitHub organization's audit log.

GitHub Enterprise Cloud only (``GET /orgs/<org>/audit-log``). The token is an organization owner's personal access
token (classic) with the ``read:audit_log`` scope and nothing else; the events are stored under ``instance``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class GhcrSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True, hide_input_in_errors=True)

    api_url: str = Field("https://api.github.com", description="GitHub's REST API base URL.")
    instance: str = Field("ghcr", description="Registry name the polled events are stored under.")
    org: str | None = Field(None, description="The organization whose audit log is polled.")
    token: SecretStr | None = Field(None, description="An organization owner's token with read:audit_log only.")
    phrase: str = Field(
        "action:packages", description="The audit log search phrase (add e.g. created:>=2026-01-01 to bound it)."
    )
    per_page: int = Field(100, ge=1, le=100, description="Events asked for per page.")
    poll_seconds: float = Field(60.0, gt=0, description="Pause when no event is new.")
    timeout_seconds: float = Field(10.0, gt=0, description="HTTP timeout of one API request.")
    ca_file: Path | None = Field(None, description="CA bundle of a TLS proxy in front of GitHub; unset: the system's.")
    cursor_path: Path | None = Field(
        None, description="File of the poller's cursor (after, ids read); unset: regaudit-ghcr-<instance>.cursor."
    )
    sink: Literal["kafka", "duckdb"] = Field("kafka", description="Where the polled records go: Kafka, or the store.")
