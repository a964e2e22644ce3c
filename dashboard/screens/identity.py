"""Identity view: one identity's repositories, addresses, user agents, first and last seen, its credential
record (created, rotated, expires, owner) and its findings. ``?identity=alice`` opens one. An identity the identity
mapping names (``regaudit identities import``) is one person across registries: its rows under every name, and a
table of the registries, kinds and raw identities they came from."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from regaudit.dashboard import data, links, widgets
from regaudit.dashboard.queries import findings as findings_q
from regaudit.dashboard.queries import identity as q
from regaudit.dashboard.runtime import Runtime


def render() -> None:
    runtime, _ = widgets.context()
    st.title("Identities")
    options = data.run(runtime, q.identities)["identity"].tolist()
    with st.columns([2, 3])[0]:
        identity = widgets.picker(
            "Identity", "identity_name", "identity", options, f"Choose one of {len(options):,} identities"
        )
    if not identity:
        st.info("Choose an identity, or follow an identity link from any page.")
        return
    _summary(runtime, identity)
    _credential(runtime, identity)
    tabs = st.tabs(TABS, key="identity_tab", bind="query-params")  # only the open tab's query runs
    for tab, draw in zip(tabs, (_repositories, _addresses, _agents, _findings), strict=True):
        if tab.open:
            with tab:
                draw(runtime, identity)
    raw_names = _names(runtime, identity) or [identity]
    for name in raw_names[:_MAX_LINKS]:  # the activity explorer filters by the raw identity rows carry
        st.page_link(
            links.PAGES["activity"],
            label=f"All activity of {name}",
            icon=":material/manage_search:",
            query_params={"identity": name, "range": "all"},
        )


_MAX_LINKS = 10


TABS = ["Repositories", "Client addresses", "User agents", "Findings"]


def _repositories(runtime: Runtime, identity: str) -> None:
    frame = data.run(runtime, q.identity_repositories, identity)
    links.table(frame, "identity_repositories", {"repository": "repository"})


def _names(runtime: Runtime, identity: str) -> list[str]:
    """Which registry recorded the identity under which raw name (one row when nothing maps it); returns the
    raw names."""
    st.subheader("Registries and names")
    names = data.run(runtime, q.identity_names, identity)
    if len(names) > 1:
        names_count, registries_count = names["raw_identity"].nunique(), names["registry"].nunique()
        st.caption(f"{identity} is {names_count:,} names on {registries_count:,} registries.")
    links.table(names, "identity_names")
    return [str(name) for name in dict.fromkeys(names["raw_identity"])]


def _addresses(runtime: Runtime, identity: str) -> None:
    links.table(data.run(runtime, q.identity_addresses, identity), "identity_addresses")


def _agents(runtime: Runtime, identity: str) -> None:
    links.table(data.run(runtime, q.identity_user_agents, identity), "identity_agents")


def _findings(runtime: Runtime, identity: str) -> None:
    about = data.run(runtime, findings_q.findings_about, identity)
    st.caption(f"{len(about):,} findings name {identity}.")
    links.table(about, "identity_findings")


def _summary(runtime: Runtime, identity: str) -> None:
    row = data.run(runtime, q.identity_summary, identity).iloc[0]
    if pd.isna(row["first_at"]):
        st.info(f"No activity recorded for {identity}.")
        return
    st.caption(
        f"First seen **{row['first_at']:%Y-%m-%d %H:%M:%S}**, last seen **{row['last_at']:%Y-%m-%d %H:%M:%S}** UTC."
    )
    figures = [
        ("Pulls", f"{int(row['pulls_count']):,}"),
        ("Pushes", f"{int(row['pushes_count']):,}"),
        ("Deletes", f"{int(row['deletes_count']):,}"),
        ("Refused", f"{int(row['refused_count']):,}"),
        ("Repositories", f"{int(row['repositories_count']):,}"),
        ("Addresses", f"{int(row['addresses_count']):,}"),
        ("Bytes pulled", widgets.metric_bytes(float(row["pulled_bytes"]))),
    ]
    for column, (label, value) in zip(st.columns(len(figures)), figures, strict=True):
        column.metric(label, value)


def _credential(runtime: Runtime, identity: str) -> None:
    st.subheader("Credential record")
    record = data.run(runtime, q.credential_record, identity)
    if record.empty:
        st.caption("Not in the credential inventory (`regaudit credentials import` adds it).")
        return
    current = record.iloc[0]
    fields = [("Kind", current["kind"]), ("Owner", current["owner"])]
    fields += [
        (label, current[column])
        for label, column in (("Created", "created_at"), ("Rotated", "rotated_at"), ("Expires", "expires_at"))
    ]
    for column, (label, value) in zip(st.columns(len(fields)), fields, strict=True):
        column.metric(label, _text(value))
    st.caption(
        f"From {current['import_source']}, imported {current['imported_at']:%Y-%m-%d %H:%M} UTC"
        f" ({len(record)} import(s) on record)."
    )


def _text(value: object) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "—"
    if isinstance(value, pd.Timestamp):
        return f"{value:%Y-%m-%d}"
    return str(value)


if __name__ == "__main__":
    render()
