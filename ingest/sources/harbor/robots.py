"""Harbor's robot accounts (``GET /api/v2.0/robots``, read from a file or from the API) as credential inventory
entries.

The answer is a JSON list of ``Robot`` (``api/v2.0/swagger.yaml``; ``schemas.harbor.Robot``). Each enabled robot is
one ``robot`` credential: ``name`` as Harbor logs it (``robot$<project>+<name>`` or ``robot$<name>``),
``created_at`` from ``creation_time``, ``expires_at`` from the Unix seconds of ``expires_at`` (-1 is never: NULL),
the project(s) its permissions name as the owner. What Harbor does not say stays NULL: a secret refresh is not
told apart from any other edit (``update_time``), so ``rotated_at`` is NULL. Disabled robots cannot authenticate
and are left out.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pydantic import TypeAdapter

from regaudit.ingest.sources.harbor.client import HarborClient
from regaudit.schemas.harbor import Robot

_ROBOTS = TypeAdapter(list[Robot])


def robot_entries(text: str) -> list[dict[str, Any]]:
    """Inventory entries (``credentials.CredentialEntry`` fields) of the enabled robots; ValueError if not a list
    of robots."""
    data = json.loads(text)
    if not isinstance(data, list):
        raise ValueError("Harbor's robot list is a JSON list (GET /api/v2.0/robots)")
    return [_entry(robot) for robot in _ROBOTS.validate_python(data) if not robot.disable]


def _entry(robot: Robot) -> dict[str, Any]:
    expires = None
    if robot.expires_at is not None and robot.expires_at > 0:
        expires = datetime.fromtimestamp(robot.expires_at, UTC)
    namespaces = sorted({p.namespace for p in robot.permissions or [] if p.namespace})
    return {
        "name": robot.name,
        "kind": "robot",
        "owner": ",".join(namespaces) or None,
        "created_at": robot.creation_time,
        "expires_at": expires,
    }


#: robots per request (the API's most) and the most pages read: far beyond any Harbor, a hostile server stops here
_PAGE_SIZE = 100
_MAX_PAGES = 1000


def fetch_robots(client: HarborClient) -> str:
    """Every robot account ``GET /api/v2.0/robots`` lists, page by page, as one JSON list (``robot_entries``'
    input); ValueError when a page is not a list."""
    robots: list[Any] = []
    for page in range(1, _MAX_PAGES + 1):
        rows = json.loads(client.get("/robots", {"page": page, "page_size": _PAGE_SIZE}))
        if not isinstance(rows, list):
            raise ValueError(f"Harbor's robot list page {page} is not a JSON list")
        robots.extend(rows)
        if len(rows) < _PAGE_SIZE:
            break
    return json.dumps(robots)
