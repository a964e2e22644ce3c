"""Reports: a compliance export of the activity for a period and a scope. Until the reports engine
(``regaudit report``: CSV, JSON Lines, Parquet, HTML with checksums) exists, this page exports the activity
rows as CSV, every matching row in time order, up to ``dashboard.max_export_rows``."""

from __future__ import annotations

import re

import streamlit as st

from regaudit.dashboard import data, links, widgets
from regaudit.dashboard.queries import activity as q
from regaudit.dashboard.runtime import Runtime
from regaudit.dashboard.views.activity import filters

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def activity_csv(runtime: Runtime, chosen: q.ActivityFilter) -> bytes:
    """The export itself, on its own read-only connection (not cached: it can be large)."""
    with data.connection(runtime.db, runtime.lock_timeout_seconds) as con:
        rows = q.activity_export(con, chosen, runtime.max_export_rows)
    text: str = rows.head(runtime.max_export_rows).to_csv(index=False)
    return text.encode()


def file_name(chosen: q.ActivityFilter) -> str:
    scope = "-".join(_UNSAFE.sub("_", part) for part in (chosen.repository, chosen.identity, *chosen.actions) if part)
    period = f"{chosen.time.start:%Y%m%dT%H%M}-{chosen.time.end:%Y%m%dT%H%M}"
    return f"regaudit-activity-{period}{'-' + scope if scope else ''}.csv"


def render() -> None:
    runtime, _ = widgets.context()
    st.title("Reports")
    st.caption(
        "Compliance export of every push, pull and delete for a period and a scope, in time order (UTC). "
        "Until `regaudit report` is available, the export is the activity as CSV."
    )
    chosen = filters("reports")
    counts = data.run(runtime, q.activity_count, chosen).iloc[0]
    total = int(counts["rows_count"])
    left, middle, right = st.columns(3)
    left.metric("Rows in the export", f"{total:,}")
    middle.metric("Identities", f"{int(counts['identities_count']):,}")
    right.metric("Repositories", f"{int(counts['repositories_count']):,}")
    too_large = total > runtime.max_export_rows
    if too_large:
        st.warning(
            f"{total:,} rows is more than one export holds ({runtime.max_export_rows:,});"
            " narrow the period or the scope."
        )
    st.download_button(
        "Export activity as CSV",
        lambda: activity_csv(runtime, chosen),
        file_name=file_name(chosen),
        mime="text/csv",
        type="primary",
        icon=":material/download:",
        disabled=too_large or total == 0,
        key="reports_export",
        on_click="ignore",
    )
    st.caption("The first rows of the export:")
    preview = data.run(runtime, q.activity_export, chosen, 20).head(20)
    links.table(preview, "reports_preview", {"identity": "identity", "repository": "repository", "digest": "digest"})


if __name__ == "__main__":
    render()
