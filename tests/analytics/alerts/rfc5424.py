"""A strict reading of RFC 5424's ABNF: header fields, STRUCTURED-DATA with its SD-PARAM escapes, MSG.

Written from the RFC, not from regaudit's formatter, so the syslog tests check the wire format on its own terms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

_HEADER = re.compile(
    r"^<(?P<pri>\d{1,3})>(?P<version>[1-9]\d{0,2}) (?P<timestamp>\S+) (?P<hostname>\S{1,255}) (?P<app>\S{1,48}) "
    r"(?P<procid>\S{1,128}) (?P<msgid>\S{1,32}) (?P<rest>.*)$",
    re.S,
)
_SD_NAME = re.compile(r"[!-~]{1,32}")


@dataclass(frozen=True)
class SyslogMessage:
    pri: int
    version: int
    timestamp: datetime
    hostname: str
    app_name: str
    procid: str
    msgid: str
    structured_data: dict[str, dict[str, str]]
    msg: str
    arrived: float = 0.0

    @property
    def facility(self) -> int:
        return self.pri // 8

    @property
    def severity(self) -> int:
        return self.pri % 8


def parse_rfc5424(text: str, arrived: float = 0.0) -> SyslogMessage:
    """Parse one message; raises ValueError on anything RFC 5424 does not allow."""
    match = _HEADER.match(text)
    if not match:
        raise ValueError(f"not an RFC 5424 header: {text[:80]!r}")
    pri = int(match["pri"])
    if pri > 191 or match["version"] != "1":
        raise ValueError(f"bad PRI or VERSION in {text[:20]!r}")
    for name in ("hostname", "app", "procid", "msgid"):
        if not all(33 <= ord(c) <= 126 for c in match[name]):
            raise ValueError(f"{name} is not PRINTUSASCII: {match[name]!r}")
    timestamp = datetime.fromisoformat(match["timestamp"].replace("Z", "+00:00"))
    if timestamp.tzinfo is None or not re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$",
                                                match["timestamp"]):  # fmt: skip
        raise ValueError(f"bad TIMESTAMP {match['timestamp']!r}")
    elements, rest = _structured_data(match["rest"])
    if rest and not rest.startswith(" "):
        raise ValueError(f"no SP between STRUCTURED-DATA and MSG: {rest[:20]!r}")
    return SyslogMessage(pri, 1, timestamp, match["hostname"], match["app"], match["procid"], match["msgid"],
                         elements, rest[1:], arrived)  # fmt: skip


def _structured_data(text: str) -> tuple[dict[str, dict[str, str]], str]:
    if text.startswith("-"):
        return {}, text[1:]
    elements: dict[str, dict[str, str]] = {}
    position = 0
    while position < len(text) and text[position] == "[":
        sd_id, position = _name(text, position + 1, " ]")
        params: dict[str, str] = {}
        while text[position] == " ":
            name, position = _name(text, position + 1, "=")
            if text[position : position + 2] != '="':
                raise ValueError(f"PARAM-VALUE must be quoted at {position}")
            value, position = _value(text, position + 2)
            params[name] = value
        if text[position] != "]":
            raise ValueError(f"SD-ELEMENT not closed at {position}")
        elements[sd_id] = params
        position += 1
    if not elements:
        raise ValueError("no STRUCTURED-DATA")
    return elements, text[position:]


def _name(text: str, start: int, stops: str) -> tuple[str, int]:
    end = start
    while end < len(text) and text[end] not in stops:
        end += 1
    name = text[start:end]
    if not _SD_NAME.fullmatch(name) or any(c in name for c in '= ]"'):
        raise ValueError(f"bad SD-NAME {name!r}")
    return name, end


def _value(text: str, start: int) -> tuple[str, int]:
    out = []
    position = start
    while text[position] != '"':
        if text[position] == "\\" and text[position + 1] in '"\\]':
            out.append(text[position + 1])
            position += 2
        elif text[position] == "]":
            raise ValueError(f"unescaped ] in PARAM-VALUE at {position}")
        else:
            out.append(text[position])
            position += 1
    return "".join(out), position + 1
