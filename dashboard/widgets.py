"""Inputs the pages share: the page context, the time-range picker, and inputs kept in step with the URL.

Filters live in the URL's query parameters, so a view can be shared and a link can open it: an input seeds
itself from its parameter when the parameter changed (a link was followed), and writes its value back when
the person changes it.

Time ranges end at the newest activity in the store, not at the wall clock, so a store fed in bursts (or the
demo's simulated month) shows its latest data; the caption under the picker says where the range ends.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from regaudit.dashboard import data, login
from regaudit.dashboard.auth import Principal
from regaudit.dashboard.queries.common import TimeRange, data_span
from regaudit.dashboard.runtime import Runtime

RUNTIME_KEY = "regaudit_runtime"
PRESETS: dict[str, timedelta | None] = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
    "all": None,
    "custom": None,
}
PRESET_LABELS = {
    "24h": "Last 24 hours",
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "90d": "Last 90 days",
    "all": "All time",
    "custom": "Custom dates",
}


def remember(runtime: Runtime) -> None:
    """Called by the entry point on every run: the runtime every page reads with ``context``."""
    st.session_state[RUNTIME_KEY] = runtime


def context() -> tuple[Runtime, Principal]:
    """The runtime and the logged-in principal, checked again here: a page reached any other way than through
    the entry point (or after logging out) shows nothing."""
    runtime = st.session_state.get(RUNTIME_KEY)
    principal = login.current(runtime) if isinstance(runtime, Runtime) else None
    if not isinstance(runtime, Runtime) or principal is None:
        st.error("Log in first.")
        st.stop()
    return runtime, principal


def synced(key: str, param: str, default: Any, parse: Callable[[str], Any] | None = None) -> None:
    """Seed the input ``key`` from query parameter ``param`` when the URL changed, else keep its value."""
    marker = f"_param_{key}"
    value = st.query_params.get(param)
    if value is not None and st.session_state.get(marker) != value:
        try:
            st.session_state[key] = parse(value) if parse else value
        except ValueError:
            st.session_state.setdefault(key, default)
        st.session_state[marker] = value
    else:
        st.session_state.setdefault(key, default)


def publish(key: str, param: str, text: str | None) -> None:
    """Write an input's value back to the URL (and remember it, so it does not seed the input again)."""
    if text:
        st.query_params[param] = text
    elif param in st.query_params:
        del st.query_params[param]
    st.session_state[f"_param_{key}"] = text or None


def text_filter(label: str, key: str, param: str, help_text: str | None = None) -> str:
    synced(key, param, "")
    value = str(st.text_input(label, key=key, help=help_text)).strip()
    publish(key, param, value)
    return value


def multi_filter(label: str, key: str, param: str, options: Sequence[str]) -> list[str]:
    def parse(text: str) -> list[str]:
        return [part for part in text.split(",") if part in options]

    synced(key, param, [], parse)
    chosen = [str(v) for v in st.multiselect(label, options, key=key)]
    publish(key, param, ",".join(chosen))
    return chosen


def picker(
    label: str,
    key: str,
    param: str,
    options: Sequence[str],
    placeholder: str,
    default: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> str | None:
    """A selectbox over ``options`` kept in the URL; a value from the URL is offered even when not listed."""
    wanted = st.query_params.get(param)
    choices = list(options)
    if wanted and wanted not in choices:
        choices.insert(0, wanted)
    synced(key, param, default)
    if st.session_state.get(key) not in choices:
        st.session_state[key] = default if default in choices else None
    if labels is None:
        choice = st.selectbox(label, choices, key=key, placeholder=placeholder, accept_new_options=True)
    else:
        choice = st.selectbox(
            label, choices, key=key, placeholder=placeholder, format_func=lambda value: labels.get(value, value)
        )
    value = str(choice) if choice else None
    publish(key, param, value)
    return value


def span(runtime: Runtime) -> tuple[datetime, datetime]:
    """First and last activity in the store (now and now when it is empty)."""
    row = data.run(runtime, data_span).iloc[0]
    if pd.isna(row["last_at"]):
        now = datetime.now(UTC)
        return now, now
    return pd.Timestamp(row["first_at"]).to_pydatetime(), pd.Timestamp(row["last_at"]).to_pydatetime()


def time_range(runtime: Runtime, key: str, default: str = "7d") -> TimeRange:
    """The range picker: presets ending at the newest activity, or custom dates (UTC)."""
    first, last = span(runtime)
    end = last.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    synced(f"{key}_preset", "range", default, lambda text: text if text in PRESETS else default)
    preset = str(st.selectbox("Time range", list(PRESETS), format_func=PRESET_LABELS.__getitem__, key=f"{key}_preset"))
    publish(f"{key}_preset", "range", preset)
    if preset == "custom":
        return _custom_range(key, first, end)
    length = PRESETS[preset]
    start = end - length if length else datetime.combine(first.date(), time(), UTC)
    st.caption(f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC (ends at the newest activity)")
    return TimeRange(min(start, end - timedelta(hours=1)), end)


def _custom_range(key: str, first: datetime, end: datetime) -> TimeRange:
    def parse(text: str) -> tuple[date, ...]:
        return tuple(date.fromisoformat(part) for part in text.split(".."))

    synced(f"{key}_dates", "dates", ((end - timedelta(days=7)).date(), end.date()), parse)
    chosen: Any = st.date_input("From and to (UTC, inclusive)", key=f"{key}_dates", min_value=first.date())
    days = tuple(chosen) if isinstance(chosen, tuple | list) else (chosen,)
    start_day, end_day = (days[0], days[-1]) if days else (end.date(), end.date())
    publish(f"{key}_dates", "dates", f"{start_day.isoformat()}..{end_day.isoformat()}")
    return TimeRange(
        datetime.combine(start_day, time(), UTC), datetime.combine(end_day + timedelta(days=1), time(), UTC)
    )


def metric_bytes(value: float) -> str:
    """Bytes in SI units with three significant digits: 731 B, 1.23 kB, 318 GB."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(value) < 999.5:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.3g} {unit}"
        value /= 1000
    return f"{value:.3g} PB"


def duration(seconds: float | None) -> str:
    """12.3 s, 4.5 min, 3.2 h, 604 d."""
    if seconds is None or pd.isna(seconds):
        return "—"
    for limit, divisor, unit in ((120, 1, "s"), (7200, 60, "min"), (172_800, 3600, "h")):
        if abs(seconds) < limit:
            return f"{seconds / divisor:.1f} {unit}"
    return f"{seconds / 86400:,.0f} d"
