"""Findings: filter by detection, severity and status; one finding's evidence rows; acknowledge or suppress it
with a reason (analysts only), stored through ``regaudit.analytics.findings.set_status`` so that the next
``regaudit analyze`` keeps it. ``?finding=<id>`` opens one finding."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from regaudit.analytics.detection import Severity
from regaudit.analytics.findings import STATUSES, Status
from regaudit.analytics.registry import default_registry
from regaudit.dashboard import data, links, widgets
from regaudit.dashboard.auth import Principal
from regaudit.dashboard.links import LinkKind
from regaudit.dashboard.queries import findings as q
from regaudit.dashboard.runtime import Runtime

SEVERITIES = tuple(severity.value for severity in Severity.most_severe_first())
FLASH_KEY = "findings_flash"
EVIDENCE: dict[str, tuple[str, Callable[..., pd.DataFrame], dict[str, LinkKind]]] = {
    "image_activity": (
        "Image activity",
        q.evidence_activity,
        {"identity": "identity", "repository": "repository", "digest": "digest"},
    ),
    "access_log": ("Proxy access log", q.evidence_access, {"remote_user": "identity"}),
    "tag_history": (
        "Tag history",
        q.evidence_tags,
        {"repository": "repository", "digest": "digest", "moved_by": "identity"},
    ),
    "credentials": ("Credential inventory", q.evidence_credentials, {"name": "identity"}),
}
#: the evidence tables stored in time order, whose rows are looked for near the finding's window first
WINDOWED = frozenset({"image_activity", "access_log"})


@st.cache_resource
def detection_titles() -> dict[str, tuple[str, str]]:
    """Detection id -> (title, description), from the detections' own metadata."""
    return {d.id: (d.title, d.description) for d in default_registry()}


def render() -> None:
    runtime, principal = widgets.context()
    st.title("Findings")
    if flash := st.session_state.pop(FLASH_KEY, None):
        st.success(flash)
    choices = data.run(runtime, q.finding_choices)
    titles = detection_titles()
    first, second, third = st.columns([3, 1, 1])
    with first:
        detections = widgets.multi_filter(
            "Detection", "findings_detections", "detection", sorted(choices["detection_id"].unique())
        )
    with second:
        severities = widgets.multi_filter("Severity", "findings_severities", "severity", SEVERITIES)
    with third:
        widgets.synced("findings_statuses", "status", ["open"], lambda text: text.split(","))
        statuses = widgets.multi_filter("Status", "findings_statuses", "status", STATUSES)
    listed = data.run(runtime, q.findings_list, tuple(detections), tuple(severities), tuple(statuses))
    st.caption(f"{len(listed):,} findings, most severe and most recent first.")
    links.table(listed.drop(columns=["finding_id"]), "findings_list", height=320)
    if listed.empty:
        return
    labels = {row.finding_id: f"{row.severity} · {row.detection_id} · {row.subject}" for row in listed.itertuples()}
    wanted = st.query_params.get("finding")
    options = list(labels) if wanted in labels or not wanted else [wanted, *labels]
    finding_id = widgets.picker(
        "Finding",
        "findings_choice",
        "finding",
        options,
        "Choose a finding to review",
        default=options[0],
        labels=labels,
    )
    if not finding_id:
        return
    detail = data.run(runtime, q.finding_detail, finding_id)
    if detail.empty:
        st.warning(f"No finding {finding_id}.")
        return
    finding = detail.iloc[0]
    title, description = titles.get(str(finding["detection_id"]), (str(finding["detection_id"]), ""))
    st.subheader(f"{title}: {finding['subject']}")
    st.markdown(f"**{finding['severity']}** · `{finding['detection_id']}` · {finding['summary']}")
    st.caption(description)
    _about_links(finding)
    _status(runtime, principal, finding)
    _evidence(runtime, finding)


def _status(runtime: Runtime, principal: Principal, finding: pd.Series) -> None:
    status = str(finding["status"])
    line = f"Status: **{status}**"
    if finding["status_by"] and not pd.isna(finding["status_by"]):
        line += f" by {finding['status_by']} at {finding['status_at']:%Y-%m-%d %H:%M} UTC"
        line += f", reason: {finding['status_reason']}" if finding["status_reason"] else ""
    st.markdown(line)
    history = data.run(runtime, q.finding_decisions, str(finding["finding_id"]))
    if not history.empty:
        with st.expander(f"Decision history ({len(history)}), sealed in the hash chain"):
            st.dataframe(history, hide_index=True, key="finding_decisions")
    if not principal.is_analyst:
        st.info("Only analysts can acknowledge or suppress findings.")
        return
    with st.form("finding_status"):
        choice = st.radio("New status", STATUSES, index=STATUSES.index(status), horizontal=True)
        reason = st.text_input("Reason (required to suppress; kept with the finding)")
        submitted = st.form_submit_button("Save status", type="primary")
    if not submitted:
        return
    new: Status = choice
    try:
        data.change_status(runtime, principal, str(finding["finding_id"]), new, reason)
    except (ValueError, KeyError, PermissionError) as error:
        st.error(str(error).strip("'\""))
        return
    st.session_state[FLASH_KEY] = f"Finding marked {new} by {principal.name}."
    st.rerun()


def _about_links(finding: pd.Series) -> None:
    """Links to the pages of the identity and the repository the finding is about (its columns)."""
    kinds: tuple[LinkKind, ...] = ("identity", "repository")
    names = [(kind, str(finding[kind])) for kind in kinds if not pd.isna(finding[kind])]
    for slot, (kind, name) in zip(st.columns(max(len(names), 1) + 2), names, strict=False):
        page, params = links.target(kind, name)
        with slot:
            st.page_link(links.PAGES[page], label=name, icon=ICONS[kind], query_params=params)


ICONS = {"identity": ":material/badge:", "repository": ":material/inventory_2:"}


def _evidence(runtime: Runtime, finding: pd.Series) -> None:
    by_table = q.split_evidence(str(finding["evidence"]))
    st.markdown("**Evidence**")
    if not by_table:
        st.caption("This finding cites no rows.")
    for table, keys in by_table.items():
        if table not in EVIDENCE:
            st.caption(f"{table}: {', '.join(keys[:20])}")
            continue
        label, query, table_links = EVIDENCE[table]
        if table in WINDOWED:  # looked for around the finding's window first (queries.findings._cited)
            rows = data.run(runtime, query, tuple(keys), (finding["window_start_at"], finding["window_end_at"]))
        else:
            rows = data.run(runtime, query, tuple(keys))
        st.caption(f"{label}: {len(rows):,} row(s)")
        links.table(rows, f"evidence_{table}", table_links)
    st.page_link(links.PAGES["activity"], label="Open the activity explorer", icon=":material/manage_search:")


if __name__ == "__main__":
    render()
