"""``[dockerhub]``: where ``regaudit poll dockerhub`` reads a Docker Hub organization's audit log.

Hub's audit log is an organization's (``account``), read with a JWT that ``POST /v2/auth/token`` gives for
``identifier`` and ``secret``: a user's name and personal access token (an organization owner's), or the
organization's name and an organization access token. The events are stored under ``instance``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class DockerHubSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True, hide_input_in_errors=True)

    url: str = Field("https://hub.docker.com", description="Docker Hub's API base URL.")
    instance: str = Field("dockerhub", description="Registry name the polled events are stored under.")
    account: str | None = Field(None, description="The organization whose audit log is polled.")
    identifier: str | None = Field(
        None, description="User name (with a personal access token) or organization name (with an organization"
        " access token) exchanged at /v2/auth/token."
    )  # fmt: skip
    secret: SecretStr | None = Field(None, description="The personal or organization access token.")
    start: datetime | None = Field(None, description="First time polled when there is no cursor; unset: a day ago.")
    lag_seconds: float = Field(300.0, ge=0, description="Windows end this long before the clock: Hub logs late.")
    window_seconds: float = Field(3600.0, gt=0, description="Longest window of time read in one walk of pages.")
    page_size: int = Field(100, ge=1, le=100, description="Events asked for per page.")
    poll_seconds: float = Field(60.0, gt=0, description="Pause when no event is new.")
    timeout_seconds: float = Field(10.0, gt=0, description="HTTP timeout of one API request.")
    ca_file: Path | None = Field(None, description="CA bundle of a TLS proxy in front of Hub; unset: the system's.")
    cursor_path: Path | None = Field(
        None, description="File of the poller's cursor (window and page); unset: regaudit-dockerhub-<instance>.cursor."
    )
    sink: Literal["kafka", "duckdb"] = Field("kafka", description="Where the polled records go: Kafka, or the store.")
