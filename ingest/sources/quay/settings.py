"""``[quay]``: where regaudit finds a Red Hat Quay's usage logs, forwarded to Kafka or read from its logs API.

Quay's log forwarding (``LOGS_MODEL_CONFIG.producer: kafka``) writes to a topic of its own, with no regaudit
headers, so what a message on it is comes from here: ``topics`` maps each such topic to the Quay instance its logs
are stored under (``registry_events.registry``), and ``regaudit consume`` reads those topics beside its own. A
forwarded entry names its kind by database id (``kind_id``): ``log_kinds_file`` is that table, when a deployment's
ids differ from those Quay's migrations give (``regaudit.ingest.sources.quay.logs.load_kinds``).

``regaudit poll quay`` reads the logs API instead (``regaudit.ingest.sources.quay.logs_api``): one repository or
one organization per poller, with an OAuth access token of an application in Quay (``repo:admin`` or
``org:admin`` scope), stored under ``instance``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class QuaySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True, hide_input_in_errors=True)

    topics: dict[str, str] = Field(
        default_factory=dict,
        description="Kafka topics Quay's log forwarding writes (its LOGS_MODEL_CONFIG.kafka_config.topic), each"
        " mapped to the Quay instance name its logs are stored under; `regaudit consume` reads them too.",
    )
    log_kinds_file: Path | None = Field(
        None,
        description="JSON object of Quay's log kinds by id (`SELECT json_object_agg(id, name) FROM logentrykind`),"
        " for forwarded logs; unset: the ids Quay's own migrations give.",
    )
    url: str | None = Field(None, description="Quay's base URL, for `regaudit poll quay` (https://quay.example.com).")
    instance: str = Field("quay", description="Registry name the polled logs are stored under.")
    token: SecretStr | None = Field(
        None, description="OAuth access token of a Quay application, with repo:admin or org:admin scope."
    )
    repository: str | None = Field(None, description="`namespace/name` of the repository whose logs are polled.")
    organization: str | None = Field(None, description="Organization whose logs are polled (or a repository).")
    start: date | None = Field(None, description="First UTC day polled when there is no cursor; unset: yesterday.")
    lag_seconds: float = Field(60.0, ge=0, description="Today is the clock less this: Quay writes logs late.")
    poll_seconds: float = Field(60.0, gt=0, description="Pause when no log is new.")
    timeout_seconds: float = Field(10.0, gt=0, description="HTTP timeout of one logs API request.")
    ca_file: Path | None = Field(None, description="CA bundle that signed Quay's certificate; unset: the system's.")
    cursor_path: Path | None = Field(
        None, description="File of the poller's cursor (day, page, ids read); unset: regaudit-quay-<instance>.cursor."
    )
    sink: Literal["kafka", "duckdb"] = Field("kafka", description="Where the polled records go: Kafka, or the store.")
