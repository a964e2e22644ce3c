"""``[gar]``: the Kafka topics that carry Google Artifact Registry's records, read by ``regaudit consume``.

Google's pipelines end in Pub/Sub: a Log Router sink publishes each audit log entry as a message, and Artifact
Registry publishes its notifications to the topic ``gcr``. A Pub/Sub-to-Kafka bridge (Google's Pub/Sub Group
Kafka Connector, or a pull subscriber) writes them to Kafka, the message's data as the record's value, or the whole
Pub/Sub message as JSON; they carry no regaudit headers, so each topic is mapped to the registry name its rows are
stored under, as ``quay.topics``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class GarSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True, hide_input_in_errors=True)

    topics: dict[str, str] = Field(
        default_factory=dict,
        description="Kafka topics a Pub/Sub bridge writes Artifact Registry's audit log entries or gcr "
        "notifications to, each mapped to the registry name its records are stored under; `regaudit consume` "
        "reads them too.",
    )
