"""Charts over the time series the queries return (one row per bucket): counts as bars, bytes as a line,
times in UTC in the tooltips. Pure functions from a DataFrame to an Altair chart, so pages stay short."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Literal

import altair as alt
import pandas as pd

from regaudit.analytics.detection import Severity

SEVERITY_COLOURS = {
    Severity.CRITICAL: "#7f1d1d", Severity.HIGH: "#dc2626", Severity.MEDIUM: "#f59e0b", Severity.LOW: "#3b82f6",
}  # fmt: skip


def _long(series: pd.DataFrame, columns: Mapping[str, str]) -> pd.DataFrame:
    present = {column: label for column, label in columns.items() if column in series.columns}
    series = series.assign(bucket_at=_wall_clock_utc(series["bucket_at"]))
    melted = series.melt(id_vars=["bucket_at"], value_vars=list(present), var_name="metric", value_name="value")
    melted["metric"] = melted["metric"].map(present)
    return melted


def _wall_clock_utc(moments: pd.Series) -> pd.Series:
    """UTC times without their zone: Vega-Lite shows zone-less times as they are, so the axes read UTC."""
    if isinstance(moments.dtype, pd.DatetimeTZDtype):
        return moments.dt.tz_convert("UTC").dt.tz_localize(None)
    return moments


def counts_chart(series: pd.DataFrame, columns: Mapping[str, str], bucket: timedelta, height: int = 260) -> alt.Chart:
    """Grouped bars per bucket, one colour per count (``columns`` maps column to legend label); each bar is as
    wide as its hour or day."""
    melted = _long(series, columns)
    hourly = bucket <= timedelta(hours=1)
    unit: Literal["yearmonthdatehours", "yearmonthdate"] = "yearmonthdatehours" if hourly else "yearmonthdate"
    label = "%b %d %H:00" if hourly else "%a %b %d"
    chart: alt.Chart = (
        alt.Chart(melted)
        .mark_bar()
        .encode(
            x=alt.X("bucket_at:T", timeUnit=unit, title=None, axis=alt.Axis(format=label, labelAngle=0)),
            xOffset=alt.XOffset("metric:N", sort=list(columns.values())),
            y=alt.Y("value:Q", title=None),
            color=alt.Color("metric:N", title=None, sort=list(columns.values())),
            tooltip=[
                alt.Tooltip("bucket_at:T", title="from (UTC)", format="%Y-%m-%d %H:%M"),
                alt.Tooltip("metric:N", title="what"),
                alt.Tooltip("value:Q", title="count", format=","),
            ],
        )
        .properties(height=height)
    )
    return chart


def line_chart(series: pd.DataFrame, columns: Mapping[str, str], title: str, height: int = 200) -> alt.Chart:
    """Lines per bucket (identities, bytes), one colour per column."""
    melted = _long(series, columns)
    chart: alt.Chart = (
        alt.Chart(melted)
        .mark_line(point=True)
        .encode(
            x=alt.X("bucket_at:T", title=None),
            y=alt.Y("value:Q", title=title, axis=alt.Axis(format="~s")),
            color=alt.Color("metric:N", title=None),
            tooltip=[
                alt.Tooltip("bucket_at:T", title="from (UTC)", format="%Y-%m-%d %H:%M"),
                alt.Tooltip("metric:N", title="what"),
                alt.Tooltip("value:Q", title=title, format=",.0f"),
            ],
        )
        .properties(height=height)
    )
    return chart


def severity_chart(by_severity: pd.DataFrame, height: int = 200) -> alt.Chart:
    """Open findings per severity as horizontal bars in the severity colours."""
    ranked = [severity.value for severity in Severity.most_severe_first()]
    order = [name for name in ranked if name in set(by_severity["severity"])]
    chart: alt.Chart = (
        alt.Chart(by_severity)
        .mark_bar()
        .encode(
            y=alt.Y("severity:N", sort=order, title=None),
            x=alt.X("findings_count:Q", title="open findings", axis=alt.Axis(format="d", tickMinStep=1)),
            color=alt.Color(
                "severity:N",
                scale=alt.Scale(domain=ranked, range=[SEVERITY_COLOURS[Severity(name)] for name in ranked]),
                legend=None,
            ),
            tooltip=["severity:N", alt.Tooltip("findings_count:Q", title="open findings")],
        )
        .properties(height=height)
    )
    return chart
