"""Repository view: tags with their digest history (overwrites highlighted), who pulled each digest, pushes and
deletes over time, and the findings that name the repository. ``?repository=team/app`` opens one."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from regaudit.dashboard import charts, data, links, widgets
from regaudit.dashboard.queries import findings as findings_q
from regaudit.dashboard.queries import repository as q
from regaudit.dashboard.runtime import Runtime


def render() -> None:
    runtime, _ = widgets.context()
    st.title("Repositories")
    options = data.run(runtime, q.repositories)["repository"].tolist()
    with st.columns([2, 3])[0]:
        repository = widgets.picker(
            "Repository", "repository_name", "repository", options, f"Choose one of {len(options):,} repositories"
        )
    if not repository:
        st.info("Choose a repository, or follow a repository link from any page.")
        return
    _summary(runtime, repository)
    signatures = st.toggle("Show signature and referrer tags (sha256-….sig, .att, .sbom)", key="repository_signatures")
    tabs = st.tabs(TABS, key="repository_tab", bind="query-params")  # only the open tab's queries run
    for tab, draw in zip(tabs, (_tags, _history, _pullers, _over_time, _findings), strict=True):
        if tab.open:
            with tab:
                draw(runtime, repository, signatures)


TABS = ["Tags", "Tag history", "Who pulled each digest", "Pushes and deletes over time", "Findings"]


def _tags(runtime: Runtime, repository: str, signatures: bool) -> None:
    tags = data.run(runtime, q.tags, repository, signatures)
    tags["overwritten"] = tags["overwrites_count"] > 0
    st.caption("Current digest of each tag (empty once deleted); overwritten tags are highlighted.")
    links.table(
        tags,
        "repository_tags",
        {"digest": "digest", "last_moved_by": "identity"},
        highlight="overwritten",
        hide=["overwritten"],
    )


def _pullers(runtime: Runtime, repository: str, signatures: bool) -> None:
    pullers = data.run(runtime, q.digest_pullers, repository)
    st.caption("One row per digest and identity: real pulls (checks and repeats not counted).")
    links.table(pullers, "repository_pullers", {"digest": "digest", "identity": "identity"})


def _over_time(runtime: Runtime, repository: str, signatures: bool) -> None:
    with st.columns([1, 2])[0]:
        time = widgets.time_range(runtime, "repository", default="30d")
    series = data.run(runtime, q.repository_series, repository, time, time.bucket())
    if series.empty:
        st.info("No activity in this range.")
        return
    changes = {"pushes_count": "pushes", "deletes_count": "deletes"}
    st.altair_chart(charts.counts_chart(series, changes, time.bucket()), width="stretch")
    pulls = charts.counts_chart(series, {"pulls_count": "pulls"}, time.bucket(), height=180)
    st.altair_chart(pulls, width="stretch")


def _findings(runtime: Runtime, repository: str, signatures: bool) -> None:
    links.table(data.run(runtime, findings_q.findings_about, repository), "repository_findings")
    st.page_link(links.PAGES["findings"], label="Open the findings page", icon=":material/arrow_forward:")


def _summary(runtime: Runtime, repository: str) -> None:
    row = data.run(runtime, q.repository_summary, repository).iloc[0]
    figures = [
        ("Pulls", row["pulls_count"]),
        ("Pushes", row["pushes_count"]),
        ("Deletes", row["deletes_count"]),
        ("Identities", row["identities_count"]),
        ("Tags", row["tags_count"]),
        ("Tag overwrites", row["overwrites_count"]),
    ]
    for column, (label, value) in zip(st.columns(len(figures)), figures, strict=True):
        column.metric(label, f"{int(value):,}")
    if not pd.isna(row["first_at"]):
        st.caption(f"First seen {row['first_at']:%Y-%m-%d %H:%M}, last seen {row['last_at']:%Y-%m-%d %H:%M} UTC.")


def _history(runtime: Runtime, repository: str, signatures: bool) -> None:
    tag_names = data.run(runtime, q.tags, repository, signatures)["tag"].drop_duplicates().tolist()
    with st.columns([2, 3])[0]:
        tag = widgets.picker("Tag", "repository_tag", "tag", tag_names, "All tags")
    history = data.run(runtime, q.tag_history, repository, tag, signatures)
    overwrites = int(history["is_overwrite"].sum()) if not history.empty else 0
    shown = "the newest 500" if len(history) == 500 else f"{len(history):,}"
    st.caption(f"{shown} digest intervals, {overwrites:,} overwrites among them (highlighted), newest first.")
    links.table(
        history,
        "repository_history",
        {"digest": "digest", "previous_digest": "digest", "moved_by": "identity"},
        highlight="is_overwrite",
    )


if __name__ == "__main__":
    render()
