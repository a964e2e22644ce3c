"""JFrog Artifactory 7 webhook payloads of the Docker domain, as they arrive on the wire (FORMATS-more-registries.md
section 5.4).

Artifactory's event service posts one event per request, a predefined payload whose shape is the same in every
domain: ``domain`` (``docker`` here; ``artifact``, ``build``... for the others), ``event_type`` (``pushed``,
``deleted`` or ``promoted`` in the Docker domain: the UI's "Docker tag was pushed/deleted/promoted"), ``data``
(what the event is about), ``subscription_key`` (the webhook's name), ``jpd_origin`` (the platform's base URL) and
``source``. The payload carries **no time, no id, no client address and no user agent**; what ``source`` names
(``jfrog/<user>``) is documented only by example, so it is kept in the raw payload, not read as the pusher.

Docker ``data``: ``repo_key`` (the Docker repository), ``image_name`` (the image inside it, ``library/ubuntu``),
``tag``, ``path`` (``<image>/<tag>/manifest.json`` or ``list.manifest.json``), ``name``, ``sha256`` (the checksum
of that manifest file: the manifest digest, bare hex), ``size`` and ``platforms``. Models keep the wire names and
allow unknown fields (they stay in the raw payload); empty strings count as missing.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictInt, StrictStr

from regaudit.schemas.registry import OptionalText, WireModel

NonEmptyText = Annotated[StrictStr, Field(min_length=1)]
#: a manifest file's SHA-256 as Artifactory writes it: 64 lower-case hex digits, no algorithm prefix
Sha256Hex = Annotated[StrictStr, Field(pattern=r"^[0-9a-f]{64}$")]


class Platform(WireModel):
    """One platform of a multi-platform image (``list.manifest.json``)."""

    architecture: OptionalText = None
    os: OptionalText = None


class DockerData(WireModel):
    """``data`` of a Docker-domain event: one tag of one image in one repository."""

    repo_key: NonEmptyText
    image_name: NonEmptyText
    tag: OptionalText = None
    path: OptionalText = None
    name: OptionalText = None
    sha256: Sha256Hex | None = None
    size: StrictInt | None = None
    platforms: list[Platform] | None = None
    event_type: OptionalText = None  # repeats the envelope's


class WebhookEvent(WireModel):
    """A predefined webhook body, any domain; ``data`` is read as ``DockerData`` in the Docker domain only."""

    domain: NonEmptyText
    event_type: NonEmptyText
    data: dict[str, object] | None = None
    subscription_key: OptionalText = None
    jpd_origin: OptionalText = None
    source: OptionalText = None
