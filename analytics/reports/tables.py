"""HTML tables for the report: escaped cells, numbers right-aligned, times in UTC, long lists cut with a note."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

import pyarrow as pa

Cell = Callable[[object], str]


def text(value: object) -> str:
    return "" if value is None else escape(str(value))


def number(value: object) -> str:
    return "" if value is None else f"{int(str(value)):,}"


def when(value: object) -> str:
    if not isinstance(value, datetime):
        return text(value)
    return value.strftime("%Y-%m-%d %H:%M:%S")


def digest(value: object) -> str:
    """sha256:0123456789ab… with the full digest on hover."""
    if value is None:
        return ""
    full = str(value)
    short = full[:19] + "…" if len(full) > 20 else full
    return f"<span class='mono' title='{escape(full, quote=True)}'>{escape(short)}</span>"


def repository(value: object) -> str:
    """Failed logins name no repository."""
    return mono(value) if value else "<i>(none: logins)</i>"


def subject(value: object) -> str:
    return short(value, 40)


def flag(value: object) -> str:
    return "yes" if value is True else ""


def mono(value: object) -> str:
    return "" if value is None else f"<span class='mono'>{escape(str(value))}</span>"


@dataclass(frozen=True)
class Column:
    """One column: the row key, its header, how a value becomes HTML, and its layout class."""

    key: str
    header: str
    cell: Cell = text
    numeric: bool = False
    layout: str = "text"  # text, nowrap (times, addresses, digests) or wide (names that must stay readable)

    @property
    def css(self) -> str:
        return "num" if self.numeric else self.layout


def num(key: str, header: str) -> Column:
    return Column(key, header, number, numeric=True)


def time_column(key: str, header: str) -> Column:
    return Column(key, header, when, layout="nowrap")


def name_column(key: str, header: str, cell: Cell = mono) -> Column:
    return Column(key, header, cell, layout="wide")


def short(value: object, most: int = 28) -> str:
    """Long values (tags that are digests, user agents) cut, in full on hover."""
    if value is None:
        return ""
    full = str(value)
    shown = full if len(full) <= most else full[: most - 1] + "…"
    return f"<span class='mono' title='{escape(full, quote=True)}'>{escape(shown)}</span>"


def render(table: pa.Table, columns: Sequence[Column], max_rows: int, file_hint: str, empty: str) -> str:
    """The table's first max_rows rows, with a note pointing to the file that holds them all."""
    if table.num_rows == 0:
        return f"<p class='empty'>{escape(empty)}</p>"
    head = "".join(f"<th class='{'num' if c.numeric else ''}'>{escape(c.header)}</th>" for c in columns)
    body = []
    for row in table.slice(0, max_rows).to_pylist():
        cells = "".join(f"<td class='{c.css}'>{c.cell(row.get(c.key))}</td>" for c in columns)
        body.append(f"<tr>{cells}</tr>")
    note = ""
    if table.num_rows > max_rows:
        note = (f"<p class='note'>First {max_rows:,} of {table.num_rows:,} rows; "
                f"{escape(file_hint)} holds them all.</p>")  # fmt: skip
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{note}"


def definition_list(items: Sequence[tuple[str, str]]) -> str:
    """Pairs of already-escaped term and description."""
    rows = "".join(f"<tr><th>{term}</th><td>{description}</td></tr>" for term, description in items)
    return f"<table class='facts'><tbody>{rows}</tbody></table>"
