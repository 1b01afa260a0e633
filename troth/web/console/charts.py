"""Charts for the dashboard, drawn on the server as inline SVG: no script, no library, no network.

Each function returns the markup of one ``<svg role="img">`` with a ``<title>``; the page puts a
table with the same numbers beside it, for screen readers and for anyone who wants the figures.
Every text drawn is escaped here.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

# Colours that stay apart for the common kinds of colour blindness (Okabe and Ito's eight, in
# an order that puts the most distinct first), reused in turn beyond eight series.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def stacked_bars(
    title: str,
    labels: Sequence[str],
    series: Sequence[str],
    values: Sequence[Sequence[int]],
    *,
    ticks: Sequence[str] | None = None,
    legend_columns: int = 4,
) -> Markup:
    """Vertical bars, one per label, each stacked from ``values[label][series]``, with a legend.

    ``ticks`` are shorter words drawn under the bars (``labels`` by default), for when the full
    labels would not fit; each bar's own title keeps its full label. ``legend_columns`` says how
    many series names share a line of the legend: fewer for longer names.
    """
    width, height, left, bottom, top = 640, 260, 36, 40, 12
    plot_h = height - bottom - top
    slot = (width - left) / max(len(labels), 1)
    most = max((sum(row) for row in values), default=0) or 1
    under = labels if ticks is None else ticks
    legend_lines = (len(series) + legend_columns - 1) // legend_columns
    parts = [
        f'<svg role="img" viewBox="0 0 {width} {height + 24 * legend_lines}" '
        f'class="chart" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width}" y2="{top + plot_h}" class="axis"/>',
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end" class="tick">{most}</text>',
        f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end" class="tick">0</text>',
    ]
    for i, (label, row) in enumerate(zip(labels, values, strict=True)):
        x = left + i * slot + slot * 0.15
        y = float(top + plot_h)
        for j, value in enumerate(row):
            if not value:
                continue
            h = plot_h * value / most
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{h:.1f}" '
                f'fill="{colour(j)}"><title>{escape(label)}, {escape(series[j])}: {value}'
                "</title></rect>"
            )
        parts.append(
            f'<text x="{x + slot * 0.35:.1f}" y="{top + plot_h + 16}" text-anchor="middle" '
            f'class="tick">{escape(under[i])}</text>'
        )
    legend_y = height + 4
    column = (width - left) // legend_columns
    for j, name in enumerate(series):
        lx = left + (j % legend_columns) * column
        ly = legend_y + (j // legend_columns) * 24
        parts.append(
            f'<rect x="{lx}" y="{ly}" width="14" height="14" fill="{colour(j)}"/>'
            f'<text x="{lx + 20}" y="{ly + 12}" class="tick">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def rate_bars(title: str, rows: Sequence[tuple[str, float | None]]) -> Markup:
    """Horizontal bars from 0 to 100 %, one per (label, rate between 0 and 1, or None for no
    data: an empty track labelled so, not a bar at 0 %)."""
    width, row_h, label_w = 640, 30, 220
    bar_w = width - label_w - 60
    height = row_h * max(len(rows), 1) + 8
    parts = [
        f'<svg role="img" viewBox="0 0 {width} {height}" class="chart" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    for i, (label, rate) in enumerate(rows):
        y = 4 + i * row_h
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 18}" text-anchor="end" class="tick">'
            f"{escape(label)}</text>"
            f'<rect x="{label_w}" y="{y + 4}" width="{bar_w}" height="18" class="track"/>'
            f'<rect x="{label_w}" y="{y + 4}" width="{bar_w * (rate or 0.0):.1f}" height="18" '
            f'fill="{colour(0)}"/>'
            f'<text x="{label_w + bar_w + 6}" y="{y + 18}" class="tick">{percent(rate)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def percent(rate: float | None) -> str:
    return "no data" if rate is None else f"{rate * 100:.0f} %"
