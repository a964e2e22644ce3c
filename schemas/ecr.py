"""AWS ECR audit records, as they arrive on the wire (FORMATS.md sections 5.1-5.2, FORMATS-more-registries.md 9).

Two shapes reach regaudit:

* **CloudTrail records** (``CloudTrailRecord``): one element of a trail's log file ``{"Records": [...]}`` (gzip
  JSON in S3), or the ``detail`` of an EventBridge ``AWS API Call via CloudTrail`` event. The only ECR feed that
  says who pulled (``BatchGetImage``, ``GetDownloadUrlForLayer``) and from where (``sourceIPAddress``);
* **EventBridge events** (``EventBridgeEvent``): ``detail-type`` ``ECR Image Action`` (push and delete, with no
  actor and no address) and ``ECR Image Scan``, with hyphenated ``detail`` keys.

Field names are AWS's (the CloudTrail record reference and the ECR user guide's samples). Models allow unknown
fields (they stay in the raw record) and treat ``""`` as missing; ``requestParameters`` and ``responseElements`` are
kept as JSON objects, read per ``eventName`` by the parser, since their shape is each API call's own.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field, StrictBool, StrictStr

from regaudit.schemas.registry import OptionalText, UtcTimestamp, WireModel


class SessionIssuer(WireModel):
    """Who issued a temporary session: the role (or user) an ``AssumedRole`` identity acts as."""

    type: OptionalText = None
    principalId: OptionalText = None  # AWS's name
    arn: OptionalText = None
    accountId: OptionalText = None
    userName: OptionalText = None


class SessionContext(WireModel):
    sessionIssuer: SessionIssuer | None = None
    attributes: dict[str, Any] | None = None


class UserIdentity(WireModel):
    """CloudTrail's ``userIdentity``: ``type`` is ``IAMUser``, ``AssumedRole``, ``Root``, ``AWSService``..."""

    type: OptionalText = None
    principalId: OptionalText = None
    arn: OptionalText = None
    accountId: OptionalText = None
    accessKeyId: OptionalText = None  # AKIA... long-term, ASIA... temporary
    userName: OptionalText = None
    sessionContext: SessionContext | None = None
    invokedBy: OptionalText = None  # an AWS service acting for the principal, or "AWS Internal"


class CloudTrailRecord(WireModel):
    """One CloudTrail event record. ``eventID`` is CloudTrail's unique id: the key a re-delivery is stored once by."""

    eventVersion: OptionalText = None
    userIdentity: UserIdentity | None = None
    eventTime: UtcTimestamp
    eventSource: StrictStr
    eventName: StrictStr = Field(min_length=1)
    awsRegion: OptionalText = None
    sourceIPAddress: OptionalText = None  # an address, or a service name (ecr.amazonaws.com)
    userAgent: OptionalText = None
    errorCode: OptionalText = None  # set when the call failed (AccessDenied...)
    errorMessage: OptionalText = None
    requestParameters: dict[str, Any] | None = None
    responseElements: dict[str, Any] | None = None
    requestID: OptionalText = None
    eventID: StrictStr = Field(min_length=1)
    resources: list[Any] | None = None  # ARN, accountId, type
    readOnly: StrictBool | None = None
    eventType: OptionalText = None  # AwsApiCall, AwsServiceEvent
    recipientAccountId: OptionalText = None
    serviceEventDetails: dict[str, Any] | None = None  # lifecycle expiry (PolicyExecutionEvent)


class ImageActionDetail(WireModel):
    """``ECR Image Action``: a push or delete that completed; no actor, no address (FORMATS.md 5.2)."""

    action_type: StrictStr = Field(alias="action-type")  # PUSH, DELETE
    result: OptionalText = None  # SUCCESS in every documented sample
    repository_name: StrictStr = Field(alias="repository-name", min_length=1)
    image_digest: OptionalText = Field(default=None, alias="image-digest")
    image_tag: OptionalText = Field(default=None, alias="image-tag")  # absent or empty for by-digest operations
    manifest_media_type: OptionalText = Field(default=None, alias="manifest-media-type")


class ImageScanDetail(WireModel):
    """``ECR Image Scan``: a basic scan finished; kept, never counted as image activity."""

    scan_status: OptionalText = Field(default=None, alias="scan-status")
    repository_name: StrictStr = Field(alias="repository-name", min_length=1)
    image_digest: OptionalText = Field(default=None, alias="image-digest")
    image_tags: list[StrictStr] | None = Field(default=None, alias="image-tags")
    finding_severity_counts: dict[str, int] | None = Field(default=None, alias="finding-severity-counts")


class EventBridgeEvent(WireModel):
    """The EventBridge envelope; ``id`` is unique per event, ``detail`` is read by ``detail_type``."""

    version: OptionalText = None
    id: StrictStr = Field(min_length=1)
    detail_type: StrictStr = Field(alias="detail-type", min_length=1)
    source: StrictStr
    account: OptionalText = None
    time: UtcTimestamp
    region: OptionalText = None
    resources: list[Any] | None = None
    detail: dict[str, Any]


def _report_value(value: Any) -> Any:
    """The credential report writes ``N/A``, ``not_supported`` or ``no_information`` where a value is missing."""
    return None if isinstance(value, str) and value.strip() in _MISSING else value


_MISSING = frozenset({"", "N/A", "not_supported", "no_information"})
ReportTime = Annotated[UtcTimestamp | None, BeforeValidator(_report_value)]
ReportFlag = Annotated[bool, BeforeValidator(lambda value: str(value).strip().lower() == "true")]


class CredentialReportRow(WireModel):
    """One row of IAM's credential report (``aws iam get-credential-report``: CSV, columns as the IAM User Guide's
    "Getting credential reports" lists them): a user (or ``<root_account>``) and its two access keys."""

    user: StrictStr = Field(min_length=1)
    arn: StrictStr = Field(min_length=1)
    user_creation_time: ReportTime = None
    access_key_1_active: ReportFlag = False
    access_key_1_last_rotated: ReportTime = None
    access_key_1_last_used_date: ReportTime = None
    access_key_2_active: ReportFlag = False
    access_key_2_last_rotated: ReportTime = None
    access_key_2_last_used_date: ReportTime = None
