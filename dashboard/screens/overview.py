"""Overview: pushes, pulls, deletes, identities and bytes over time; each registry side by side; open findings by
severity; ingest health."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from regaudit.analytics.detection import Severity
from regaudit.dashboard import charts, data, links, widgets
from regaudit.dashboard.queries import overview as q
from regaudit.dashboard.queries.common import TimeRange
from regaudit.dashboard.runtime import Runtime

#: the window of the notification lag table: recent enough to show a queue building up now
LAG_HOURS = 6


def render() -> None:
    runtime, _ = widgets.context()
    st.title("Overview")
    with st.columns([1, 2])[0]:
        time = widgets.time_range(runtime, "overview", default="7d")
    over_time = data.run(runtime, q.activity_over_time, time, time.bucket())
    tops = data.run(runtime, q.top_lists, time)
    repositories = tops[tops["list"] == "repository"].rename(columns={"name": "repository"})
    identities = tops[tops["list"] == "identity"].rename(columns={"name": "identity"})
    _activity(time, over_time, int(repositories["listed_count"].max()) if len(repositories) else 0)
    _registries(runtime, time)
    left, right = st.columns(2)
    with left:
        st.subheader("Busiest repositories")
        shown = repositories[["repository", "pulls_count", "pushes_count"]]
        links.table(shown, "top_repositories", {"repository": "repository"})
    with right:
        st.subheader("Most active identities")
        shown = identities[["identity", "actions_count", "pulls_count", "pushes_count", "refused_count"]]
        links.table(shown, "top_identities", {"identity": "identity"})
    _findings(runtime)
    _ingest_health(runtime)


def _activity(time: TimeRange, over_time: pd.DataFrame, repositories_count: int) -> None:
    totals = over_time[over_time["bucket_at"].isna()].iloc[0]
    series = over_time[over_time["bucket_at"].notna()]
    figures = [
        ("Pulls", totals["pulls_count"]),
        ("Pushes", totals["pushes_count"]),
        ("Deletes", totals["deletes_count"]),
        ("Refused", totals["refused_count"]),
        ("Identities", totals["identities_count"]),
        ("Repositories", repositories_count),
    ]
    columns = st.columns(len(figures) + 1)
    for column, (label, value) in zip(columns, figures, strict=False):
        column.metric(label, f"{int(value):,}")
    columns[-1].metric(
        "Bytes pulled",
        widgets.metric_bytes(float(totals["pulled_bytes"])),
        help=f"{int(totals['pulled_bytes']):,} bytes; pushed {int(totals['pushed_bytes']):,}",
    )
    if series.empty:
        st.info("No activity in this range.")
        return
    width = {3600: "hour", 86400: "day"}.get(int(time.bucket().total_seconds()), "week")
    st.caption(f"Per {width}, UTC. Pulls are real downloads (HEAD checks and repeats not counted).")
    left, right = st.columns(2)
    with left:
        st.altair_chart(charts.counts_chart(series, {"pulls_count": "pulls"}, time.bucket()), width="stretch")
        st.altair_chart(charts.line_chart(series, {"identities_count": "identities"}, "identities"), width="stretch")
    with right:
        pushes = {"pushes_count": "pushes", "deletes_count": "deletes", "refused_count": "refused"}
        st.altair_chart(charts.counts_chart(series, pushes, time.bucket()), width="stretch")
        byte_lines = {"pulled_bytes": "pulled", "pushed_bytes": "pushed"}
        st.altair_chart(charts.line_chart(series, byte_lines, "bytes"), width="stretch")


def _registries(runtime: Runtime, time: TimeRange) -> None:
    """Each registry instance side by side (a Distribution registry beside a Harbor instance): shown once there is
    more than one, since a single registry's row repeats the totals above."""
    side = data.run(runtime, q.registries, time)
    if len(side) < 2:
        return
    st.subheader("Registries")
    st.caption("What each source does not record (Harbor: blob pulls, refusals) counts as nothing: docs/sources.md.")
    columns = ["registry", "registry_kind", "pulls_count", "pushes_count", "deletes_count", "refused_count",
               "identities_count", "repositories_count", "last_activity_at"]  # fmt: skip
    st.dataframe(side[columns], hide_index=True, width="stretch")


def _findings(runtime: Runtime) -> None:
    st.subheader("Open findings")
    by_severity = data.run(runtime, q.open_findings_by_severity)
    if by_severity.empty:
        st.success("No open findings.")
        return
    counts = dict(zip(by_severity["severity"], by_severity["findings_count"], strict=True))
    columns = st.columns(5)
    for column, severity in zip(columns, Severity.most_severe_first(), strict=False):
        column.metric(f"Open {severity.value}", f"{int(counts.get(severity.value, 0)):,}")
    with columns[-1]:
        st.page_link(
            links.PAGES["findings"],
            label="Review findings",
            icon=":material/arrow_forward:",
            query_params={"status": "open"},
        )
    st.altair_chart(charts.severity_chart(by_severity, height=140), width="stretch")


def _ingest_health(runtime: Runtime) -> None:
    st.subheader("Ingest health")
    sources = data.run(runtime, q.ingest_sources)
    if sources.empty:
        st.warning("Nothing has been ingested yet.")
    else:
        st.caption("Last batch per ingest source; its wait is the commit time minus the oldest receipt in it.")
        sources["last_batch_wait"] = [widgets.duration(s) for s in sources.pop("last_batch_wait_seconds")]
        links.table(sources, "ingest_sources")
    left, right = st.columns(2)
    with left:
        st.caption("Newest record per feed")
        links.table(data.run(runtime, q.feed_freshness), "feed_freshness")
        _notification_lag(runtime)
    with right:
        dead = data.run(runtime, q.dead_letter_summary)
        total = int(pd.to_numeric(dead["dead_letters_count"]).sum()) if not dead.empty else 0
        st.metric("Dead letters", f"{total:,}", help="Input that could not be parsed, kept raw with the reason.")
        isolated = int(data.run(runtime, q.isolated_records).iloc[0]["isolated_count"])
        st.metric(
            "Isolated by the store",
            f"{isolated:,}",
            help="Of those, records that passed validation but failed alone in the store write: the rest of their "
            "batch was stored. Each one is a fault to report.",
        )
        waiting = int(data.run(runtime, q.derive_pending).iloc[0]["ranges_count"])
        if waiting:
            st.metric(
                "Time ranges waiting to be derived",
                f"{waiting:,}",
                help="Batches whose events lie scattered over years derive their largest time ranges at once and "
                "queue the rest; later batches and an idle consumer derive those. Their events are stored and listed "
                "already; the rollups and pairings around them wait. A number that keeps growing means something keeps "
                "sending such events (docs/production.md, Events scattered over time).",
            )
        if not dead.empty:
            links.table(dead, "dead_letters")


def _notification_lag(runtime: Runtime) -> None:
    lag = data.run(runtime, q.notification_lag, LAG_HOURS)
    if lag.empty:
        return
    st.caption(
        f"Notification lag per registry, event time to receipt, over the last {LAG_HOURS} hours of receipts. A "
        "registry sends one event at a time from a queue in memory: a growing p99 is that queue backing up (its "
        "Pending count on the registry's debug endpoint, see the README), and a registry restart loses it."
    )
    for name in ("lag_p50", "lag_p99", "lag_max"):
        lag[name] = [widgets.duration(seconds) for seconds in lag.pop(f"{name}_seconds")]
    links.table(lag, "notification_lag")


if __name__ == "__main__":
    render()
