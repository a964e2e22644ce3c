"""Parse one ACR body (an Event Hub event, a storage account line, a webhook POST) into canonical rows. Never raises.

The consumer, the importer and the webhook route judge a body with this one function, by its shape:

* ``{"records": [...]}``: an Event Hub event as Azure Monitor writes it. Each record of an ACR category is a row;
  a record of another category (a hub shared by several resources' diagnostic settings) is skipped, as the ECR
  trail reader skips other services' records; a record of an ACR category that does not validate is a problem;
* a lone record (``category`` and ``operationName``): a storage account line (JSON Lines since 2018-11-01), or a
  record forwarded alone. One of another category is a problem: nothing else reads it;
* a webhook event (``action`` and ``target``).

``parse`` returns the rows and the problems: a body with rows and problems stores the rows and keeps the body as
one dead letter; a body with no rows is one dead letter.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import ValidationError

from regaudit.ingest.sources.acr.resource_logs import CATEGORIES, record_row
from regaudit.ingest.sources.acr.webhook import event_row
from regaudit.ingest.sources.distribution.envelope import deeper_than, validation_reason
from regaudit.schemas.acr import ResourceLogBody, ResourceLogRecord, WebhookEvent

#: resource log records nest 3 levels; far beyond, refused unopened
MAX_DEPTH = 64


def parse(value: bytes, max_depth: int = MAX_DEPTH) -> tuple[list[dict[str, Any]], list[str]]:
    """The body's canonical rows and the reasons its other parts were refused (none, one per bad record)."""
    try:
        document = orjson.loads(value)
    except orjson.JSONDecodeError as error:
        return [], [f"not JSON: {error}"]
    try:
        return _document(document, max_depth)
    except Exception as error:  # noqa: BLE001 - parse never raises: the body becomes a dead letter
        return [], [f"invalid ACR record: {type(error).__name__}: {error}"]


def _document(document: Any, max_depth: int) -> tuple[list[dict[str, Any]], list[str]]:
    if not isinstance(document, dict):
        return [], ["not an ACR record: not a JSON object"]
    if deeper_than(document, max_depth):
        return [], [f"JSON nested deeper than {max_depth} levels"]
    try:
        if "records" in document:
            return _records(ResourceLogBody.model_validate(document).records)
        if "category" in document:
            return _lone_record(document)
        return [event_row(WebhookEvent.model_validate(document))], []
    except ValidationError as error:
        return [], [f"not an ACR record: {validation_reason(error)}"]


def _records(records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    for index, record in enumerate(records):
        if not isinstance(record, dict) or record.get("category") not in CATEGORIES:
            continue
        try:
            rows.append(record_row(ResourceLogRecord.model_validate(record)))
        except ValidationError as error:
            problems.append(f"record {index}: not an ACR record: {validation_reason(error)}")
    if not rows and not problems:
        problems.append(f"no ACR record among {len(records)} (categories {', '.join(sorted(CATEGORIES))})")
    return rows, problems


def _lone_record(document: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    category = document.get("category")
    if category not in CATEGORIES:
        return [], [f"not an ACR record: category {str(category)[:100]!r}"]
    return [record_row(ResourceLogRecord.model_validate(document))], []
