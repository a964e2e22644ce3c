"""GitHub's organization audit log, the events of GitHub Packages (ghcr.io) in it (FORMATS-more-registries.md §4).

``GET /orgs/{org}/audit-log`` (GitHub Enterprise Cloud) answers a JSON array of events; more pages are named by the
``Link`` header (``rel="next"``, an ``after`` cursor). An event is ``action`` (``<category>.<operation>``),
``actor``, ``created_at`` and ``@timestamp`` (epoch **milliseconds**), ``_document_id`` (its id, when given),
``org``, ``repo``... and, for package events, ``package``, ``version``, ``ecosystem`` [S]. Models keep the wire
names and allow unknown fields.
"""

from __future__ import annotations

from pydantic import Field, StrictInt, StrictStr

from regaudit.schemas.registry import OptionalText, WireModel


class AuditEvent(WireModel):
    """One event of the audit log."""

    action: StrictStr = Field(min_length=1)
    created_at: StrictInt | None = None
    timestamp: StrictInt | None = Field(None, alias="@timestamp")
    document_id: OptionalText = Field(None, alias="_document_id")
    actor: OptionalText = None
    actor_ip: OptionalText = None
    user_agent: OptionalText = None
    org: OptionalText = None
    repo: OptionalText = None
    package: OptionalText = None
    version: OptionalText = None
    ecosystem: OptionalText = None
