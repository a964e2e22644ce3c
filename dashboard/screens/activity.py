"""Activity explorer: who pushed or pulled what, filtered by time range, repository glob, identity, action,
client address, tag or digest; paginated; the CSV download holds exactly the rows and columns shown, written as the
report's CSV files are (text a spreadsheet would run as a formula starts with ``'``)."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import streamlit as st

from regaudit.analytics.reports.exports import csv_bytes
from regaudit.dashboard import data, links, widgets
from regaudit.dashboard.queries import activity as q

PAGE_SIZES = (50, 100, 250, 500)
#: The explorer opens on the last day of activity: it lists rows, and a day of a busy registry is already more
#: rows than anyone pages through; wider ranges are a choice away (and an identity or repository filter keeps them
#: quick: those are counted from the daily rollups).
DEFAULT_RANGE = "24h"


def filters(runtime_key: str = "activity") -> q.ActivityFilter:
    """The explorer's filter inputs, each kept in the URL (also used by the reports page with its own key)."""
    runtime, _ = widgets.context()
    first, second, third = st.columns(3)
    with first:
        time = widgets.time_range(runtime, runtime_key, default=DEFAULT_RANGE)
        actions = widgets.multi_filter("Action", f"{runtime_key}_actions", "action", q.ACTIONS)
    with second:
        repository = widgets.text_filter(
            "Repository (glob)",
            f"{runtime_key}_repository",
            "repository",
            "A name or a glob: team/*, */app, base/python. Case-sensitive.",
        )
        identity = widgets.text_filter(
            "Identity", f"{runtime_key}_identity", "identity", "Exact name; (anonymous) for requests without one."
        )
    with third:
        address = widgets.text_filter(
            "Client address", f"{runtime_key}_address", "addr", "Exact address, or a prefix ending in . or : (10.20.)."
        )
        reference = widgets.text_filter(
            "Tag or digest",
            f"{runtime_key}_reference",
            "reference",
            "A tag (exact), or a digest or its prefix (sha256:6d69...).",
        )
    widgets.synced(f"{runtime_key}_checks", "checks", False, lambda text: text == "1")
    checks = bool(st.checkbox("Include HEAD checks (existence checks, not downloads)", key=f"{runtime_key}_checks"))
    widgets.publish(f"{runtime_key}_checks", "checks", "1" if checks else None)
    return q.ActivityFilter(time, repository, identity, tuple(actions), address, reference, checks)


def render() -> None:
    runtime, _ = widgets.context()
    st.title("Activity explorer")
    st.caption(
        "Who pushed or pulled what, when, from where. Times are UTC. Opens on the last 24 hours of activity: widen the"
        " time range to search further back; an identity or repository filter keeps a long range quick."
    )
    chosen = filters()
    counts = data.run(runtime, q.activity_count, chosen).iloc[0]
    total = int(counts["rows_count"])
    size_column, page_column, summary_column = st.columns([1, 1, 4])
    with size_column:
        size = int(st.selectbox("Rows per page", PAGE_SIZES, index=1, key="activity_page_size"))
    pages = max(1, -(-total // size))
    with page_column:
        if int(st.session_state.get("activity_page", 1)) > pages:
            st.session_state["activity_page"] = pages
        page = int(st.number_input("Page", min_value=1, max_value=pages, value=1, step=1, key="activity_page"))
    with summary_column:
        st.metric(
            "Matching actions",
            f"{total:,}",
            help=f"{int(counts['identities_count']):,} identities, {int(counts['repositories_count']):,} repositories",
        )
    rows = data.run(runtime, q.activity_page, chosen, size, (page - 1) * size)
    st.caption(
        f"Page {page} of {pages}: rows {(page - 1) * size + 1 if total else 0} to "
        f"{(page - 1) * size + len(rows)}, newest first."
    )
    links.table(
        rows,
        "activity_rows",
        {"identity": "identity", "repository": "repository", "digest": "digest"},
        column_config=COLUMN_CONFIG,
    )
    st.download_button(
        "Download these rows as CSV",
        download_csv(rows),
        file_name=f"activity-page-{page}.csv",
        mime="text/csv",
        icon=":material/download:",
        key="activity_csv",
        on_click="ignore",
    )


def download_csv(rows: pd.DataFrame) -> bytes:
    """The rows shown, as CSV a spreadsheet opens without running a client's user agent as a formula."""
    return csv_bytes(pa.Table.from_pandas(rows, preserve_index=False))


COLUMN_CONFIG = {
    "blob_bytes": st.column_config.NumberColumn("bytes", format="%d"),
    "proxy_status": st.column_config.NumberColumn("status", format="%d"),
    "blob_only": st.column_config.CheckboxColumn("blobs only", help="Blobs fetched by digest, no manifest pull"),
}


if __name__ == "__main__":
    render()
