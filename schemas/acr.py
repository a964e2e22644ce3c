"""Azure Container Registry records, as they arrive on the wire (FORMATS.md 5.3, FORMATS-more-registries.md 1).

Two shapes reach regaudit:

* **resource log records** (``ResourceLogRecord``): the diagnostic setting's categories
  ``ContainerRegistryRepositoryEvents`` and ``ContainerRegistryLoginEvents``. An Event Hub carries them as
  ``{"records": [...]}`` bodies (``ResourceLogBody``), a storage account as JSON Lines, one record a line. The only
  ACR feed that says who pulled (``identity``) and from where (``callerIpAddress``);
* **webhook events** (``WebhookEvent``): ``push``, ``delete``, ``quarantine``, ``chart_push``, ``chart_delete``,
  with no actor and no client address.

Field names are Azure's (the resource log's camelCase, not Log Analytics' PascalCase columns). Models allow unknown
fields (they stay in the raw record) and treat ``""`` as missing; ACR writes ``"<nil>"`` where Go had a nil value,
which is missing too.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field, StrictInt, StrictStr

from regaudit.schemas.registry import UtcTimestamp, WireModel


def _missing(value: Any) -> Any:
    """``""`` and Go's ``"<nil>"`` (a nil pointer formatted with %v) both mean: no value."""
    return None if value in ("", "<nil>") else value


AzureText = Annotated[StrictStr | None, BeforeValidator(_missing)]


class ResourceLogProperties(WireModel):
    """``properties`` of a repository event; a login event has ``loginServer`` (and maybe ``userAgent``) only."""

    repository: AzureText = None
    tag: AzureText = None  # holds the digest when the pull was by digest
    digest: AzureText = None
    mediaType: AzureText = None  # Azure's name
    artifactType: AzureText = None
    loginServer: AzureText = None
    userAgent: AzureText = None
    size: AzureText | StrictInt = None


class ResourceLogRecord(WireModel):
    """One resource log record. It has no id of its own: ``correlationId`` names the request, not the record."""

    time: UtcTimestamp
    category: StrictStr = Field(min_length=1)
    resourceId: AzureText = None
    operationName: StrictStr = Field(min_length=1)
    identity: AzureText = None
    resultType: AzureText = None  # "HttpStatusCode"
    resultDescription: AzureText = None  # the HTTP status, as a string
    durationMs: AzureText = None
    callerIpAddress: AzureText = None
    correlationId: AzureText = None
    location: AzureText = None
    properties: ResourceLogProperties = Field(default_factory=ResourceLogProperties)


class ResourceLogBody(WireModel):
    """An Event Hub event as Azure Monitor writes it: one or more records, possibly of several categories."""

    records: list[dict[str, Any]]


class WebhookTarget(WireModel):
    mediaType: AzureText = None
    size: StrictInt | None = None
    digest: AzureText = None
    length: StrictInt | None = None
    repository: StrictStr = Field(min_length=1)
    tag: AzureText = None  # absent on delete: ACR sends no webhook for an untag
    name: AzureText = None  # chart events: the chart's name and version
    version: AzureText = None


class WebhookRequest(WireModel):
    id: AzureText = None
    host: AzureText = None
    method: AzureText = None
    useragent: AzureText = None


class WebhookEvent(WireModel):
    """One ACR webhook POST; ``id`` is unique per event, the key a retried POST is stored once by."""

    id: StrictStr = Field(min_length=1)
    timestamp: UtcTimestamp
    action: StrictStr = Field(min_length=1)
    target: WebhookTarget
    request: WebhookRequest | None = None  # chart events have none
