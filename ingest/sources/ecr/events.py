"""Parse one ECR record (a CloudTrail record or an EventBridge event) into canonical event fields, or a reason.

Never raises. The S3 reader, the webhook route and the normalizer all judge a record with this one function:

* a **CloudTrail record** (``eventSource`` ``ecr.amazonaws.com``): ``cloudtrail.record_rows``, keyed by CloudTrail's
  ``eventID``, so a record delivered twice (CloudTrail can) is stored once;
* an **EventBridge event** (``source`` ``aws.ecr``), keyed by its ``id``:

  - ``AWS API Call via CloudTrail``: the CloudTrail record in ``detail``, read as above and keyed by its own
    ``eventID``, so the same call read from the trail too is stored once;
  - ``ECR Image Action``: a ``push`` of a ``manifest`` or a ``delete`` (of a ``tag`` when one is named, else of a
    ``digest``). EventBridge names no actor, no address and no user agent: NULL. ``result`` other than ``SUCCESS``
    is ``outcome`` ``failure``. The same push is also a ``PutImage`` in the trail under another id, so a deployment
    reads image actions from one of the two (docs/sources.md);
  - ``ECR Image Scan`` and every other ECR detail type (scan resource changes, replication, pull-through cache):
    kept with the detail type in snake case as the action (``ecr_image_scan``), about an ``artifact``, never counted.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import ValidationError

from regaudit.ingest.sources.distribution.envelope import deeper_than, validation_reason
from regaudit.ingest.sources.ecr.cloudtrail import EVENT_SOURCES, REGISTRY_KIND, record_rows
from regaudit.schemas.ecr import CloudTrailRecord, EventBridgeEvent, ImageActionDetail, ImageScanDetail

#: CloudTrail records nest about 6 levels (requestParameters of lifecycle events); far beyond, refused unopened
MAX_DEPTH = 64
CLOUDTRAIL_DETAIL = "AWS API Call via CloudTrail"
_ACTIONS = {"PUSH": "push", "DELETE": "delete"}


def parse(value: bytes, max_depth: int = MAX_DEPTH) -> tuple[list[dict[str, Any]], str | None]:
    """The record's canonical fields, one dict per image (at least one), or no rows and the reason."""
    try:
        document = orjson.loads(value)
    except orjson.JSONDecodeError as error:
        return [], f"not JSON: {error}"
    try:
        return parse_document(document, max_depth)
    except Exception as error:  # noqa: BLE001 - parse never raises: the record becomes a dead letter
        return [], f"invalid ECR record: {type(error).__name__}: {error}"


def parse_document(document: Any, max_depth: int = MAX_DEPTH) -> tuple[list[dict[str, Any]], str | None]:
    """``parse`` of a document already decoded (the S3 reader decodes a whole log file at once)."""
    if not isinstance(document, dict):
        return [], "not an ECR record: not a JSON object"
    if deeper_than(document, max_depth):
        return [], f"JSON nested deeper than {max_depth} levels"
    try:
        if "detail-type" in document:
            return _eventbridge(EventBridgeEvent.model_validate(document))
        return _cloudtrail(CloudTrailRecord.model_validate(document))
    except ValidationError as error:
        return [], f"not an ECR record: {validation_reason(error)}"


def _cloudtrail(record: CloudTrailRecord) -> tuple[list[dict[str, Any]], str | None]:
    if record.eventSource not in EVENT_SOURCES:
        return [], f"not an ECR record: eventSource {record.eventSource[:100]!r}"
    return record_rows(record), None


def _eventbridge(event: EventBridgeEvent) -> tuple[list[dict[str, Any]], str | None]:
    if event.source != "aws.ecr":
        return [], f"not an ECR event: source {event.source[:100]!r}"
    if event.detail_type == CLOUDTRAIL_DETAIL:
        return _cloudtrail(CloudTrailRecord.model_validate(event.detail))
    common = {
        "event_id": event.id,
        "event_at": event.time,
        "actor": None,
        "client_addr": None,
        "user_agent": None,
        "request_id": None,
        "http_method": None,
        "registry_kind": REGISTRY_KIND,
    }
    if event.detail_type == "ECR Image Action":
        return [{**common, **_image_action(ImageActionDetail.model_validate(event.detail))}], None
    if event.detail_type == "ECR Image Scan":
        scan = ImageScanDetail.model_validate(event.detail)
        tag = scan.image_tags[0] if scan.image_tags else None
        target = {"repository": scan.repository_name, "tag": tag, "digest": scan.image_digest, "media_type": None}
        return [{**common, **target, "action": "ecr_image_scan", "target_kind": "artifact", "outcome": None}], None
    repository = event.detail.get("repository-name")
    return [
        {**common, "action": event.detail_type.lower().replace(" ", "_"), "target_kind": "artifact",
         "repository": repository if isinstance(repository, str) else "", "tag": None, "digest": None,
         "media_type": None, "outcome": None}
    ], None  # fmt: skip


def _image_action(detail: ImageActionDetail) -> dict[str, Any]:
    action = _ACTIONS.get(detail.action_type, detail.action_type.lower())
    target_kind = "manifest" if action == "push" else "tag" if detail.image_tag else "digest"
    return {
        "action": action,
        "target_kind": target_kind if action in ("push", "delete") else "artifact",
        "repository": detail.repository_name,
        "tag": detail.image_tag,
        "digest": detail.image_digest,
        "media_type": detail.manifest_media_type,
        "outcome": "success" if detail.result in (None, "SUCCESS") else "failure",
    }
