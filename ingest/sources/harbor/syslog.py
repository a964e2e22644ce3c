"""Parse one line of Harbor's audit log forwarding (syslog) into canonical event fields, or a reason. Never raises.

Harbor 2.6+ forwards every audit row to ``audit_log_forward_endpoint`` with Go's ``log/syslog`` over TCP
(``src/pkg/audit/forward.go``: ``syslog.Dial("tcp", endpoint, syslog.LOG_INFO, "audit")``), one line per row:

    <6>{RFC 3339} {hostname} audit[{pid}]: {RFC 3339} [INFO] [{file}:{line}][operator="…" resourceType="…"
    time="…"]:action:{operation}, resource:{resource}, operation_description:{description}

(one line; folded here). The text after the header is Harbor's ``TextFormatter`` (``src/lib/log/textformatter.go``:
``"%s [%s] "`` time and level, then the caller and the sorted ``key="value"`` fields of ``logger.go``, ``:``, then the
message) of the call in ``src/pkg/auditext/manager.go`` (``Infof("action:%s, resource:%s, operation_description:%s",
...)``; before 2.13 ``src/pkg/audit`` wrote no description). ``time`` is Go's ``time.Time`` text, e.g. ``2025-05-01
12:05:10.123456789 +0000 UTC``, possibly with ``m=+…``. The message is found wherever the line carries it, so a relay
that re-frames the line (RFC 5424 ``<6>1 …``, RFC 3164) is read the same way.

A forwarded line has no row id and no result flag (a refused login reads as one that succeeded): the event id is a
digest of the Harbor message, the same for the same row, and ``operation_result`` is unknown (NULL).
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from regaudit.ingest.sources.harbor.audit import audit_rows
from regaudit.schemas.harbor import AuditLogEntry

#: the content type regaudit marks a forwarded line with (syslog declares none)
SYSLOG_TYPE = "text/x.harbor.audit-syslog"
_MESSAGE = re.compile(
    r"\[INFO\] \[[^\]\[]*\]\[(?P<fields>[^\]]*)\]:action:(?P<operation>[^,]*), resource:(?P<resource>.*?)"
    r"(?:, operation_description:(?P<description>.*))?$"
)
_FIELD = re.compile(r'(\w+)="([^"]*)"')
_GO_TIME = re.compile(r"^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d{1,9}))? ([+-])(\d\d)(\d\d)\b")
_MAX_LINE_BYTES = 64 * 1024


def parse_line(value: bytes) -> tuple[list[dict[str, Any]], str | None]:
    """One forwarded line as the fields of one event, or no rows and the reason."""
    try:
        if len(value) > _MAX_LINE_BYTES:
            return [], f"syslog line of {len(value)} bytes, over {_MAX_LINE_BYTES}"
        text = value.decode("utf-8").rstrip("\r\n")
        match = _MESSAGE.search(text)
        if match is None:
            return [], "not a Harbor audit line: no [INFO] [...][...]:action:..., resource:... message"
        fields = dict(_FIELD.findall(match["fields"]))
        op_time = go_time(fields.get("time", ""))
        if op_time is None:
            return [], f"Harbor audit line without a readable time field: {fields.get('time', '')[:60]!r}"
        entry = AuditLogEntry(
            id=0,
            username=fields.get("operator"),
            resource=match["resource"],
            resource_type=fields.get("resourceType"),
            operation=match["operation"].strip() or "unknown",
            operation_description=match["description"],
            op_time=op_time,
        )
        digest = hashlib.sha256(match.group(0).encode()).hexdigest()[:32]
        return audit_rows(entry, f"harbor-syslog:{digest}")
    except Exception as error:  # noqa: BLE001 - parse never raises: the line becomes a dead letter
        return [], f"invalid Harbor audit line: {type(error).__name__}: {error}"


def go_time(text: str) -> datetime | None:
    """Go's default ``time.Time`` text (``2006-01-02 15:04:05.999999999 -0700 MST``) as a UTC datetime."""
    match = _GO_TIME.match(text)
    if match is None:
        return None
    day, clock, fraction, sign, hours, minutes = match.groups()
    offset = timedelta(hours=int(hours), minutes=int(minutes)) * (-1 if sign == "-" else 1)
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    local = datetime.fromisoformat(f"{day}T{clock}").replace(microsecond=micro, tzinfo=timezone(offset))
    return local.astimezone(UTC)
