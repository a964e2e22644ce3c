"""Red Hat Quay usage logs, as they arrive on the wire (FORMATS-more-registries.md section 6).

Quay writes one log entry per action (``data/logs_model``) and hands it out two ways:

* **forwarded** (``LOGS_MODEL`` ``elasticsearch`` with the ``kafka`` producer): one Kafka message per entry, the
  JSON of ``LogEntry.to_dict()`` (``data/logs_model/elastic_logs.py``): ``random_id`` (a uuid4, the dedupe key),
  ``kind_id``, ``account_id``, ``performer_id`` and ``repository_id`` (**database integers**, not names),
  ``ip``, ``metadata`` and ``datetime`` (naive ISO 8601 from ``datetime.today()``). With
  ``FEATURE_EXTENDED_ACTION_LOGGING`` it adds names: ``performer_username``, ``namespace_name``,
  ``repository_name``, ``user_agent``, ``request_id``... Null fields are left out;
* **the logs API** (``GET /api/v1/repository/<ns>/<repo>/logs``, ``/api/v1/organization/<org>/logs``): a page
  ``{start_time, end_time, logs, next_page}`` whose logs are ``Log.to_dict()`` (``data/logs_model/datatypes.py``):
  ``kind`` (the name), ``metadata``, ``ip``, ``datetime`` (RFC 2822), ``performer`` and, at organization level,
  ``namespace``. There is no id.

The metadata keys depend on the kind (``util/audit.py`` for pulls and pushes, ``endpoints/api/tag.py`` for tag
operations, ``auth/credentials.py`` for failed logins); models keep the wire names and allow unknown fields.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, StrictBool, StrictInt, StrictStr

from regaudit.schemas.registry import OptionalText, WireModel


class ForwardedLogEntry(WireModel):
    """A Kafka message of Quay's ``KafkaLogsProducer``: ``LogEntry.to_dict()``."""

    random_id: StrictStr | StrictInt  # a uuid4 string; Quay's own test documents carry integers
    kind_id: StrictInt
    account_id: StrictInt | None = None
    performer_id: StrictInt | None = None
    repository_id: StrictInt | None = None
    ip: OptionalText = None
    metadata: dict[str, Any] | None = None
    datetime: StrictStr  # naive ISO 8601, the Quay container's clock (UTC in Quay's images)
    # FEATURE_EXTENDED_ACTION_LOGGING
    request_url: OptionalText = None
    http_method: OptionalText = None
    performer_username: OptionalText = None
    performer_email: OptionalText = None
    performer_kind: OptionalText = None
    auth_type: OptionalText = None
    user_agent: OptionalText = None
    namespace_name: OptionalText = None
    repository_name: OptionalText = None
    request_id: OptionalText = None
    x_forwarded_for: OptionalText = None


class Performer(WireModel):
    """Who did it, in an API log: ``kind`` is ``user`` for robots too (``is_robot`` says)."""

    kind: OptionalText = None
    name: OptionalText = None
    is_robot: StrictBool | None = None
    avatar: dict[str, Any] | None = None


class Namespace(WireModel):
    """The organization or user a log belongs to (organization and user logs only)."""

    kind: OptionalText = None
    name: OptionalText = None
    avatar: dict[str, Any] | None = None


class ApiLog(WireModel):
    """One log of the logs API: ``Log.to_dict()``."""

    kind: StrictStr = Field(min_length=1)
    metadata: dict[str, Any] | None = None
    ip: OptionalText = None
    datetime: StrictStr  # RFC 2822, e.g. "Tue, 29 Jul 2025 03:47:57 -0000"
    performer: Performer | None = None
    namespace: Namespace | None = None


class LogsPage(WireModel):
    """A page of the logs API; ``next_page`` is an opaque token, absent on the last page."""

    start_time: OptionalText = None
    end_time: OptionalText = None
    logs: list[dict[str, Any]]
    next_page: OptionalText = None
