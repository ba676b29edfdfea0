"""Charts drawn as inline SVG text: no JavaScript, no network, readable in any notebook viewer.

Values are converted to floats only to compute pixel positions; labels show the exact values.
"""

from __future__ import annotations

import math
from decimal import Decimal
from html import escape
from typing import Any, Sequence

from .. import formatting

KINDS = ("line", "bar", "hbar", "heatmap", "funnel", "pareto", "pie")
PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7")


def _number(value: Any) -> float:
    if value is None or isinstance(value, bool):
        return 0.0
    if isinstance(value, (int, float, Decimal)):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        return 0.0


def render(kind: str, rows: Sequence[dict], x: str, y: Sequence[str], *, title: str = "",
           width: int = 480, height: int = 260) -> str:
    """The SVG of a chart; ``kind`` is one of :data:`KINDS`."""
    if kind not in KINDS:
        raise ValueError(f"chart kind must be one of {', '.join(KINDS)}, not {kind!r}")
    y = tuple(y)
    if not y:
        raise ValueError("a chart needs at least one y column")
    head = (
        f"<svg xmlns='http://www.w3.org/2000/svg' class='crmkit-chart-svg crmkit-chart-{kind}' "
        f"width='{width}' height='{height}' viewBox='0 0 {width} {height}' font-family='sans-serif' font-size='11'>"
        f"<text x='{width / 2:.0f}' y='14' text-anchor='middle' font-weight='bold'>{escape(title)}</text>"
    )
    if not rows:
        return head + f"<text x='{width / 2:.0f}' y='{height / 2:.0f}' text-anchor='middle' fill='#777'>no data</text></svg>"
    draw = {"line": _line, "bar": _bar, "hbar": _hbar, "funnel": _hbar, "heatmap": _heatmap, "pareto": _pareto, "pie": _pie}[kind]
    return head + draw(list(rows), x, y, width, height) + "</svg>"


def _legend(y: Sequence[str], width: int) -> str:
    if len(y) < 2:
        return ""
    items = []
    for i, name in enumerate(y):
        left = 60 + i * 110
        items.append(
            f"<rect x='{left}' y='22' width='10' height='10' fill='{PALETTE[i % len(PALETTE)]}'/>"
            f"<text x='{left + 14}' y='31'>{escape(name)}</text>"
        )
    return "".join(items)


def _frame(rows, y, width, height, low_zero=True):
    values = [_number(r.get(c)) for r in rows for c in y]
    top = max(values + [0.0])
    bottom = min(values + [0.0]) if low_zero else min(values)
    if top == bottom:
        top = bottom + 1
    box = (50, 40, width - 10, height - 30)  # left, top, right, bottom
    return top, bottom, box


def _axis(top, bottom, box) -> str:
    left, upper, right, lower = box
    parts = [f"<line x1='{left}' y1='{lower}' x2='{right}' y2='{lower}' stroke='#999'/>",
             f"<line x1='{left}' y1='{upper}' x2='{left}' y2='{lower}' stroke='#999'/>"]
    for step in range(3):
        value = bottom + (top - bottom) * step / 2
        ypos = lower - (lower - upper) * step / 2
        parts.append(f"<text x='{left - 4}' y='{ypos + 4:.1f}' text-anchor='end' fill='#555'>{escape(_short(value))}</text>")
    return "".join(parts)


def _short(value: float) -> str:
    size = abs(value)
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if size >= limit:
            return f"{value / limit:.1f}{suffix}"
    return f"{value:.0f}" if value == int(value) else f"{value:.2f}"


def _label(row: dict, x: str) -> str:
    return formatting.text(row.get(x))


def _line(rows, x, y, width, height) -> str:
    top, bottom, box = _frame(rows, y, width, height)
    left, upper, right, lower = box
    step = (right - left) / max(1, len(rows) - 1)
    parts = [_axis(top, bottom, box), _legend(y, width)]
    for index, column in enumerate(y):
        points = " ".join(
            f"{left + i * step:.1f},{lower - (lower - upper) * (_number(r.get(column)) - bottom) / (top - bottom):.1f}"
            for i, r in enumerate(rows)
        )
        parts.append(f"<polyline class='crmkit-series' points='{points}' fill='none' stroke='{PALETTE[index % len(PALETTE)]}' stroke-width='2'/>")
    parts += _x_labels(rows, x, left, step, lower, centred=False)
    return "".join(parts)


def _x_labels(rows, x, left, step, lower, centred) -> list[str]:
    every = max(1, math.ceil(len(rows) / 10))
    offset = step / 2 if centred else 0
    return [
        f"<text x='{left + i * step + offset:.1f}' y='{lower + 14}' text-anchor='middle' fill='#555'>{escape(_label(r, x)[:12])}</text>"
        for i, r in enumerate(rows) if i % every == 0
    ]


def _bar(rows, x, y, width, height) -> str:
    top, bottom, box = _frame(rows, y, width, height)
    left, upper, right, lower = box
    step = (right - left) / len(rows)
    bar = step * 0.8 / len(y)
    zero = lower - (lower - upper) * (0 - bottom) / (top - bottom)
    parts = [_axis(top, bottom, box), _legend(y, width)]
    for i, row in enumerate(rows):
        for j, column in enumerate(y):
            value = _number(row.get(column))
            ypos = lower - (lower - upper) * (value - bottom) / (top - bottom)
            parts.append(
                f"<rect class='crmkit-series' x='{left + i * step + step * 0.1 + j * bar:.1f}' y='{min(ypos, zero):.1f}' "
                f"width='{bar:.1f}' height='{abs(zero - ypos):.1f}' fill='{PALETTE[j % len(PALETTE)]}'>"
                f"<title>{escape(_label(row, x))} {escape(column)}: {escape(formatting.text(row.get(column)))}</title></rect>"
            )
    parts += _x_labels(rows, x, left, step, lower, centred=True)
    return "".join(parts)


def _hbar(rows, x, y, width, height) -> str:
    column = y[0]
    values = [_number(r.get(column)) for r in rows]
    top = max(values + [0.0]) or 1.0
    left, upper, right = 110, 24, width - 60
    row_height = (height - upper - 6) / len(rows)
    parts = []
    for i, (row, value) in enumerate(zip(rows, values)):
        length = (right - left) * max(value, 0) / top
        ypos = upper + i * row_height
        parts.append(
            f"<text x='{left - 4}' y='{ypos + row_height * 0.65:.1f}' text-anchor='end'>{escape(_label(row, x)[:16])}</text>"
            f"<rect class='crmkit-series' x='{left}' y='{ypos + row_height * 0.1:.1f}' width='{length:.1f}' "
            f"height='{row_height * 0.8:.1f}' fill='{PALETTE[0]}'/>"
            f"<text x='{left + length + 4:.1f}' y='{ypos + row_height * 0.65:.1f}'>{escape(formatting.text(row.get(column)))}</text>"
        )
    return "".join(parts)


def _heatmap(rows, x, y, width, height) -> str:
    values = [_number(r.get(c)) for r in rows for c in y]
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    left, upper = 90, 40
    cell_w = (width - left - 10) / len(y)
    cell_h = (height - upper - 10) / len(rows)
    parts = [
        f"<text x='{left + j * cell_w + cell_w / 2:.1f}' y='{upper - 6}' text-anchor='middle'>{escape(c[:10])}</text>"
        for j, c in enumerate(y)
    ]
    for i, row in enumerate(rows):
        parts.append(f"<text x='{left - 4}' y='{upper + i * cell_h + cell_h * 0.6:.1f}' text-anchor='end'>{escape(_label(row, x)[:14])}</text>")
        for j, column in enumerate(y):
            share = (_number(row.get(column)) - low) / span
            shade = int(235 - share * 170)
            parts.append(
                f"<rect class='crmkit-series' x='{left + j * cell_w:.1f}' y='{upper + i * cell_h:.1f}' width='{cell_w - 1:.1f}' "
                f"height='{cell_h - 1:.1f}' fill='rgb({shade},{shade + 10 if shade < 245 else 245},255)'>"
                f"<title>{escape(formatting.text(row.get(column)))}</title></rect>"
            )
    return "".join(parts)


def _pareto(rows, x, y, width, height) -> str:
    column = y[0]
    ordered = sorted(rows, key=lambda r: _number(r.get(column)), reverse=True)
    total = sum(_number(r.get(column)) for r in ordered) or 1.0
    running, cumulative = 0.0, []
    for row in ordered:
        running += _number(row.get(column))
        cumulative.append(running / total)
    svg = _bar(ordered, x, (column,), width, height)
    left, upper, right, lower = 50, 40, width - 10, height - 30
    step = (right - left) / len(ordered)
    points = " ".join(f"{left + i * step + step / 2:.1f},{lower - (lower - upper) * share:.1f}" for i, share in enumerate(cumulative))
    return svg + f"<polyline class='crmkit-series crmkit-cumulative' points='{points}' fill='none' stroke='{PALETTE[1]}' stroke-width='2'/>"


def _pie(rows, x, y, width, height) -> str:
    column = y[0]
    values = [max(_number(r.get(column)), 0.0) for r in rows]
    total = sum(values) or 1.0
    cx, cy, radius = width / 3, height / 2 + 8, min(width / 3, height / 2) - 24
    angle, parts = -math.pi / 2, []
    for i, (row, value) in enumerate(zip(rows, values)):
        sweep = 2 * math.pi * value / total
        colour = PALETTE[i % len(PALETTE)]
        if sweep >= 2 * math.pi - 1e-9:
            parts.append(f"<circle class='crmkit-series' cx='{cx:.1f}' cy='{cy:.1f}' r='{radius:.1f}' fill='{colour}'/>")
        elif sweep > 0:
            x1, y1 = cx + radius * math.cos(angle), cy + radius * math.sin(angle)
            x2, y2 = cx + radius * math.cos(angle + sweep), cy + radius * math.sin(angle + sweep)
            large = 1 if sweep > math.pi else 0
            parts.append(
                f"<path class='crmkit-series' d='M{cx:.1f},{cy:.1f} L{x1:.1f},{y1:.1f} A{radius:.1f},{radius:.1f} 0 {large} 1 {x2:.1f},{y2:.1f} Z' fill='{colour}'/>"
            )
        angle += sweep
        parts.append(
            f"<rect x='{width * 2 / 3}' y='{30 + i * 16}' width='10' height='10' fill='{colour}'/>"
            f"<text x='{width * 2 / 3 + 14}' y='{39 + i * 16}'>{escape(_label(row, x)[:18])}: {escape(formatting.text(row.get(column)))}</text>"
        )
    return "".join(parts)
