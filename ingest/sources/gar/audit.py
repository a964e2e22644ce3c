"""One Artifact Registry audit log entry into canonical event fields (FORMATS-more-registries.md 2.2-2.4). Pure.

Mapping, by ``methodName`` (the Docker registry API request the entry records is ``protoPayload.request``):

* ``Docker-GetManifest`` / ``Docker-HeadManifest``: a ``pull`` of a ``manifest`` with method GET or HEAD (a HEAD
  is a check, as Distribution's); ``Docker-ServeBlob``: a ``pull`` of a ``blob``; ``Docker-HeadBlob`` (a push
  asking whether a layer is there): a ``pull`` of a ``blob`` with method HEAD;
* ``Docker-PutManifest``: a ``push`` of a ``manifest``; ``Docker-FinishUpload`` a ``push`` of a ``blob``;
  ``Docker-StartUpload`` the same push begun (``blob_upload``);
* ``Docker-DeleteManifest``, ``Docker-DeleteTag`` and the API's ``DeleteTag``, ``DeleteVersion``,
  ``DeletePackage``: a ``delete`` of the tag, digest or repository;
* every other method (``Docker-GetTags``, ``Docker-Catalog``, ``CreateTag``, ``SetIamPolicy``...): kept under its
  name in snake case about an ``api_call``, never image activity.

The repository and reference come from the request's URL (``/v2/<project>/<repo>/<image...>/manifests/<ref>``),
else from ``resourceName`` (``projects/<p>/locations/<l>/repositories/<r>/dockerImages/<image, / as %2F>``): the
repository is ``<project>/<repo>/<image>``, the path under the ``<location>-docker.pkg.dev`` host, as the ``gcr``
notifications name it. A ``status`` with a non-zero code, or an ``authorizationInfo`` not ``granted``, is the
attempt with ``outcome`` ``failure`` (schema 9: refused). The identity is ``principalEmail`` (NULL when the caller
was not authenticated); ``callerIp`` is the client only when it is an address (``gcp-internal-ip`` is not). The
event id is a digest of ``logName``, ``insertId`` and ``timestamp``, what Logging itself deduplicates on.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from typing import Any
from urllib.parse import unquote, urlsplit

from regaudit.schemas.gar import HttpRequest, LogEntry

REGISTRY_KIND = "gar"
SERVICE = "artifactregistry.googleapis.com"
_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[A-Fa-f0-9]{32,}$")
_URL = re.compile(r"^/v2/(?P<repository>.+?)/(?P<endpoint>manifests|blobs|tags)(?:/(?P<reference>[^/?]+))?")
_RESOURCE = re.compile(r"^projects/(?P<project>[^/]+)/locations/[^/]+/repositories/(?P<repo>[^/]+)"
                       r"(?:/(?:dockerImages|packages)/(?P<image>[^/@:]+))?")  # fmt: skip
_WORD = re.compile(r"(?<!^)(?=[A-Z])")
#: Docker method -> (action, target kind)
_DOCKER = {
    "Docker-GetManifest": ("pull", "manifest"),
    "Docker-HeadManifest": ("pull", "manifest"),
    "Docker-ServeBlob": ("pull", "blob"),
    "Docker-HeadBlob": ("pull", "blob"),
    "Docker-PutManifest": ("push", "manifest"),
    "Docker-FinishUpload": ("push", "blob"),
    "Docker-StartUpload": ("push", "blob_upload"),
    "Docker-DeleteManifest": ("delete", "digest"),
    "Docker-DeleteTag": ("delete", "tag"),
}
_DELETES = {
    "DeleteTag": "tag",
    "DeleteVersion": "digest",
    "BatchDeleteVersions": "digest",
    "DeletePackage": "repository",
}
_HEAD = frozenset({"Docker-HeadManifest", "Docker-HeadBlob"})


def entry_row(entry: LogEntry) -> dict[str, Any]:
    """The canonical fields of one audit log entry."""
    audit = entry.protoPayload
    request = HttpRequest.model_validate(audit.request or {})
    repository, reference, upload_digest = _where(audit.resourceName, request.requestUrl)
    action, target_kind = _operation(audit.methodName)
    digest = reference if reference and _DIGEST.match(reference) else upload_digest
    tag = reference if reference and not _DIGEST.match(reference) else None
    http_method = request.requestMethod or ("HEAD" if audit.methodName in _HEAD else None)
    return {
        "event_id": event_id(entry),
        "event_at": entry.timestamp,
        "actor": audit.authenticationInfo.principalEmail,
        "client_addr": client_addr(audit.requestMetadata.callerIp),
        "user_agent": audit.requestMetadata.callerSuppliedUserAgent,
        "request_id": entry.insertId,
        "http_method": http_method,
        "outcome": "failure" if refused(entry) else "success",
        "registry_kind": REGISTRY_KIND,
        "repository": repository,
        "tag": tag if target_kind in ("manifest", "tag") else None,
        "digest": digest if target_kind != "blob_upload" else None,
        "media_type": None,
        "action": action,
        "target_kind": "tag" if action == "delete" and tag and target_kind == "digest" else target_kind,
    }


def _operation(method: str) -> tuple[str, str]:
    if method in _DOCKER:
        return _DOCKER[method]
    name = method.rsplit(".", 1)[-1]
    if name in _DELETES:
        return "delete", _DELETES[name]
    return _WORD.sub("_", name.replace("Docker-", "")).lower().replace("-", "_"), "api_call"


def _where(resource_name: str | None, url: str | None) -> tuple[str, str | None, str | None]:
    """(repository, the manifest reference or blob digest in the URL, the digest an upload finished with)."""
    if url and (match := _URL.match(url)):
        query = urlsplit(url).query
        upload = next((unquote(part[7:]) for part in query.split("&") if part.startswith("digest=")), None)
        return match["repository"], match["reference"], upload
    if resource_name and (match := _RESOURCE.match(resource_name)):
        image = unquote(match["image"]) if match["image"] else None
        return "/".join(part for part in (match["project"], match["repo"], image) if part), None, None
    return "", None, None


def refused(entry: LogEntry) -> bool:
    """A non-zero status, or a permission check not granted."""
    audit = entry.protoPayload
    if audit.status is not None and audit.status.code != 0:
        return True
    return any(check.granted is False for check in audit.authorizationInfo or [])


def client_addr(caller: str | None) -> str | None:
    """``callerIp`` when it is an IP address (``gcp-internal-ip`` is a Google-internal caller, no address)."""
    if caller is None:
        return None
    try:
        return str(ipaddress.ip_address(caller))
    except ValueError:
        return None


def event_id(entry: LogEntry) -> str:
    """Logging's own identity of an entry: log name, insert id and timestamp."""
    text = "\0".join((entry.logName, entry.insertId, entry.timestamp.isoformat()))
    return "gar-" + hashlib.sha256(text.encode()).hexdigest()[:32]
