"""``[quay]``: where regaudit finds a Red Hat Quay's usage logs.

Quay's log forwarding (``LOGS_MODEL_CONFIG.producer: kafka``) writes to a topic of its own, with no regaudit
headers, so what a message on it is comes from here: ``topics`` maps each such topic to the Quay instance its logs
are stored under (``registry_events.registry``), and ``regaudit consume`` reads those topics beside its own. A
forwarded entry names its kind by database id (``kind_id``): ``log_kinds_file`` is that table, when a deployment's
ids differ from those Quay's migrations give (``regaudit.ingest.sources.quay.logs.load_kinds``).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


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
