"""Report charts: each :class:`crmkit.Chart` as a Vega-Lite spec, drawn to inline SVG.

The specs are plain Vega-Lite dicts (``alt.Chart.from_dict(spec)`` opens one in Altair); they
are written without importing Altair, whose import takes seconds (its JSON-schema validator), so
a report stays quick. vl-convert draws a spec without a browser or network, so the HTML report
stays self-contained and script-free. It comes with the ``charts`` extra; without it the report
shows each chart's figures as a table and says what to install (see :func:`available`).

Every chart: axis titles with units, round ticks (d3-format), a legend where colour carries a
meaning, values printed on heat-map cells, a second axis for the Pareto line.
"""

from __future__ import annotations

import json
import re
import zlib
from decimal import Decimal
from functools import lru_cache
from html import escape
from typing import TYPE_CHECKING, Any

from babel import numbers as babel_numbers

from crmkit.formatting import MISSING

if TYPE_CHECKING:
    from crmkit import Chart, Section

    from .presentation import Presenter

KINDS = ("line", "bar", "hbar", "heatmap", "funnel", "pareto", "pie")
INSTALL_HINT = "Charts are shown as tables: install crmkit[charts] (vl-convert-python) to draw them."
SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
WIDTH, HEIGHT = 520, 240
SERIES = "series"
# Colours that stay apart for colour-blind readers (Okabe-Ito, less black).
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442"]


@lru_cache(maxsize=1)
def available() -> bool:
    """True when vl-convert is installed, so charts are drawn."""
    try:
        import vl_convert  # noqa: F401
    except ImportError:
        return False
    return True


def render(chart: "Chart", section: "Section", show: "Presenter") -> str:
    """The chart as an inline ``<figure>`` holding its SVG; raises ValueError for a chart it cannot draw."""
    spec = json.dumps(spec_of(chart, section, show), sort_keys=True)
    svg = _draw(spec, json.dumps(number_locale(show), sort_keys=True))
    # vl-convert numbers gradients with a counter per process: name them after the chart instead,
    # so the page is the same bytes every time and ids stay unique within it.
    prefix = f"c{zlib.crc32(spec.encode()):08x}"
    svg = re.sub(r"\bgradient_(\d+)\b", lambda m: f"{prefix}-gradient-{m.group(1)}", svg)
    svg = re.sub(r"^<svg ", f'<svg role="img" aria-label="{escape(chart.title)}" ', svg.strip(), count=1)
    return f'<figure class="chart chart-{escape(chart.kind)}" data-kind="{escape(chart.kind)}">{svg}</figure>'


@lru_cache(maxsize=256)
def _draw(spec: str, number_format: str) -> str:
    """The SVG of a spec (JSON text); the same spec is drawn once per process."""
    import vl_convert

    return vl_convert.vegalite_to_svg(json.loads(spec), format_locale=json.loads(number_format))


def spec_of(chart: "Chart", section: "Section", show: "Presenter") -> dict:
    """The Vega-Lite spec (a dict) of ``chart`` with the section's titles, units and locale."""
    if chart.kind not in KINDS:
        raise ValueError(f"unknown chart kind {chart.kind!r}; one of {', '.join(KINDS)}")
    rows = section.rows if chart.rows is None else chart.rows
    if not rows:
        raise ValueError("no rows to draw")
    columns = {key for row in rows for key in row}
    missing = [c for c in (chart.x, *chart.y) if c not in columns]
    if missing:
        raise ValueError(f"no column {', '.join(missing)} in the chart's rows")
    spec = {"$schema": SCHEMA, "title": chart.title, **_DRAW[chart.kind](chart, rows, _Axes(section, show))}
    spec["config"] = {
        "font": "DejaVu Sans", "background": "white",
        "range": {"category": PALETTE}, "axis": {"labelFontSize": 11, "titleFontSize": 12, "labelLimit": 180},
        "legend": {"orient": "bottom", "labelFontSize": 11, "titleFontSize": 11, "labelLimit": 260},
        "title": {"fontSize": 14, "anchor": "start"}, "view": {"stroke": None},
    }
    return spec


class _Axes:
    """Titles, units and tick formats of one section's columns."""

    def __init__(self, section: "Section", show: "Presenter"):
        self.section, self.show = section, show

    def kind(self, column: str, rows: list[dict]) -> str | None:
        sample = next((r.get(column) for r in rows if r.get(column) is not None), None)
        return self.show.kind(self.section, column, sample)

    def label(self, column: str) -> str:
        return self.show.label(self.section, column)

    def title(self, columns: tuple[str, ...], rows: list[dict]) -> str:
        """An axis title with its unit: "Net revenue (USD)", "Churn rate (%)"."""
        names = " / ".join(self.label(c) for c in columns) if len(columns) <= 2 else "Customers"
        unit = {"rate": "%", "money": self.show.formatter.currency, "amount": self.show.formatter.currency,
                "hours": "hours"}.get(self.kind(columns[0], rows))
        return f"{names} ({unit})" if unit else names

    def format(self, column: str, rows: list[dict]) -> dict:
        """Axis or legend number format: percentages, currency, or round SI ticks."""
        kind = self.kind(column, rows)
        if kind == "rate":
            return {"format": ".0%"}
        if kind in ("money", "amount"):
            return {"format": "$~s"}
        if kind == "score":
            return {"format": ".1f"}
        return {"format": "~s", "tickMinStep": 1}

    def category(self, value: Any, column: str, rows: list[dict]) -> str:
        """A category label as people read it; a missing one is "(not set)", never "None"."""
        if value is None or value == "":
            return "(not set)"
        return self.show.text(value, self.kind(column, rows))

    def number(self, value: Any, column: str) -> float | None:
        """A plotted value: money in major units, rates as fractions, minor units scaled."""
        if value is None or isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
            return None
        if self.section.kinds.get(column) == "money":
            return float(Decimal(value).scaleb(-self.show.formatter.exponent))
        return float(value)


def _long(chart: "Chart", rows: list[dict], axes: _Axes) -> list[dict]:
    """One record per (category, series) with the series' title; missing values left out."""
    out = []
    for index, row in enumerate(rows):
        for column in chart.y:
            value = axes.number(row.get(column), column)
            if value is not None:
                out.append({"x": axes.category(row.get(chart.x), chart.x, rows), "order": index,
                            SERIES: axes.label(column), "value": value})
    return out


def _order(rows: list[dict], chart: "Chart", axes: _Axes) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        seen.setdefault(axes.category(row.get(chart.x), chart.x, rows), None)
    return list(seen)


def _colour(chart: "Chart", axes: _Axes) -> dict:
    """A colour by series with a legend when there are several series, else one colour."""
    if len(chart.y) < 2:
        return {"color": {"value": PALETTE[0]}}
    return {"color": {"field": SERIES, "type": "nominal", "title": None, "sort": [axes.label(c) for c in chart.y]}}


def _x_axis(chart, rows, axes, angle: int = -40) -> dict:
    return {"field": "x", "type": "nominal", "sort": _order(rows, chart, axes), "title": axes.label(chart.x),
            "axis": {"labelAngle": angle}}


def _value_axis(chart, rows, axes) -> dict:
    return {"field": "value", "type": "quantitative", "title": axes.title(chart.y, rows),
            "axis": axes.format(chart.y[0], rows)}


def _line(chart, rows, axes):
    return {"data": {"values": _long(chart, rows, axes)}, "width": WIDTH, "height": HEIGHT,
            "mark": {"type": "line", "point": True},
            "encoding": {"x": _x_axis(chart, rows, axes), "y": _value_axis(chart, rows, axes), **_colour(chart, axes)}}


def _bar(chart, rows, axes):
    grouped = {"xOffset": {"field": SERIES, "type": "nominal", "sort": [axes.label(c) for c in chart.y]}} if len(chart.y) > 1 else {}
    return {"data": {"values": _long(chart, rows, axes)}, "width": WIDTH, "height": HEIGHT, "mark": "bar",
            "encoding": {"x": _x_axis(chart, rows, axes), "y": _value_axis(chart, rows, axes),
                         **_colour(chart, axes), **grouped}}


def _hbar(chart, rows, axes):
    grouped = {"yOffset": {"field": SERIES, "type": "nominal", "sort": [axes.label(c) for c in chart.y]}} if len(chart.y) > 1 else {}
    return {"data": {"values": _long(chart, rows, axes)}, "width": WIDTH - 140,
            "height": max(60, 22 * len(rows) * max(1, len(chart.y))), "mark": "bar",
            "encoding": {"y": {**_x_axis(chart, rows, axes), "axis": {}}, "x": _value_axis(chart, rows, axes),
                         **_colour(chart, axes), **grouped}}


def _funnel(chart, rows, axes):
    column = chart.y[0]
    first = next((axes.number(r.get(column), column) for r in rows), None)
    values = [
        {"x": axes.category(r.get(chart.x), chart.x, rows), "value": axes.number(r.get(column), column) or 0,
         "text": _share_text(axes, axes.number(r.get(column), column), first)}
        for r in rows
    ]
    encoding = {"y": {"field": "x", "type": "nominal", "sort": [v["x"] for v in values], "title": axes.label(chart.x)},
                "x": {"field": "value", "type": "quantitative", "title": axes.title(chart.y, rows),
                      "axis": axes.format(column, rows)}}
    return {"data": {"values": values}, "width": WIDTH - 140, "height": max(60, 30 * len(rows)), "encoding": encoding,
            "layer": [{"mark": {"type": "bar", "color": PALETTE[0]}},
                      {"mark": {"type": "text", "align": "left", "dx": 4}, "encoding": {"text": {"field": "text"}}}]}


def _share_text(axes: _Axes, value: float | None, first: float | None) -> str:
    formatter = axes.show.formatter
    if value is None:
        return MISSING
    share = f" ({formatter.rate(value / first)})" if first else ""
    return f"{formatter.number(value)}{share}"


def _heatmap(chart, rows, axes):
    values = [
        {"x": axes.label(column), "y": axes.category(row.get(chart.x), chart.x, rows),
         "value": axes.number(row.get(column), column),
         "text": axes.show.text(row.get(column), axes.kind(column, rows))}
        for row in rows for column in chart.y if row.get(column) is not None
    ]
    legend = axes.format(chart.y[0], rows)
    legend.pop("tickMinStep", None)
    title = axes.title(chart.y[:1], rows) if len(chart.y) == 1 else _unit_title(chart, rows, axes)
    return {
        "data": {"values": values}, "width": WIDTH, "height": max(80, 20 * len(rows)),
        "encoding": {
            "x": {"field": "x", "type": "nominal", "sort": [axes.label(c) for c in chart.y], "title": None,
                  "axis": {"orient": "top", "labelAngle": 0}},
            "y": {"field": "y", "type": "nominal", "sort": _order(rows, chart, axes), "title": axes.label(chart.x)},
        },
        "layer": [
            {"mark": "rect", "encoding": {"color": {"field": "value", "type": "quantitative", "title": title,
                                                    "scale": {"scheme": "blues"}, "legend": {"orient": "right", **legend}}}},
            {"mark": {"type": "text", "fontSize": 9}, "encoding": {
                "text": {"field": "text"},
                "color": {"condition": {"test": f"datum.value > {_middle(values)}", "value": "white"}, "value": "#1f2328"}}},
        ],
    }


def _unit_title(chart, rows, axes) -> str:
    kind = axes.kind(chart.y[0], rows)
    return "Share (%)" if kind == "rate" else "Value"


def _middle(values: list[dict]) -> float:
    numbers = [v["value"] for v in values if v["value"] is not None]
    return (min(numbers) + max(numbers)) / 2 if numbers else 0.0


def _pareto(chart, rows, axes):
    bars_column, line_column = chart.y[0], chart.y[-1]
    values = [
        {"x": axes.category(r.get(chart.x), chart.x, rows), "bar": axes.number(r.get(bars_column), bars_column),
         "line": axes.number(r.get(line_column), line_column)}
        for r in rows
    ]
    x = {"field": "x", "type": "nominal", "sort": [v["x"] for v in values], "title": axes.label(chart.x),
         "axis": {"labelAngle": -40}}
    bars = {"mark": {"type": "bar", "color": PALETTE[0]}, "encoding": {"x": x, "y": {
        "field": "bar", "type": "quantitative", "title": axes.title((bars_column,), rows),
        "axis": {"titleColor": PALETTE[0], **axes.format(bars_column, rows)}}}}
    line = {"mark": {"type": "line", "color": PALETTE[5], "point": {"color": PALETTE[5]}}, "encoding": {"x": x, "y": {
        "field": "line", "type": "quantitative", "title": axes.title((line_column,), rows), "scale": {"domain": [0, 1]},
        "axis": {"orient": "right", "titleColor": PALETTE[5], **axes.format(line_column, rows)}}}}
    return {"data": {"values": values}, "width": WIDTH, "height": HEIGHT, "layer": [bars, line],
            "resolve": {"scale": {"y": "independent"}}}


def _pie(chart, rows, axes):
    column = chart.y[0]
    values = [
        {"x": axes.category(r.get(chart.x), chart.x, rows), "value": axes.number(r.get(column), column)}
        for r in rows if axes.number(r.get(column), column)
    ]
    return {"data": {"values": values}, "width": HEIGHT, "height": HEIGHT, "mark": "arc", "encoding": {
        "theta": {"field": "value", "type": "quantitative", "title": axes.title(chart.y, rows)},
        "color": {"field": "x", "type": "nominal", "title": axes.label(chart.x), "sort": [v["x"] for v in values]}}}


_DRAW = {"line": _line, "bar": _bar, "hbar": _hbar, "heatmap": _heatmap, "funnel": _funnel,
         "pareto": _pareto, "pie": _pie}


def number_locale(show: "Presenter") -> dict:
    """d3-format's locale from babel's: separators and the currency symbol of the report."""
    locale, currency = show.formatter.locale, show.formatter.currency
    return {
        "decimal": babel_numbers.get_decimal_symbol(locale), "thousands": babel_numbers.get_group_symbol(locale),
        "grouping": [3], "currency": [babel_numbers.get_currency_symbol(currency, locale), ""],
    }
