"""Registry API requests and the request sequences real clients make: pull, push, sign, delete, list.

Each function appends to a ``Session`` the requests a client sends, with the status, headers and events the
registry answers with (FORMATS.md sections 1.4 and 3.2): a HEAD manifest is a ``pull``; a blob HEAD that finds
the blob during a push is a ``pull`` too; a blob that another repository holds is mounted (``mount``); a v2.8
manifest delete emits the digest delete, then one tag delete per tag, under one ``request.id``.
"""

from __future__ import annotations

import base64
import json

from regaudit.simulator.catalog import Blob, Manifest, Repository, build_signature, signature_tag
from regaudit.simulator.exchanges import Exchange
from regaudit.simulator.primitives import hex_id, rfc3339_nano, uuid4
from regaudit.simulator.sessions import JSON_UTF8, OCTET, Session

CACHE_LIMIT = 20_000
_DOCKER = "application/vnd.docker.distribution.manifest"
_OCI = "application/vnd.oci.image"
ACCEPT = {
    "docker": f"{_DOCKER}.v2+json",
    "containerd": f"{_DOCKER}.v2+json, {_DOCKER}.list.v2+json, {_OCI}.manifest.v1+json, {_OCI}.index.v1+json, */*",
    "buildkit": f"{_OCI}.index.v1+json, {_DOCKER}.list.v2+json, {_OCI}.manifest.v1+json, {_DOCKER}.v2+json, */*",
    "tool": f"{_OCI}.manifest.v1+json",
}


def _manifest_uri(repo: str, ref: str) -> str:
    return f"/v2/{repo}/manifests/{ref}"


def manifest(session: Session, method: str, repo: Repository, ref: str, target: Manifest) -> Exchange:
    """GET or HEAD a manifest by tag or digest: 200 and a ``pull`` event (HEAD included)."""
    sent = target.size if method == "GET" else 0
    exchange, replica = session.request(method, _manifest_uri(repo.name, ref), 200, sent=sent)
    exchange.accept = ACCEPT.get(session.client.style, "")
    exchange.resp_ct, exchange.digest = target.media_type, target.digest
    tag = None if ref.startswith("sha256:") else ref
    url = f"{session.base_url}/v2/{repo.name}/manifests/{target.digest}"
    session.event(
        exchange,
        replica,
        "pull",
        repo.name,
        media_type=target.media_type,
        size=target.size,
        digest=target.digest,
        tag=tag,
        url=url,
    )
    return exchange


def missing(session: Session, method: str, repo_name: str, ref: str, repo_exists: bool = True) -> Exchange:
    """A manifest the registry does not have: 404 ``MANIFEST_UNKNOWN`` or ``NAME_UNKNOWN``; no event."""
    if repo_exists:
        body = {"code": "MANIFEST_UNKNOWN", "message": "manifest unknown", "detail": {"Tag": ref}}
    else:
        body = {
            "code": "NAME_UNKNOWN",
            "message": "repository name not known to registry",
            "detail": {"name": repo_name},
        }
    size = len(json.dumps({"errors": [body]}, separators=(",", ":"))) + 1 if method == "GET" else 0
    exchange, _ = session.request(method, _manifest_uri(repo_name, ref), 404, sent=size)
    exchange.accept = ACCEPT.get(session.client.style, "")
    exchange.resp_ct = JSON_UTF8
    return exchange


def blob(session: Session, method: str, repo: Repository, item: Blob) -> Exchange:
    """GET or HEAD an existing blob: 200 and a ``pull`` event with the octet-stream media type."""
    sent = item.size if method == "GET" else 0
    exchange, replica = session.request(method, f"/v2/{repo.name}/blobs/{item.digest}", 200, sent=sent)
    exchange.resp_ct, exchange.digest = OCTET, item.digest
    url = f"{session.base_url}/v2/{repo.name}/blobs/{item.digest}"
    session.event(exchange, replica, "pull", repo.name, media_type=OCTET, size=item.size, digest=item.digest, url=url)
    return exchange


def _state(session: Session, repo: str, upload: str, offset: int) -> str:
    """The registry's upload ``_state``: an HMAC then the JSON upload state, URL-safe base64."""
    started = rfc3339_nano(session.now)
    text = f'{{"Name":"{repo}","UUID":"{upload}","Offset":{offset},"StartedAt":"{started}"}}'
    raw = bytes.fromhex(hex_id(session.rng, 64)) + text.encode()
    return base64.urlsafe_b64encode(raw).decode().replace("=", "%3D")


def upload(session: Session, repo: Repository, item: Blob) -> None:
    """HEAD (404), POST, PATCH with the bytes, PUT ``?digest=``: one ``push`` event at the commit."""
    base = f"/v2/{repo.name}/blobs"
    exchange, _ = session.request("HEAD", f"{base}/{item.digest}", 404)
    upload_id = uuid4(session.rng)
    state = _state(session, repo.name, upload_id, 0)
    exchange, _ = session.request("POST", f"{base}/uploads/", 202)
    exchange.location = f"{session.base_url}{base}/uploads/{upload_id}?_state={state}"
    exchange, _ = session.request("PATCH", f"{base}/uploads/{upload_id}?_state={state}", 202, body=item.size)
    exchange.req_ct = OCTET
    state = _state(session, repo.name, upload_id, item.size)
    exchange.location = f"{session.base_url}{base}/uploads/{upload_id}?_state={state}"
    digest = item.digest.replace(":", "%3A")
    exchange, replica = session.request("PUT", f"{base}/uploads/{upload_id}?_state={state}&digest={digest}", 201)
    exchange.digest = item.digest
    exchange.location = url = f"{session.base_url}{base}/{item.digest}"
    session.event(exchange, replica, "push", repo.name, media_type=OCTET, size=item.size, digest=item.digest, url=url)
    repo.blobs.add(item.digest)


def mount(session: Session, repo: Repository, item: Blob, source: Repository) -> None:
    """HEAD (404), then a cross-repository mount: 201 and a ``mount`` event with ``fromRepository``."""
    base = f"/v2/{repo.name}/blobs"
    session.request("HEAD", f"{base}/{item.digest}", 404)
    digest = item.digest.replace(":", "%3A")
    exchange, replica = session.request("POST", f"{base}/uploads/?mount={digest}&from={source.name}", 201)
    exchange.digest = item.digest
    exchange.location = url = f"{session.base_url}{base}/{item.digest}"
    session.event(
        exchange,
        replica,
        "mount",
        repo.name,
        media_type=OCTET,
        size=item.size,
        digest=item.digest,
        url=url,
        from_repository=source.name,
    )
    repo.blobs.add(item.digest)


def put_manifest(session: Session, repo: Repository, ref: str, target: Manifest) -> Exchange:
    """PUT a manifest by tag or digest: 201 and a ``push`` event (again on an identical re-push)."""
    exchange, replica = session.request("PUT", _manifest_uri(repo.name, ref), 201, body=target.size)
    exchange.req_ct, exchange.digest = target.media_type, target.digest
    exchange.location = url = f"{session.base_url}/v2/{repo.name}/manifests/{target.digest}"
    tag = None if ref.startswith("sha256:") else ref
    session.event(
        exchange,
        replica,
        "push",
        repo.name,
        media_type=target.media_type,
        size=target.size,
        digest=target.digest,
        tag=tag,
        url=url,
    )
    if tag is not None:
        repo.record(tag, exchange.end_ns, target)
    session.defer(exchange.end_ns, lambda: repo.store(target, tag, pushed=True))
    return exchange


def delete_manifest(session: Session, repo: Repository, digest: str) -> Exchange:
    """DELETE by digest: 202; a ``delete`` {digest, repository}, then one {repository, tag} per tag."""
    tags = [tag for tag in repo.tags_at(session.now) if _digest_at(repo, tag, session.now) == digest]
    exchange, replica = session.request("DELETE", _manifest_uri(repo.name, digest), 202)
    session.event(exchange, replica, "delete", repo.name, digest=digest)
    for tag in tags:
        session.event(exchange, replica, "delete", repo.name, tag=tag)
        repo.record(tag, exchange.end_ns, None)
    session.defer(exchange.end_ns, lambda: repo.untag_digest(digest))
    return exchange


def _digest_at(repo: Repository, tag: str, at_ns: int) -> str | None:
    held = repo.tag_at(tag, at_ns)
    return held.digest if held is not None else None


def resolve(session: Session, repo: Repository, tag: str) -> Manifest | None:
    """What ``tag`` points at by the session's clock (None when it does not exist then)."""
    return repo.tag_at(tag, session.now)


def ping(session: Session) -> Exchange:
    """``GET /v2/`` with credentials (``docker login``): 200 ``{}``, no event."""
    exchange, _ = session.request("GET", "/v2/", 200, sent=2)
    exchange.resp_ct = JSON_UTF8
    return exchange


def list_tags(session: Session, repo: Repository) -> Exchange:
    """GET tags/list: 200, no event."""
    names = sorted(repo.tags_at(session.now))
    size = len(json.dumps({"name": repo.name, "tags": names}, separators=(",", ":"))) + 1
    exchange, _ = session.request("GET", f"/v2/{repo.name}/tags/list", 200, sent=size)
    exchange.resp_ct = JSON_UTF8
    return exchange


def catalog(session: Session, names: list[str], page: int = 100) -> None:
    """GET /v2/_catalog, following ``Link`` pages: 200 each, no event."""
    last = ""
    for start in range(0, max(len(names), 1), page):
        chunk = names[start : start + page]
        query = f"?n={page}" + (f"&last={last}" if last else "")
        size = len(json.dumps({"repositories": chunk}, separators=(",", ":"))) + 1
        exchange, _ = session.request("GET", f"/v2/_catalog{query}", 200, sent=size)
        exchange.resp_ct = JSON_UTF8
        last = chunk[-1] if chunk else ""


def pull(session: Session, repo: Repository, tag: str, cache: set[str] | None, arm: bool = False) -> Manifest:
    """A client pull by tag: resolve it at the session's clock (containerd: HEAD then GET by digest), then
    ``fetch``."""
    target = repo.tag_at(tag, session.now)
    if target is None:
        raise KeyError(f"{repo.name}:{tag} does not exist at that moment")
    if session.client.style in ("containerd", "buildkit"):
        manifest(session, "HEAD", repo, tag, target)
        manifest(session, "GET", repo, target.digest, target)
    else:
        manifest(session, "GET", repo, tag, target)
    fetch(session, repo, target, cache, arm)
    return target


def fetch(session: Session, repo: Repository, target: Manifest, cache: set[str] | None, arm: bool = False) -> None:
    """After the top manifest: the platform manifest of an index, then the blobs not in ``cache``."""
    image = target
    if target.children:
        image = target.children[1 if arm and len(target.children) > 1 else 0]
        manifest(session, "GET", repo, image.digest, image)
    if cache is not None and len(cache) > CACHE_LIMIT:
        cache.clear()  # the client pruned its image store
    for item in (image.config, *image.layers):
        if item is not None and (cache is None or item.digest not in cache):
            blob(session, "GET", repo, item)
            if cache is not None:
                cache.add(item.digest)


def push(session: Session, repo: Repository, image: Manifest, tags: list[str], source: Repository | None) -> None:
    """Push an image: each blob checked, mounted or uploaded; children by digest; then one PUT per tag."""
    for child in image.platform_manifests:
        for item in (*child.layers, child.config):
            if item is None:
                continue
            if item.digest in repo.blobs:
                blob(session, "HEAD", repo, item)
            elif source is not None and item.digest in source.blobs:
                mount(session, repo, item, source)
            else:
                upload(session, repo, item)
        if image.children:
            put_manifest(session, repo, child.digest, child)
    for tag in tags:
        put_manifest(session, repo, tag, image)


def sign(session: Session, repo: Repository, subject: Manifest) -> Manifest:
    """cosign sign: fetch the subject, look for its ``.sig`` tag, upload the payload, PUT the tag (which moves
    to a new digest when a signature is appended)."""
    manifest(session, "GET", repo, subject.digest, subject)
    tag = signature_tag(subject.digest)
    previous = repo.tag_at(tag, session.now)
    if previous is None:
        missing(session, "GET", repo.name, tag)
    else:
        manifest(session, "GET", repo, tag, previous)
    signature = build_signature(session.rng, previous)
    for item in signature.layers[:-1]:
        blob(session, "HEAD", repo, item)
    for payload in (signature.layers[-1], signature.config):
        if payload is not None:
            upload(session, repo, payload)
    put_manifest(session, repo, tag, signature)
    repo.signatures[subject.digest] = signature
    return signature
