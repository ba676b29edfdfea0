"""Charts as inline SVG, written by hand: line, bar, hbar, heatmap, funnel, pareto and pie.

Plain SVG text keeps the HTML report self-contained (no script, no network) and byte-identical
for the same data: coordinates are rounded to one decimal and nothing random (ids, timestamps)
is emitted. Values are turned into floats only to place marks; labels show the exact values.
"""

from __future__ import annotations

import math
from decimal import Decimal
from html import escape
from typing import Any, Callable

from crmkit import Chart

from .formatting import show, unit_of_column

WIDTH, HEIGHT = 640, 300
LEFT, RIGHT, TOP, BOTTOM = 64, 20, 34, 56
PALETTE = ("#3b6ea8", "#e07b39", "#4f9a5c", "#b5485d", "#7c62b0", "#8a7a3c", "#2f9aa0", "#c46fb0")
MAX_ITEMS = 40


class ChartError(ValueError):
    """A chart spec that cannot be drawn from its rows (unknown kind, missing column)."""


def render(chart: Chart, rows: list[dict]) -> str:
    """The SVG element for ``chart`` over ``rows`` (the chart's own rows take precedence)."""
    data = list(chart.rows if chart.rows is not None else rows)
    drawer = _DRAWERS.get(chart.kind)
    if drawer is None:
        raise ChartError(f"unknown chart kind {chart.kind!r}; kinds: {', '.join(sorted(_DRAWERS))}")
    if not chart.y:
        raise ChartError("the chart names no y column")
    for column in (chart.x, *chart.y):
        if data and not any(column in row for row in data):
            raise ChartError(f"no column {column!r} in the rows")
    if not data:
        raise ChartError("no rows to draw")
    return drawer(chart, data[:MAX_ITEMS] if chart.kind not in ("line",) else data)


# --- helpers ----------------------------------------------------------------------------------

def number(value: Any) -> float | None:
    """A value as a float for placing marks, or None when it is not a number."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float, Decimal)):
        result = float(value)
    else:
        try:
            result = float(str(value))
        except ValueError:
            return None
    return result if math.isfinite(result) else None


def _f(value: float) -> str:
    text = f"{value:.1f}"
    return "0.0" if text == "-0.0" else text


def _text(x: float, y: float, content: Any, anchor: str = "middle", size: int = 11, extra: str = "") -> str:
    return f'<text x="{_f(x)}" y="{_f(y)}" text-anchor="{anchor}" font-size="{size}"{extra}>{escape(str(content))}</text>'


def _open(chart: Chart, width: int = WIDTH, height: int = HEIGHT) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-{escape(chart.kind)}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(chart.title)}" font-family="DejaVu Sans, Arial, sans-serif">',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
        _text(width / 2, 20, chart.title, size=14, extra=' font-weight="bold"'),
    ]


def _nice_range(low: float, high: float, ticks: int = 5) -> tuple[float, float, float]:
    low, high = min(0.0, low), max(0.0, high)
    if high == low:
        high = low + 1
    raw = (high - low) / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return math.floor(low / step) * step, math.ceil(high / step) * step, step


def _tick_label(value: float, rate: bool) -> str:
    if rate:
        return f"{value * 100:.0f}%"
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if abs(value) >= 10_000:
        return f"{value / 1000:g}k"
    return f"{value:g}"


def _y_axis(parts: list[str], low: float, high: float, step: float, scale: Callable[[float], float], rate: bool, x0: float, x1: float) -> None:
    tick = low
    while tick <= high + step / 2:
        y = scale(tick)
        parts.append(f'<line x1="{_f(x0)}" y1="{_f(y)}" x2="{_f(x1)}" y2="{_f(y)}" stroke="#e3e3e3"/>')
        parts.append(_text(x0 - 6, y + 4, _tick_label(tick, rate), anchor="end", size=10))
        tick += step


def _x_labels(parts: list[str], labels: list[str], centers: list[float], base: float) -> None:
    every = max(1, math.ceil(len(labels) / 12))
    for index, (label, x) in enumerate(zip(labels, centers)):
        if index % every == 0:
            short = label if len(label) <= 14 else label[:13] + "…"
            parts.append(_text(x, base + 16, short, size=10))


def _legend(parts: list[str], names: tuple[str, ...], y: float) -> None:
    if len(names) < 2:
        return
    x = LEFT
    for index, name in enumerate(names):
        color = PALETTE[index % len(PALETTE)]
        parts.append(f'<rect x="{_f(x)}" y="{_f(y - 9)}" width="10" height="10" fill="{color}"/>')
        parts.append(_text(x + 14, y, name, anchor="start", size=10))
        x += 24 + 7 * len(name)


def _series(chart: Chart, rows: list[dict]) -> tuple[list[str], list[list[float | None]], bool]:
    labels = [show(row.get(chart.x)) for row in rows]
    values = [[number(row.get(column)) for row in rows] for column in chart.y]
    rate = all(unit_of_column(column) == "rate" for column in chart.y)
    return labels, values, rate


def _frame(values: list[list[float | None]]) -> tuple[float, float, float, Callable[[float], float]]:
    flat = [v for series in values for v in series if v is not None] or [0.0]
    low, high, step = _nice_range(min(flat), max(flat))
    top, bottom = TOP + 6, HEIGHT - BOTTOM

    def scale(value: float) -> float:
        return bottom - (value - low) / (high - low) * (bottom - top)

    return low, high, step, scale


# --- the chart kinds --------------------------------------------------------------------------

def line(chart: Chart, rows: list[dict]) -> str:
    """One line (with a dot per point) per ``y`` column across the ``x`` labels, on a shared y axis."""
    labels, values, rate = _series(chart, rows)
    low, high, step, scale = _frame(values)
    parts = _open(chart)
    _y_axis(parts, low, high, step, scale, rate, LEFT, WIDTH - RIGHT)
    span = (WIDTH - LEFT - RIGHT) / max(1, len(labels))
    centers = [LEFT + span * (i + 0.5) for i in range(len(labels))]
    for index, series in enumerate(values):
        color = PALETTE[index % len(PALETTE)]
        points = [(x, scale(v)) for x, v in zip(centers, series) if v is not None]
        if len(points) > 1:
            path = " ".join(f"{_f(x)},{_f(y)}" for x, y in points)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        parts += [f'<circle cx="{_f(x)}" cy="{_f(y)}" r="3" fill="{color}"/>' for x, y in points]
    _x_labels(parts, labels, centers, HEIGHT - BOTTOM)
    _legend(parts, chart.y, HEIGHT - 10)
    return "\n".join(parts + ["</svg>"])


def bar(chart: Chart, rows: list[dict]) -> str:
    """Vertical bars grouped by ``x`` label, one colour per ``y`` column, drawn from zero."""
    labels, values, rate = _series(chart, rows)
    low, high, step, scale = _frame(values)
    parts = _open(chart)
    _y_axis(parts, low, high, step, scale, rate, LEFT, WIDTH - RIGHT)
    span = (WIDTH - LEFT - RIGHT) / max(1, len(labels))
    width = span * 0.8 / len(values)
    zero = scale(0.0)
    for s_index, series in enumerate(values):
        color = PALETTE[s_index % len(PALETTE)]
        for i, value in enumerate(series):
            if value is None:
                continue
            x = LEFT + span * i + span * 0.1 + width * s_index
            y = min(scale(value), zero)
            parts.append(f'<rect x="{_f(x)}" y="{_f(y)}" width="{_f(width)}" height="{_f(max(abs(zero - scale(value)), 0.5))}" fill="{color}"/>')
    _x_labels(parts, labels, [LEFT + span * (i + 0.5) for i in range(len(labels))], HEIGHT - BOTTOM)
    _legend(parts, chart.y, HEIGHT - 10)
    return "\n".join(parts + ["</svg>"])


def hbar(chart: Chart, rows: list[dict]) -> str:
    """Horizontal bars of ``y[0]`` per ``x`` label, longest at the largest value, each with its value."""
    labels, values, rate = _series(chart, rows)
    series = values[0]
    row_height, label_width = 22, 180
    height = TOP + 10 + row_height * len(labels) + 10
    parts = _open(chart, height=height)
    peak = max([v for v in series if v is not None] + [0.0]) or 1.0
    room = WIDTH - label_width - RIGHT - 70
    for i, (label, value) in enumerate(zip(labels, series)):
        y = TOP + 10 + row_height * i
        short = label if len(label) <= 26 else label[:25] + "…"
        parts.append(_text(label_width - 8, y + 15, short, anchor="end", size=11))
        if value is None:
            continue
        length = max(room * max(value, 0.0) / peak, 0.5)
        parts.append(f'<rect x="{label_width}" y="{_f(y + 3)}" width="{_f(length)}" height="{row_height - 6}" fill="{PALETTE[0]}"/>')
        parts.append(_text(label_width + length + 6, y + 15, show(rows[i].get(chart.y[0]), "rate" if rate else None), anchor="start", size=10))
    return "\n".join(parts + ["</svg>"])


def heatmap(chart: Chart, rows: list[dict]) -> str:
    """A grid: one row per ``x`` label, one cell per ``y`` column, shaded by value relative to the
    largest; empty cells grey (e.g. the cohort table).
    """
    labels = [show(row.get(chart.x)) for row in rows]
    columns = list(chart.y)
    cell_w = min(56.0, (WIDTH - 90 - RIGHT) / len(columns))
    cell_h = 22
    height = TOP + 24 + cell_h * len(labels) + 12
    parts = _open(chart, height=height)
    flat = [number(row.get(c)) for row in rows for c in columns]
    peak = max([v for v in flat if v is not None] + [0.0]) or 1.0
    for j, column in enumerate(columns):
        parts.append(_text(90 + cell_w * (j + 0.5), TOP + 16, column, size=10))
    for i, (label, row) in enumerate(zip(labels, rows)):
        y = TOP + 24 + cell_h * i
        parts.append(_text(84, y + 15, label, anchor="end", size=10))
        for j, column in enumerate(columns):
            value = number(row.get(column))
            x = 90 + cell_w * j
            if value is None:
                parts.append(f'<rect x="{_f(x)}" y="{y}" width="{_f(cell_w - 1)}" height="{cell_h - 1}" fill="#f4f4f4"/>')
                continue
            shade = max(0.0, min(1.0, value / peak))
            red, green, blue = (int(255 - (255 - c) * shade) for c in (59, 110, 168))
            parts.append(f'<rect x="{_f(x)}" y="{y}" width="{_f(cell_w - 1)}" height="{cell_h - 1}" fill="rgb({red},{green},{blue})"/>')
            ink = "#ffffff" if shade > 0.55 else "#222222"
            text = show(row.get(column), unit_of_column(column)).replace(" %", "%")
            parts.append(_text(x + cell_w / 2, y + 15, text, size=9, extra=f' fill="{ink}"'))
    return "\n".join(parts + ["</svg>"])


def funnel(chart: Chart, rows: list[dict]) -> str:
    """Centred steps of ``y[0]`` per ``x`` label, each labelled with its value and its share of the first."""
    labels, values, _ = _series(chart, rows)
    series = values[0]
    step_h = 34
    height = TOP + 10 + step_h * len(labels) + 10
    parts = _open(chart, height=height)
    first = next((v for v in series if v), None) or 1.0
    peak = max([v for v in series if v is not None] + [0.0]) or 1.0
    room, center = 300.0, 200.0
    for i, (label, value) in enumerate(zip(labels, series)):
        y = TOP + 10 + step_h * i
        width = max(room * max(value or 0.0, 0.0) / peak, 2.0)
        parts.append(f'<rect x="{_f(center - width / 2)}" y="{y}" width="{_f(width)}" height="{step_h - 6}" fill="{PALETTE[i % len(PALETTE)]}"/>')
        share = f" ({(value or 0.0) / first * 100:.1f}% of first)" if i else ""
        parts.append(_text(center + room / 2 + 12, y + 19, f"{label}: {show(rows[i].get(chart.y[0]))}{share}", anchor="start", size=11))
    return "\n".join(parts + ["</svg>"])


def pareto(chart: Chart, rows: list[dict]) -> str:
    """Bars of ``y[0]`` largest first, with the cumulative share as a line on a 0-100% axis."""
    ordered = sorted(rows, key=lambda r: -(number(r.get(chart.y[0])) or 0.0))
    labels = [show(row.get(chart.x)) for row in ordered]
    series = [max(number(row.get(chart.y[0])) or 0.0, 0.0) for row in ordered]
    total = sum(series) or 1.0
    high = max(series + [0.0]) or 1.0
    top, bottom = TOP + 6, HEIGHT - BOTTOM
    parts = _open(chart)
    rate = unit_of_column(chart.y[0]) == "rate"
    _, axis_high, step = _nice_range(0.0, high)

    def scale(value: float) -> float:
        return bottom - value / axis_high * (bottom - top)

    _y_axis(parts, 0.0, axis_high, step, scale, rate, LEFT, WIDTH - RIGHT - 30)
    span = (WIDTH - LEFT - RIGHT - 30) / max(1, len(labels))
    centers, points, running = [], [], 0.0
    for i, value in enumerate(series):
        x = LEFT + span * i
        parts.append(f'<rect x="{_f(x + span * 0.1)}" y="{_f(scale(value))}" width="{_f(span * 0.8)}" height="{_f(max(bottom - scale(value), 0.5))}" fill="{PALETTE[0]}"/>')
        running += value
        centers.append(x + span / 2)
        points.append((x + span / 2, bottom - running / total * (bottom - top)))
    parts.append(f'<polyline points="{" ".join(f"{_f(x)},{_f(y)}" for x, y in points)}" fill="none" stroke="{PALETTE[1]}" stroke-width="2"/>')
    parts += [f'<circle cx="{_f(x)}" cy="{_f(y)}" r="3" fill="{PALETTE[1]}"/>' for x, y in points]
    for share in (0, 50, 80, 100):
        y = bottom - share / 100 * (bottom - top)
        parts.append(_text(WIDTH - RIGHT - 26, y + 4, f"{share}%", anchor="start", size=10, extra=f' fill="{PALETTE[1]}"'))
    _x_labels(parts, labels, centers, bottom)
    parts.append(_text(WIDTH / 2, HEIGHT - 10, "line: cumulative share", size=10, extra=f' fill="{PALETTE[1]}"'))
    return "\n".join(parts + ["</svg>"])


def pie(chart: Chart, rows: list[dict]) -> str:
    """Slices of ``y[0]`` per ``x`` label (negative values count as 0), with a legend of shares."""
    labels, values, _ = _series(chart, rows)
    series = [max(v or 0.0, 0.0) for v in values[0]]
    total = sum(series)
    parts = _open(chart)
    cx, cy, radius = 170.0, 165.0, 110.0
    angle = -math.pi / 2
    for i, (label, value) in enumerate(zip(labels, series)):
        color = PALETTE[i % len(PALETTE)]
        parts.append(f'<rect x="330" y="{50 + 18 * i}" width="10" height="10" fill="{color}"/>')
        share = value / total * 100 if total else 0.0
        parts.append(_text(346, 59 + 18 * i, f"{label}: {share:.1f}%", anchor="start", size=10))
        if not value:
            continue
        sweep = value / total * 2 * math.pi
        if sweep >= 2 * math.pi - 1e-9:
            parts.append(f'<circle cx="{_f(cx)}" cy="{_f(cy)}" r="{_f(radius)}" fill="{color}"/>')
        else:
            x1, y1 = cx + radius * math.cos(angle), cy + radius * math.sin(angle)
            x2, y2 = cx + radius * math.cos(angle + sweep), cy + radius * math.sin(angle + sweep)
            large = 1 if sweep > math.pi else 0
            parts.append(
                f'<path d="M{_f(cx)},{_f(cy)} L{_f(x1)},{_f(y1)} A{_f(radius)},{_f(radius)} 0 {large} 1 {_f(x2)},{_f(y2)} Z" fill="{color}"/>'
            )
        angle += sweep
    return "\n".join(parts + ["</svg>"])


_DRAWERS: dict[str, Callable[[Chart, list[dict]], str]] = {
    "line": line, "bar": bar, "hbar": hbar, "heatmap": heatmap, "funnel": funnel, "pareto": pareto, "pie": pie,
}
KINDS = tuple(sorted(_DRAWERS))
