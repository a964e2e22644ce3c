"""Docker Hub's organization audit log, as it arrives on the wire (FORMATS-more-registries.md section 3.1).

``GET https://hub.docker.com/v2/auditlogs/{account}`` answers ``{"logs": [AuditLog]}`` (docker/docs
``content/reference/api/hub/latest.yaml``, ``GetAuditLogsResponse``): no count, no next link and no event id. An
``AuditLog`` is ``account``, ``action`` (``<group>.<name>``, e.g. ``repo.tag.push``), ``name`` (the repository
``org/repo`` of a repository action, the organization or a team member otherwise), ``actor``, ``data`` (string to
string: ``tag`` and ``digest`` of a tag push; ``access_token_*`` when a token did it), ``timestamp`` (RFC 3339) and
``action_description``. The bearer token comes from ``POST /v2/auth/token`` (``AuthCreateTokenResponse``:
``access_token``, valid ten minutes). Models keep the wire names and allow unknown fields.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, StrictStr

from regaudit.schemas.registry import OptionalText, WireModel


class AuditLog(WireModel):
    """One audit log event (``AuditLog`` in Hub's OpenAPI document)."""

    account: OptionalText = None
    action: StrictStr = Field(min_length=1)
    name: OptionalText = None
    actor: OptionalText = None
    data: dict[str, Any] | None = None  # string to string by the spec; anything else is not trusted
    timestamp: StrictStr = Field(min_length=1)
    action_description: OptionalText = None


class AuditLogsPage(WireModel):
    """A page of ``GET /v2/auditlogs/{account}``: the logs only (Hub gives no count and no next link)."""

    logs: list[dict[str, Any]]


class AccessToken(WireModel):
    """``POST /v2/auth/token``'s answer: a JWT to send as ``Authorization: Bearer``, valid ten minutes."""

    access_token: StrictStr = Field(min_length=1)
