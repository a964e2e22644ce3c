"""``[acr]``: the Event Hubs that carry an Azure Container Registry's resource logs, read by ``regaudit consume``.

Azure Monitor writes the diagnostic setting's records to an Event Hub, which its namespace also serves as a Kafka
topic (port 9093, SASL PLAIN over TLS, user ``$ConnectionString``, the connection string as password). A consume
process whose ``[kafka]`` section points at the namespace reads the hubs named here as topics; the records carry
no regaudit headers, so each topic is mapped to the registry name its rows are stored under, as ``quay.topics``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class AcrSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True, hide_input_in_errors=True)

    topics: dict[str, str] = Field(
        default_factory=dict,
        description="Event Hubs (Kafka topics) an ACR diagnostic setting streams to (e.g. insights-logs-"
        "containerregistryrepositoryevents), each mapped to the registry name its records are stored under; "
        "`regaudit consume` reads them too.",
    )
