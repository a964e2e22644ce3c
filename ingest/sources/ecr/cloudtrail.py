"""One ECR CloudTrail record into canonical event fields (FORMATS.md 5.1, FORMATS-more-registries.md 9). Pure.

Mapping, by ``eventName`` (the request and response fields are the ECR API's, which CloudTrail copies):

* ``BatchGetImage``: a ``pull`` of a ``manifest``, one row per ``requestParameters.imageIds`` entry (tag or digest
  as asked: ``responseElements`` is null, so a tag is never resolved to a digest). ``http_method`` ``GET``: the
  call returns the manifests (a download, whatever the client's HTTP verb was, which the record does not say);
* ``GetDownloadUrlForLayer``: a ``pull`` of a ``blob`` (``layerDigest``), ``http_method`` ``GET``: ECR's registry
  endpoint makes this call for a layer GET (a HEAD is ``BatchCheckLayerAvailability``), so layers fetched without
  a manifest pull become blob-only pulls like Distribution's;
* ``PutImage``: a ``push`` of a ``manifest`` (tag and media type as asked, digest from the response); an identical
  re-push fails with ``ImageAlreadyExistsException`` and is a push that changed nothing, not a refusal;
* ``CompleteLayerUpload``: a ``push`` of a ``blob`` (the response's ``layerDigest``); ``InitiateLayerUpload`` and
  ``UploadLayerPart`` are the same blob push in progress (``target_kind`` ``blob_upload``, no digest yet);
* ``BatchDeleteImage``: a ``delete`` per image the response says it deleted (``tag`` when deleted by tag), and a
  failed delete per ``failures`` entry; ``PolicyExecutionEvent`` (lifecycle expiry) a ``delete`` per expired digest,
  with no actor: AWS itself did it;
* ``GetAuthorizationToken``: a ``login`` (``docker login`` / ``get-login-password``), about the whole registry;
* every other call (``DescribeImages``, ``CreateRepository``, ``SetRepositoryPolicy``...): kept under its name in
  snake case, ``target_kind`` ``api_call``, never image activity.

A record with ``errorCode`` is the attempted action with ``outcome`` ``failure`` (schema 9: counted as refused);
CloudTrail reports every call's outcome, so the others are ``success``. The identity is ``userIdentity.arn`` (an
assumed role's ARN names the role and the session), else the invoking service; ``sourceIPAddress`` is the client
only when it is an address (``ecr.amazonaws.com`` or ``AWS Internal`` are service names: NULL).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

import orjson

from regaudit.schemas.ecr import CloudTrailRecord

REGISTRY_KIND = "ecr"
#: the ECR services whose records are registry events (ECR Public logs in us-east-1 only)
EVENT_SOURCES = frozenset({"ecr.amazonaws.com", "ecr-public.amazonaws.com"})
#: errors that mean "already so", not "refused": the push changed nothing
_NOT_REFUSALS = frozenset({"ImageAlreadyExistsException"})
_BLOB_UPLOADS = frozenset({"InitiateLayerUpload", "UploadLayerPart"})
_REPOSITORY_ARN = re.compile(r":repository/(.+)$")
_WORD = re.compile(r"(?<!^)(?=[A-Z])")


def record_rows(record: CloudTrailRecord) -> list[dict[str, Any]]:
    """The canonical fields of one record: one dict per image it names, at least one."""
    request = record.requestParameters or {}
    response = record.responseElements or {}
    common = {
        "event_at": record.eventTime,
        "actor": actor(record),
        "client_addr": client_addr(record.sourceIPAddress),
        "user_agent": record.userAgent,
        "request_id": record.requestID,
        "http_method": None,
        "outcome": "failure" if record.errorCode and record.errorCode not in _NOT_REFUSALS else "success",
        "repository": repository(record, request, response),
        "registry_kind": REGISTRY_KIND,
    }
    targets = _targets(record, request, response)
    return [
        {**common, **target, "event_id": record.eventID if index == 0 else f"{record.eventID}.{index}"}
        for index, target in enumerate(targets)
    ]


def _targets(record: CloudTrailRecord, request: dict[str, Any], response: dict[str, Any]) -> list[dict[str, Any]]:
    name = record.eventName
    if name == "BatchGetImage":
        images = _image_ids(request)
        return [_image("pull", "manifest", image, http_method="GET") for image in images] or [
            _target("pull", "manifest", http_method="GET")
        ]
    if name == "GetDownloadUrlForLayer":
        return [_target("pull", "blob", digest=_text(request.get("layerDigest")), http_method="GET")]
    if name == "PutImage":
        return [_put_image(request, response)]
    if name == "CompleteLayerUpload":
        digest = _text(response.get("layerDigest")) or _first(request.get("layerDigests"))
        return [_target("push", "blob", digest=digest)]
    if name in _BLOB_UPLOADS:
        return [_target("push", "blob_upload")]
    if name == "BatchDeleteImage":
        return _deletes(record, request, response)
    if name == "PolicyExecutionEvent":
        return _expiries(record) or [_target("lifecycle_expiry", "api_call")]
    if name == "GetAuthorizationToken":
        return [_target("login", "registry")]
    return [_target(_WORD.sub("_", name).lower(), "api_call")]


def _target(action: str, target_kind: str, **fields: Any) -> dict[str, Any]:
    return {"action": action, "target_kind": target_kind, "tag": None, "digest": None, "media_type": None} | fields


def _image(action: str, target_kind: str, image: dict[str, Any], **fields: Any) -> dict[str, Any]:
    tag, digest = _text(image.get("imageTag")), _text(image.get("imageDigest"))
    return _target(action, target_kind, tag=tag, digest=digest, **fields)


def _image_ids(holder: dict[str, Any], key: str = "imageIds") -> list[dict[str, Any]]:
    images = holder.get(key)
    return [image for image in images if isinstance(image, dict)] if isinstance(images, list) else []


def _put_image(request: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    image = _object(response.get("image"))
    image_id = _object(image.get("imageId"))
    tag = _text(request.get("imageTag")) or _text(image_id.get("imageTag"))
    digest = _text(image_id.get("imageDigest")) or _text(request.get("imageDigest"))
    media_type = _text(request.get("imageManifestMediaType")) or _manifest_media_type(request.get("imageManifest"))
    return _target("push", "manifest", tag=tag, digest=digest, media_type=media_type)


def _manifest_media_type(manifest: Any) -> str | None:
    """The ``mediaType`` the pushed manifest declares (``imageManifest`` is the manifest as a JSON string)."""
    if not isinstance(manifest, str):
        return None
    try:
        document = orjson.loads(manifest)
    except orjson.JSONDecodeError:
        return None
    return _text(document.get("mediaType")) if isinstance(document, dict) else None


def _deletes(record: CloudTrailRecord, request: dict[str, Any], response: dict[str, Any]) -> list[dict[str, Any]]:
    """Each deleted image (by tag: a tag delete; by digest: a digest delete), then each failure as a failed delete."""
    if record.errorCode:
        return [_delete(image) for image in _image_ids(request)] or [_target("delete", "digest")]
    deleted = [_delete(image) for image in _image_ids(response)]
    failed = [
        _delete(failure["imageId"], outcome="failure")
        for failure in _image_ids(response, "failures")
        if isinstance(failure.get("imageId"), dict)
    ]
    return deleted + failed or [_delete(image) for image in _image_ids(request)] or [_target("delete", "digest")]


def _delete(image: dict[str, Any], **fields: Any) -> dict[str, Any]:
    kind = "tag" if _text(image.get("imageTag")) else "digest"
    return _image("delete", kind, image, **fields)


def _expiries(record: CloudTrailRecord) -> list[dict[str, Any]]:
    details = record.serviceEventDetails or {}
    rows = []
    for action in _image_ids(details, "lifecycleEventImageActions"):
        image = action.get("lifecycleEventImage")
        if isinstance(image, dict) and _text(image.get("digest")):
            rows.append(_target("delete", "digest", digest=image["digest"]))
    return rows


def actor(record: CloudTrailRecord) -> str | None:
    """The IAM principal: its ARN (an assumed role's names the role and the session), else the invoking service."""
    identity = record.userIdentity
    if identity is None:
        return None
    if identity.arn:
        return identity.arn
    issuer = identity.sessionContext.sessionIssuer if identity.sessionContext else None
    if issuer is not None and issuer.arn:
        return issuer.arn
    if identity.invokedBy and identity.invokedBy != "AWS Internal":
        return identity.invokedBy
    return identity.userName


def client_addr(source: str | None) -> str | None:
    """``sourceIPAddress`` when it is an IP address; a service name (``ecr.amazonaws.com``) is no client address."""
    if source is None:
        return None
    try:
        return str(ipaddress.ip_address(source))
    except ValueError:
        return None


def repository(record: CloudTrailRecord, request: dict[str, Any], response: dict[str, Any]) -> str:
    """The repository the call names, in the request, the response or the record's resources; '' for none."""
    for holder in (request, response.get("repository"), response.get("image"), record.serviceEventDetails):
        if isinstance(holder, dict) and (name := _text(holder.get("repositoryName"))):
            return name
    for resource in record.resources or []:
        if isinstance(resource, dict) and (match := _REPOSITORY_ARN.search(str(resource.get("ARN", "")))):
            return match.group(1)
    return ""


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _first(value: Any) -> str | None:
    return _text(value[0]) if isinstance(value, list) and value else None
