"""Reports: a compliance report for a period and a scope, made by the reports engine that ``regaudit report``
uses (``regaudit.analytics.reports.build_report``): the activity as CSV, JSON Lines and Parquet, summaries,
findings, an HTML (and PDF) report, SHA-256 checksums and a manifest, signed when ``reports.signing_key_path``
is set. The report directory is offered as one zip; ``regaudit report verify`` checks it once unpacked."""

from __future__ import annotations

import io
import re
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st

from regaudit.analytics.reports import Period, Scope, build_report
from regaudit.dashboard import data, links, widgets
from regaudit.dashboard.queries import activity as q
from regaudit.dashboard.queries import reports as report_queries
from regaudit.dashboard.queries.common import TimeRange
from regaudit.dashboard.runtime import Runtime
from regaudit.errors import RegauditError

LAST_KEY = "reports_last"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Generated:
    """A report made in this session: its zip, and what the engine said about it."""

    name: str
    archive: bytes
    totals: dict[str, int]
    files: pd.DataFrame
    signed: bool
    chain_ok: bool | None


def report_name(period: Period, scope: Scope) -> str:
    parts = [*scope.repositories, *scope.identities, *scope.actions]
    label = _UNSAFE.sub("_", "-".join(parts))[:60]
    return f"regaudit-report-{period.start:%Y%m%dT%H%M}-{period.end:%Y%m%dT%H%M}" + (f"-{label}" if label else "")


def generate(runtime: Runtime, period: Period, scope: Scope, pdf: bool) -> Generated:
    """Run the engine into a temporary directory and zip what it wrote."""
    name = report_name(period, scope)
    settings = runtime.reports.model_copy(update={"pdf": pdf})
    with tempfile.TemporaryDirectory(prefix="regaudit-report-") as directory:
        out = Path(directory) / name
        result = build_report(
            runtime.db,
            period,
            scope,
            out,
            settings,
            lock_timeout=runtime.lock_timeout_seconds,
            sign=settings.signing_key_path is not None,
        )
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(out.rglob("*")):
                if path.is_file():
                    archive.write(path, f"{name}/{path.relative_to(out)}")
    files = pd.DataFrame(
        [{"file": f.name, "rows": f.rows_count, "bytes": f.bytes, "sha256": f.sha256} for f in result.files]
    )
    return Generated(name, buffer.getvalue(), dict(result.totals), files, result.signed, result.chain_ok)


def _globs(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def render() -> None:
    runtime, _ = widgets.context()
    st.title("Reports")
    st.caption(
        "A compliance report of every push, pull and delete for a period and a scope, from the same engine as "
        "`regaudit report`: data files, summaries, findings, HTML, checksums and a manifest. Times are UTC."
    )
    left, middle, right = st.columns(3)
    with left:
        time = widgets.time_range(runtime, "reports", default="30d")
    with middle:
        repositories = widgets.text_filter(
            "Repositories (globs, comma-separated)",
            "reports_repositories",
            "repositories",
            "Empty: all. team/*, prod/*",
        )
        identities = widgets.text_filter(
            "Identities (globs, comma-separated)",
            "reports_identities",
            "identities",
            "Empty: all. (anonymous) for requests without one.",
        )
    with right:
        actions = widgets.multi_filter("Actions", "reports_actions", "action", q.ACTIONS)
        pdf = st.checkbox("Include a PDF (printed with Chromium; slower)", value=runtime.reports.pdf, key="reports_pdf")
    scope = Scope(_globs(repositories), _globs(identities), tuple(actions))
    _preview_and_generate(runtime, time, scope, pdf)
    if isinstance(last := st.session_state.get(LAST_KEY), Generated):
        _show(last)


def _preview_and_generate(runtime: Runtime, time: TimeRange, scope: Scope, pdf: bool) -> None:
    counts = data.run(
        runtime, report_queries.scope_count, time, scope.repositories, scope.identities, scope.actions
    ).iloc[0]
    total = int(counts["rows_count"])
    figures = [
        ("Rows in the report", total),
        ("Identities", counts["identities_count"]),
        ("Repositories", counts["repositories_count"]),
    ]
    for column, (label, value) in zip(st.columns(3), figures, strict=True):
        column.metric(label, f"{int(value):,}")
    too_large = total > runtime.max_export_rows
    if too_large:
        st.warning(
            f"{total:,} rows is more than a report made here holds ({runtime.max_export_rows:,}); narrow"
            " the period or the scope, or run `regaudit report`."
        )
    signed = runtime.reports.signing_key_path is not None
    st.caption("Signed with reports.signing_key_path." if signed else "Unsigned: reports.signing_key_path is not set.")
    if not st.button("Generate report", type="primary", disabled=too_large, key="reports_generate"):
        return
    try:
        with st.spinner("Writing the report..."):
            st.session_state[LAST_KEY] = generate(runtime, Period(time.start, time.end), scope, pdf)
    except (RegauditError, OSError, ValueError) as error:
        st.error(f"The report could not be made: {error}")


def _show(report: Generated) -> None:
    st.subheader(report.name)
    chain = {True: "hash chain verified", False: "HASH CHAIN BROKEN", None: "hash chain not checked"}
    st.markdown(f"{'Signed' if report.signed else 'Unsigned'}, {chain[report.chain_ok]}.")
    totals = pd.DataFrame([report.totals])
    links.table(totals, "reports_totals")
    links.table(report.files, "reports_files")
    st.download_button(
        "Download the report (zip)",
        report.archive,
        file_name=f"{report.name}.zip",
        mime="application/zip",
        type="primary",
        icon=":material/download:",
        key="reports_download",
        on_click="ignore",
    )
    st.caption("Unpack it and run `regaudit report verify <directory>` to check checksums and signature.")


if __name__ == "__main__":
    render()
