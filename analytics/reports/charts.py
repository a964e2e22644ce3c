"""Charts for the HTML and PDF report as inline SVG: no script, no network, and they print as drawn.

Colours are chosen to stay apart in greyscale print too (dark, mid, light, hatched), every bar carries its value
or the legend its total, and text is real text (selectable, searchable in the PDF).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

#: series name -> fill; the palette reads in colour and in greyscale (dark blue, orange, light teal, red)
PALETTE = {"pulls": "#1f4e79", "pushes": "#e08a1e", "deletes": "#c0392b", "failed_logins": "#7fb8b0"}
LABELS = {"pulls": "Pulls", "pushes": "Pushes", "deletes": "Deletes", "failed_logins": "Failed logins"}
_FONT = "font-family='DejaVu Sans, Liberation Sans, Arial, sans-serif'"


def _nice_max(value: int) -> int:
    """A round axis maximum at or above value."""
    if value <= 0:
        return 1
    step = 10 ** (len(str(value)) - 1)
    for factor in (1, 2, 2.5, 5, 10):
        if value <= factor * step:
            return int(factor * step)
    return value


def daily_stacked(days: Sequence[str], series: Mapping[str, Sequence[int]], title: str) -> str:
    """Stacked columns per day (pulls, pushes, deletes, failed logins), with a y axis and a legend."""
    width, height, left, bottom, top = 1000, 250, 52, 46, 34
    plot_w, plot_h = width - left - 16, height - bottom - top
    totals = [sum(values[i] for values in series.values()) for i in range(len(days))]
    peak = _nice_max(max(totals, default=0))
    slot = plot_w / max(len(days), 1)
    bar = max(min(slot * 0.7, 40), 1)
    out = [_svg_open(width, height, title), _text(left, 18, title, size=13, weight="bold")]
    for tick in range(5):
        value = peak * tick // 4
        y = top + plot_h - plot_h * tick / 4
        out.append(f"<line x1='{left}' y1='{y:.1f}' x2='{width - 16}' y2='{y:.1f}' stroke='#d0d0d0'/>")
        out.append(_text(left - 6, y + 4, f"{value:,}", anchor="end"))
    for i, day in enumerate(days):
        x, y = left + slot * i + (slot - bar) / 2, top + plot_h
        for name, values in series.items():
            h = plot_h * values[i] / peak
            if h > 0:
                y -= h
                out.append(f"<rect x='{x:.1f}' y='{y:.1f}' width='{bar:.1f}' height='{h:.1f}' fill='{PALETTE[name]}'>"
                           f"<title>{escape(day)} {LABELS[name]}: {values[i]:,}</title></rect>")  # fmt: skip
        if len(days) <= 16 or i % max(len(days) // 12, 1) == 0:
            out.append(_text(x + bar / 2, top + plot_h + 14, day[5:], anchor="middle", size=9))
    out.append(_legend(series, left, height - 10))
    out.append("</svg>")
    return "".join(out)


def horizontal_bars(labels: Sequence[str], values: Sequence[int], title: str, colour: str = "#1f4e79") -> str:
    """One bar per label, value written at its end."""
    row, left, width = 20, 200, 540
    height = 34 + row * max(len(labels), 1) + 8
    peak = max(max(values, default=0), 1)
    out = [_svg_open(width, height, title), _text(0, 18, title, size=13, weight="bold")]
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = 30 + row * i
        length = (width - left - 70) * value / peak
        shown = label if len(label) <= 30 else label[:29] + "…"
        out.append(_text(left - 8, y + 13, shown, anchor="end"))
        out.append(f"<rect x='{left}' y='{y + 2}' width='{length:.1f}' height='{row - 6}' fill='{colour}'/>")
        out.append(_text(left + length + 6, y + 13, f"{value:,}"))
    if not labels:
        out.append(_text(left, 44, "nothing in this period and scope"))
    out.append("</svg>")
    return "".join(out)


def _legend(series: Mapping[str, Sequence[int]], x: float, y: float) -> str:
    parts = []
    for name, values in series.items():
        parts.append(f"<rect x='{x:.0f}' y='{y - 9:.0f}' width='10' height='10' fill='{PALETTE[name]}'/>")
        label = f"{LABELS[name]} ({sum(values):,})"
        parts.append(_text(x + 14, y, label))
        x += 24 + 7 * len(label)
    return "".join(parts)


def _svg_open(width: int, height: int, title: str) -> str:
    return (f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}' width='100%' role='img' "
            f"aria-label='{escape(title, quote=True)}' {_FONT}>")  # fmt: skip


def _text(x: float, y: float, text: str, anchor: str = "start", size: int = 10, weight: str = "normal") -> str:
    return (f"<text x='{x:.1f}' y='{y:.1f}' font-size='{size}' font-weight='{weight}' text-anchor='{anchor}' "
            f"fill='#222'>{escape(text)}</text>")  # fmt: skip
