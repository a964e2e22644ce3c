"""Cross-links: an identity, a repository and a digest are clickable on every page.

Each link is a page URL with a query parameter (``identity?identity=alice``,
``repository?repository=team%2Fapp``, ``activity?reference=sha256%3A...&range=all``), relative so that it
works under any base path. In tables they are ``LinkColumn`` cells that show the plain value (a digest is
shortened to ``sha256:`` and 12 hex digits); a selected row also offers ``st.page_link`` buttons that stay in
the same session (a new tab means logging in again with local users).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal
from urllib.parse import quote

import pandas as pd
import streamlit as st

LinkKind = Literal["identity", "repository", "digest"]

PAGES: dict[str, str] = {
    "overview": "screens/overview.py",
    "activity": "screens/activity.py",
    "repository": "screens/repository.py",
    "identity": "screens/identity.py",
    "findings": "screens/findings.py",
    "reports": "screens/reports.py",
}

_DISPLAY: dict[LinkKind, str] = {
    "identity": r"identity=([^&]*)",
    "repository": r"repository=([^&]*)",
    "digest": r"reference=(sha256%3A[0-9a-f]{12}|[^&]*)",
}


_HIGHLIGHT = "background-color: rgba(220, 38, 38, 0.18)"


def target(kind: LinkKind, value: str) -> tuple[str, dict[str, str]]:
    """The page and query parameters a link to ``value`` opens."""
    if kind == "identity":
        return "identity", {"identity": value}
    if kind == "repository":
        return "repository", {"repository": value}
    return "activity", {"reference": value, "range": "all"}


def url(kind: LinkKind, value: str) -> str:
    page, params = target(kind, value)
    return page + "?" + "&".join(f"{name}={quote(text, safe='')}" for name, text in params.items())


def linked(frame: pd.DataFrame, links: Mapping[str, LinkKind]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A copy of ``frame`` whose ``links`` columns hold URLs, and the column config that shows them as links."""
    shown = frame.reset_index(drop=True)
    config: dict[str, Any] = {}
    for column, kind in links.items():
        if column not in shown.columns:
            continue
        shown[column] = [None if _missing(v) or v == "" else url(kind, str(v)) for v in shown[column]]
        config[column] = st.column_config.LinkColumn(column, display_text=_DISPLAY[kind])
    return shown, config


def time_columns(frame: pd.DataFrame) -> dict[str, Any]:
    """Every ``*_at`` column shown as a UTC date and time to the second."""
    return {
        name: st.column_config.DatetimeColumn(f"{name} (UTC)", format="YYYY-MM-DD HH:mm:ss")
        for name in frame.columns
        if str(name).endswith("_at")
    }


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA


def table(
    frame: pd.DataFrame,
    key: str,
    links: Mapping[str, LinkKind] | None = None,
    column_config: Mapping[str, Any] | None = None,
    height: int | Literal["auto"] = "auto",
    highlight: str | None = None,
    hide: Sequence[str] = (),
) -> None:
    """A dataframe with link columns; selecting a row offers same-session links to what it names. Rows whose
    boolean column ``highlight`` is true get a red background (overwritten tags)."""
    links = links or {}
    shown, config = linked(frame, links)
    styled: Any = shown
    if highlight and highlight in shown.columns and len(shown):
        marks = shown[highlight].fillna(False).astype(bool).tolist()
        styled = shown.style.apply(lambda row: [_HIGHLIGHT if marks[row.name] else "" for _ in row], axis=1)
    event = st.dataframe(
        styled,
        key=key,
        hide_index=True,
        column_config={**time_columns(shown), **config, **(column_config or {}), **dict.fromkeys(hide)},
        on_select="rerun" if links else "ignore",
        selection_mode="single-row",
        height=height,
        width="stretch",
    )
    rows = event.selection.rows if links and hasattr(event, "selection") else []
    if not rows:
        return
    record = frame.iloc[rows[0]]
    columns = st.columns(len(links))
    for slot, (column, kind) in zip(columns, links.items(), strict=True):
        value = record.get(column)
        if _missing(value) or value == "":
            continue
        page, params = target(kind, str(value))
        with slot:
            st.page_link(
                PAGES[page], label=f"{kind}: {str(value)[:40]}", icon=":material/arrow_forward:", query_params=params
            )
