"""Harbor 2.x webhook payloads, as they arrive on the wire (FORMATS.md section 2).

Harbor posts one event per request, in the format its webhook policy chose:

* **Default** (``Content-Type: application/json``): ``type`` (``PUSH_ARTIFACT``...), ``occur_at`` (Unix seconds),
  ``operator`` and ``event_data``; Go's ``notifier/model.Payload``;
* **CloudEvents 1.0** (``application/cloudevents+json``, Harbor 2.8+): ``specversion``, ``id`` (a UUID per
  rendering), ``source`` (``/projects/<id>/webhook/policies/<id>``), ``type`` (``harbor.artifact.pushed``...),
  ``time`` (RFC 3339, whole seconds), ``data`` (the same ``event_data``) and the extensions ``requestid`` and
  ``operator``.

The field names and types follow ``src/pkg/notifier/model/event.go`` in goharbor/harbor. Models keep the wire names
and allow unknown fields (they stay in the raw payload); empty strings count as missing, except ``operator``, where
``""`` is Harbor's word for an anonymous pull.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StrictBool, StrictInt, StrictStr

from regaudit.schemas.registry import OptionalText, UtcTimestamp, WireModel

#: CloudEvents ``type`` -> Harbor's event type (``formats/cloudevents.go``, ``eventTypeMapping``)
CLOUDEVENTS_TYPES = {
    "harbor.artifact.deleted": "DELETE_ARTIFACT",
    "harbor.artifact.pulled": "PULL_ARTIFACT",
    "harbor.artifact.pushed": "PUSH_ARTIFACT",
    "harbor.tag.created": "CREATE_TAG",
    "harbor.quota.exceeded": "QUOTA_EXCEED",
    "harbor.quota.warned": "QUOTA_WARNING",
    "harbor.replication.status.changed": "REPLICATION",
    "harbor.scan.failed": "SCANNING_FAILED",
    "harbor.scan.completed": "SCANNING_COMPLETED",
    "harbor.scan.stopped": "SCANNING_STOPPED",
    "harbor.tag_retention.finished": "TAG_RETENTION",
}

NonEmptyText = Annotated[StrictStr, Field(min_length=1)]


class Resource(WireModel):
    """One artifact of the event: push, pull and delete carry exactly one."""

    digest: OptionalText = None
    tag: OptionalText = None  # the first tag, or the digest when the operation named none
    resource_url: OptionalText = None
    scan_overview: dict[str, Any] | None = None


class Repository(WireModel):
    date_created: StrictInt | None = None  # absent once the repository is gone
    name: OptionalText = None
    namespace: OptionalText = None  # the project
    repo_full_name: OptionalText = None
    repo_type: OptionalText = None  # public or private


class ReplicationResource(WireModel):
    registry_name: OptionalText = None
    registry_type: OptionalText = None
    endpoint: OptionalText = None
    provider: OptionalText = None
    namespace: OptionalText = None


class ArtifactInfo(WireModel):
    type: OptionalText = None
    status: OptionalText = None
    name_tag: OptionalText = None
    fail_reason: OptionalText = None


class Replication(WireModel):
    harbor_hostname: OptionalText = None
    job_status: OptionalText = None
    description: OptionalText = None
    artifact_type: OptionalText = None
    authentication_type: OptionalText = None
    override_mode: StrictBool | None = None
    trigger_type: OptionalText = None
    policy_creator: OptionalText = None
    execution_timestamp: StrictInt | None = None
    src_resource: ReplicationResource | None = None
    dest_resource: ReplicationResource | None = None
    successful_artifact: list[ArtifactInfo] | None = None
    failed_artifact: list[ArtifactInfo] | None = None


class Retention(WireModel):
    total: StrictInt | None = None
    retained: StrictInt | None = None
    harbor_hostname: OptionalText = None
    project_name: OptionalText = None
    retention_policy_id: StrictInt | None = None
    result: OptionalText = None
    deleted_artifact: list[ArtifactInfo] | None = None


class EventData(WireModel):
    """``event_data`` (Default) or ``data`` (CloudEvents)."""

    resources: list[Resource] | None = None
    repository: Repository | None = None
    replication: Replication | None = None
    retention: Retention | None = None
    custom_attributes: dict[str, StrictStr] | None = None


class DefaultPayload(WireModel):
    """A Default-format webhook body."""

    type: NonEmptyText
    occur_at: StrictInt
    operator: StrictStr | None = None
    event_data: EventData | None = None


class CloudEvent(WireModel):
    """A CloudEvents-format webhook body (structured mode, JSON)."""

    specversion: Literal["1.0"]
    id: NonEmptyText
    source: NonEmptyText
    type: NonEmptyText
    time: UtcTimestamp
    datacontenttype: OptionalText = None
    data: EventData | None = None
    requestid: OptionalText = None
    operator: StrictStr | None = None


class AuditLogEntry(WireModel):
    """One row of Harbor's audit log API: ``AuditLog`` (``GET /api/v2.0/audit-logs``, the table before 2.13) or
    ``AuditLogExt`` (``GET /api/v2.0/auditlog-exts``, 2.13+, which adds ``operation_description`` and
    ``operation_result``); ``api/v2.0/swagger.yaml`` in goharbor/harbor.

    ``resource`` is ``<repository>:<tag>`` or ``<repository>@<digest>`` for artifacts and tags, the repository, the
    project or the user name otherwise; ``username`` is ``anonymous`` for an anonymous pull."""

    id: StrictInt
    username: StrictStr | None = None
    resource: StrictStr | None = None
    resource_type: StrictStr | None = None
    operation: NonEmptyText
    operation_description: StrictStr | None = None
    operation_result: StrictBool | None = None
    op_time: UtcTimestamp


class RobotPermission(WireModel):
    """``RobotPermission``: the namespace (a project, or ``*``) and the kind (``project``, ``system``)."""

    kind: OptionalText = None
    namespace: OptionalText = None
    access: list[dict[str, Any]] | None = None


class Robot(WireModel):
    """One robot account of ``GET /api/v2.0/robots`` (``Robot`` in the swagger); ``secret`` is never returned by a
    list. ``expires_at`` is Unix seconds, -1 for never; ``name`` is the full ``robot$...`` name Harbor logs."""

    id: StrictInt | None = None
    name: NonEmptyText
    description: StrictStr | None = None
    level: OptionalText = None
    duration: StrictInt | None = None
    disable: StrictBool | None = None
    expires_at: StrictInt | None = None
    permissions: list[RobotPermission] | None = None
    creation_time: UtcTimestamp | None = None
    update_time: UtcTimestamp | None = None
