"""Google Artifact Registry records, as they arrive on the wire (FORMATS.md 5.4, FORMATS-more-registries.md 2).

Three shapes reach regaudit:

* **Cloud Audit Logs entries** (``LogEntry``): Artifact Registry's Data Access (``DATA_READ``, ``DATA_WRITE``: the
  Docker operations) and Admin Activity entries, as a Log Router sink exports them: one JSON object a line in
  Cloud Storage, or one Pub/Sub message each. The only feed that says who pulled or pushed, and from where;
* **``gcr`` notifications** (``GcrNotification``): the Pub/Sub topic ``gcr`` Artifact Registry (and Container
  Registry) publish to on a push, a new tag or a delete, with full references and no actor;
* the **Pub/Sub push envelope** (``PubSubPush``) a push subscription POSTs, the message's ``data`` in base64.

Field names are Google's (LogEntry and AuditLog in camelCase). Models allow unknown fields and treat ``""`` as
missing.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, StrictBool, StrictInt, StrictStr

from regaudit.schemas.registry import OptionalText, UtcTimestamp, WireModel


class Status(WireModel):
    """``google.rpc.Status``: code 0 (or absent) is OK; 5 NOT_FOUND, 7 PERMISSION_DENIED, 2 for an IAM denial."""

    code: StrictInt = 0
    message: OptionalText = None


class AuthenticationInfo(WireModel):
    """Who called: ``{}`` when the caller was not authenticated."""

    principalEmail: OptionalText = None  # Google's name
    principalSubject: OptionalText = None


class RequestMetadata(WireModel):
    callerIp: OptionalText = None  # an address, or "gcp-internal-ip"
    callerSuppliedUserAgent: OptionalText = None


class HttpRequest(WireModel):
    """``protoPayload.request`` of a Docker operation: the registry API request it served."""

    requestMethod: OptionalText = None
    requestUrl: OptionalText = None


class AuthorizationInfo(WireModel):
    resource: OptionalText = None
    permission: OptionalText = None
    granted: StrictBool | None = None
    permissionType: OptionalText = None


class AuditLog(WireModel):
    serviceName: StrictStr
    methodName: StrictStr = Field(min_length=1)
    resourceName: OptionalText = None
    status: Status | None = None
    authenticationInfo: AuthenticationInfo = Field(default_factory=AuthenticationInfo)
    requestMetadata: RequestMetadata = Field(default_factory=RequestMetadata)
    authorizationInfo: list[AuthorizationInfo] | None = None
    request: dict[str, Any] | None = None  # an HttpRequest for Docker operations, the API request otherwise


class LogEntry(WireModel):
    """One log entry; Logging treats entries with the same ``logName``, ``timestamp`` and ``insertId`` as one."""

    insertId: StrictStr = Field(min_length=1)
    logName: StrictStr = Field(min_length=1)
    timestamp: UtcTimestamp
    receiveTimestamp: UtcTimestamp | None = None
    severity: OptionalText = None
    protoPayload: AuditLog


class GcrNotification(WireModel):
    """A message of the ``gcr`` topic: ``digest`` and ``tag`` are full references (``host/project/repo/image@...``,
    ``...:tag``); either may be absent, and a ``DELETE`` with a tag only is an untag."""

    action: StrictStr = Field(min_length=1)  # INSERT, DELETE
    digest: OptionalText = None
    tag: OptionalText = None


class PubSubMessage(WireModel):
    data: OptionalText = None  # base64
    messageId: OptionalText = None
    message_id: OptionalText = None
    publishTime: UtcTimestamp | None = None
    attributes: dict[str, Any] | None = None


class PubSubPush(WireModel):
    """What a Pub/Sub push subscription POSTs: one message and the subscription's name."""

    message: PubSubMessage
    subscription: OptionalText = None
