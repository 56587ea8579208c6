"""Inline SVG charts for the reports page: column charts over days and horizontal bar lists.

Pure string building. Values are integers (counts, or money and points in minor units); axis and tooltip
text comes from the formatters the caller passes, so no money is ever turned into a float here. Every
text that reaches the markup is escaped; each chart is a self-contained `<svg>` with a `<title>` and an
aria-label, and no namespace URL: inline SVG in HTML5 does not need one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

Format = Callable[[int], str]

BLUE, GREEN, ORANGE, AMBER, GREY = "#2563eb", "#16a34a", "#ea580c", "#d97706", "#9ca3af"  # the pages' series

WIDTH = 1100  # viewBox units; the page scales the chart to its column
_FONT = 'font-size="12" fill="#4b5563"'
_MAX_X_LABELS = 12
_STEPS = (1, 2, 5)


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    color: str
    values: Sequence[int]


@dataclass(frozen=True, slots=True)
class Part:
    """One segment of a horizontal bar: its value, colour and tooltip."""

    value: int
    color: str
    tooltip: str


@dataclass(frozen=True, slots=True)
class Row:
    label: str
    parts: Sequence[Part]
    note: str  # written after the bar, e.g. its value


def _n(x: float) -> str:
    """A coordinate, short: SVG needs no more than a tenth of a unit here."""
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _svg(title: str, height: int, body: str, width: int = WIDTH) -> str:
    label = escape(title)
    return (f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{label}" '
            f'preserveAspectRatio="xMidYMid meet" font-family="inherit">'
            f"<title>{label}</title>{body}</svg>")


def axis_ticks(highest: int, most: int = 5) -> list[int]:
    """0 and evenly spaced round values (1, 2 or 5 × 10^k apart) up to at least `highest`, at most
    `most` steps; an all-zero chart still gets a non-empty scale."""
    highest = max(highest, 1)
    magnitude = 1
    while True:
        for step in (magnitude * s for s in _STEPS):
            steps = -(-highest // step)
            if steps <= most:
                return [step * i for i in range(steps + 1)]
        magnitude *= 10


def thinned(count: int, most: int = _MAX_X_LABELS) -> int:
    """Label every n-th column so that no more than `most` labels share the axis."""
    return max(1, -(-count // most))


def columns(title: str, labels: Sequence[str], series: Sequence[Series], axis: Format, tooltip: Format,
            height: int = 230) -> str:
    """Columns per label (one per series side by side), a y axis with round ticks, thinned x labels and,
    with more than one series, a legend. Each column is a `<rect class="bar">` with its own tooltip."""
    left, right, top, bottom = 78, 10, 30 if len(series) > 1 else 12, 26
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    ticks = axis_ticks(max((v for s in series for v in s.values), default=0))
    scale = plot_h / ticks[-1]
    slot = plot_w / max(len(labels), 1)
    bar_w = slot * 0.8 / len(series)
    parts = [_y_axis(ticks, left, top, plot_w, plot_h, axis)]
    every = thinned(len(labels))
    for i, label in enumerate(labels):
        x0 = left + i * slot + slot * 0.1
        for k, one in enumerate(series):
            value = one.values[i]
            h = value * scale
            parts.append(
                f'<rect class="bar" x="{_n(x0 + k * bar_w)}" y="{_n(top + plot_h - h)}" width="{_n(bar_w)}" '
                f'height="{_n(h)}" fill="{one.color}"><title>{escape(label)}: {escape(tooltip(value))} '
                f"{escape(one.name)}</title></rect>"
            )
        if i % every == 0:
            x = left + i * slot + slot / 2
            parts.append(f'<text x="{_n(x)}" y="{height - 8}" text-anchor="middle" {_FONT}>{escape(label)}</text>')
    if len(series) > 1:
        parts.append(_legend(series, left))
    return _svg(title, height, "".join(parts))


def _y_axis(ticks: list[int], left: int, top: int, plot_w: int, plot_h: int, axis: Format) -> str:
    lines = []
    for tick in ticks:
        y = top + plot_h - tick * plot_h / ticks[-1]
        lines.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{_n(y)}" y2="{_n(y)}" '
                     f'stroke="{"#9ca3af" if tick == 0 else "#e5e7eb"}" stroke-width="1"/>'
                     f'<text x="{left - 8}" y="{_n(y + 4)}" text-anchor="end" {_FONT}>{escape(axis(tick))}</text>')
    return "".join(lines)


def _legend(series: Sequence[Series], left: int) -> str:
    items, x = [], left
    for one in series:
        items.append(f'<rect class="swatch" x="{x}" y="6" width="14" height="14" rx="2" fill="{one.color}"/>'
                     f'<text x="{x + 20}" y="18" font-size="13" fill="#111827">{escape(one.name)}</text>')
        x += 28 + 8 * len(one.name)
    return f'<g class="legend">{"".join(items)}</g>'


def bars(title: str, rows: Sequence[Row], label_width: int = 300, width: int = WIDTH, note_width: int = 190,
         row_height: int = 30) -> str:
    """One horizontal bar per row (stacked when it has several parts), its label on the left, its note
    after the bar; the longest bar spans the plot. Labels too long for their column are cut with an
    ellipsis, their full text kept in the tooltip."""
    plot_w = width - label_width - note_width
    highest = max((sum(p.value for p in row.parts) for row in rows), default=0) or 1
    out = []
    for i, row in enumerate(rows):
        y = 4 + i * row_height
        out.append(f'<text x="{label_width - 10}" y="{y + row_height / 2 + 4:.0f}" text-anchor="end" '
                   f'font-size="13" fill="#111827"><title>{escape(row.label)}</title>'
                   f"{escape(_cut(row.label, label_width // 8))}</text>")
        x = float(label_width)
        for part in row.parts:
            w = max(part.value, 0) * plot_w / highest
            out.append(f'<rect class="bar" x="{_n(x)}" y="{y + 5}" width="{_n(w)}" height="{row_height - 10}" '
                       f'rx="2" fill="{part.color}"><title>{escape(part.tooltip)}</title></rect>')
            x += w
        out.append(f'<text x="{_n(x + 8)}" y="{y + row_height / 2 + 4:.0f}" {_FONT}>{escape(row.note)}</text>')
    return _svg(title, 8 + len(rows) * row_height, "".join(out), width)


def _cut(text: str, most: int) -> str:
    return text if len(text) <= most else text[: most - 1].rstrip() + "…"


@dataclass(frozen=True, slots=True)
class Estimate:
    """A value with its interval, drawn as a dot on a line; `low`/`high` None: the dot alone."""

    label: str
    value: int
    low: int | None
    high: int | None
    color: str
    tooltip: str


def intervals(title: str, rows: Sequence[Estimate], axis: Format, label_width: int = 230, width: int = WIDTH,
              row_height: int = 34) -> str:
    """One row per estimate on a shared horizontal scale that always includes zero (drawn darker), so that
    an interval crossing it shows at a glance. Each interval is a `<line class="ci">`, each value a
    `<circle class="estimate">`, with its tooltip."""
    lowest = min([0, *(r.low if r.low is not None else r.value for r in rows)])
    highest = max([0, *(r.high if r.high is not None else r.value for r in rows)])
    up = axis_ticks(highest)
    step = up[1] - up[0]
    below = -(lowest // step)  # steps under zero that reach `lowest` (floor division rounds towards -inf)
    down = [-step * k for k in range(1, below + 1)]
    ticks = sorted(down) + up
    left, right, top, bottom = label_width, 30, 6, 26
    plot_w = width - left - right
    span = ticks[-1] - ticks[0]

    def x(value: int) -> float:
        return left + (value - ticks[0]) * plot_w / span

    height = top + len(rows) * row_height + bottom
    out = []
    for tick in ticks:
        out.append(f'<line x1="{_n(x(tick))}" x2="{_n(x(tick))}" y1="{top}" y2="{height - bottom}" '
                   f'stroke="{"#374151" if tick == 0 else "#e5e7eb"}" stroke-width="1"/>'
                   f'<text x="{_n(x(tick))}" y="{height - 8}" text-anchor="middle" {_FONT}>{escape(axis(tick))}</text>')
    for i, row in enumerate(rows):
        y = top + i * row_height + row_height / 2
        out.append(f'<text x="{left - 10}" y="{_n(y + 4)}" text-anchor="end" font-size="13" fill="#111827">'
                   f"{escape(row.label)}</text>")
        if row.low is not None and row.high is not None:
            out.append(f'<line class="ci" x1="{_n(x(row.low))}" x2="{_n(x(row.high))}" y1="{_n(y)}" y2="{_n(y)}" '
                       f'stroke="{row.color}" stroke-width="4" stroke-linecap="round">'
                       f"<title>{escape(row.tooltip)}</title></line>")
        out.append(f'<circle class="estimate" cx="{_n(x(row.value))}" cy="{_n(y)}" r="6" fill="{row.color}" '
                   f'stroke="#fff" stroke-width="2"><title>{escape(row.tooltip)}</title></circle>')
    return _svg(title, height, "".join(out), width)
