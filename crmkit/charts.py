"""One Vega-Lite spec per :class:`crmkit.Chart`, for every front end that draws charts.

The HTML report draws the spec to inline SVG; the JupyterLab dashboard draws the same spec and
adds only its click-to-pick parameter (``spec(..., pick=True)``). Specs are plain dicts written
without importing Altair (``alt.Chart.from_dict(spec)`` opens one in Altair), so importing this
module costs nothing at start-up. :func:`to_svg` draws a spec with vl-convert (the ``charts``
extra), offline and without a browser; :func:`available` says whether it is installed.

Every chart: axis titles with units, round ticks (d3-format), a legend where colour carries a
meaning, values printed on heat-map cells and bars, a second axis for the Pareto line, numbers in
the formatter's locale with the CRM's currency, category labels as words ("at_risk" reads
"At risk", "2024-11" reads "Nov 2024") and "(not set)" for a missing category, never "None".

Each data record keeps the category's raw value as ``key`` (what a pick hands back) next to its
label as ``category``; ``series`` names the plotted column and ``value`` holds the number.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from .formatting import MISSING, Formatter, heading

if TYPE_CHECKING:
    from .sections import Chart

KINDS = ("line", "bar", "hbar", "heatmap", "funnel", "pareto", "pie")
SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
WIDTH, HEIGHT = 520, 240
NOT_SET = "(not set)"
PICK = "pick"
INSTALL_HINT = "Charts are shown as tables: install crmkit[charts] (vl-convert-python) to draw them."
#: Colours that stay apart for colour-blind readers (Okabe-Ito, less black).
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442"]
CONFIG = {
    "font": "DejaVu Sans", "background": "white",
    "range": {"category": PALETTE}, "axis": {"labelFontSize": 11, "titleFontSize": 12, "labelLimit": 180},
    "legend": {"orient": "bottom", "labelFontSize": 11, "titleFontSize": 11, "labelLimit": 260},
    "title": {"fontSize": 14, "anchor": "start"}, "view": {"stroke": None},
}
_UNITS_OTHER = {"rate": "%", "hours": "hours"}
_KEY = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
_ISO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?")
_ISO_DATE = re.compile(r"^\d{4}-\d\d-\d\d$")
_ISO_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


@lru_cache(maxsize=1)
def available() -> bool:
    """True when vl-convert is installed, so charts can be drawn."""
    try:
        import vl_convert  # noqa: F401
    except ImportError:
        return False
    return True


def spec(chart: "Chart", rows: Sequence[dict] | None = None, *, formatter: Formatter | None = None,
         labels: Mapping[str, str] | None = None, kinds: Mapping[str, str | None] | None = None,
         pick: bool = False, width: int = WIDTH, height: int = HEIGHT) -> dict:
    """The Vega-Lite spec (a dict) of ``chart`` over ``rows`` (default: the chart's own rows).

    ``labels`` titles columns (missing ones are derived from the name, ``net_revenue`` → "Net
    revenue"); ``kinds`` says how a column reads (``money`` in minor units, ``amount``, ``rate``,
    ``score``, ``hours``, ``month``, ``date``, ``code``...; missing ones are inferred from ISO
    text). ``formatter`` gives the locale and currency (default en_US, USD). ``pick`` adds the
    point selection named ``pick`` on the category and a ``description`` per mark ("Month:
    2024-11; Revenue: 250.5") by which a click finds its category. A bad chart raises ValueError.
    """
    if chart.kind not in KINDS:
        raise ValueError(f"unknown chart kind {chart.kind!r}; chart kind must be one of {', '.join(KINDS)}")
    rows = list(chart.rows if rows is None else rows)
    if not chart.y:
        raise ValueError("a chart needs at least one y column")
    if not rows:
        raise ValueError("no rows to draw")
    columns = {key for row in rows for key in row}
    missing = [c for c in (chart.x, *chart.y) if c not in columns]
    if missing:
        raise ValueError(f"no column {', '.join(missing)} in the chart's rows")
    terms = _Terms(formatter or Formatter(), labels or {}, kinds or {}, rows)
    body, main = _DRAW[chart.kind](chart, rows, terms, width, height)
    out = {"$schema": SCHEMA, **({"title": chart.title} if chart.title else {}), **body, "config": CONFIG}
    if pick:
        _add_pick(out, main, terms.label(chart.x))
    return out


def without_pick(vega_lite: dict) -> dict:
    """``vega_lite`` less what ``pick=True`` added: the spec every front end shares."""
    out = json.loads(json.dumps(vega_lite))
    for unit in [out, *out.get("layer", [])]:
        unit.pop("params", None)
        unit.get("encoding", {}).pop("description", None)
        if unit.get("encoding") == {}:
            del unit["encoding"]
        transforms = [t for t in unit.get("transform", []) if t.get("as") != "description"]
        if transforms:
            unit["transform"] = transforms
        else:
            unit.pop("transform", None)
    return out


def number_locale(formatter: Formatter) -> dict:
    """d3-format's locale from babel's: the locale's separators and the currency's symbol."""
    from babel import numbers as babel_numbers

    locale = formatter.locale
    return {
        "decimal": babel_numbers.get_decimal_symbol(locale), "thousands": babel_numbers.get_group_symbol(locale),
        "grouping": [3], "currency": [babel_numbers.get_currency_symbol(formatter.currency, locale), ""],
    }


def to_svg(vega_lite: dict, formatter: Formatter | None = None) -> str:
    """The spec drawn to SVG text by vl-convert, offline, numbers in ``formatter``'s locale;
    the same spec is drawn once per process. Needs the ``charts`` extra (ImportError without)."""
    text = json.dumps(vega_lite, sort_keys=True, default=str)
    return _draw(text, json.dumps(number_locale(formatter or Formatter()), sort_keys=True))


@lru_cache(maxsize=256)
def _draw(vega_lite: str, number_format: str) -> str:
    import vl_convert

    return vl_convert.vegalite_to_svg(json.loads(vega_lite), format_locale=json.loads(number_format))


# -- how columns read -----------------------------------------------------------------------


class _Terms:
    """Titles, kinds, units, formats and labels of one chart's columns."""

    def __init__(self, formatter: Formatter, labels: Mapping[str, str], kinds: Mapping[str, str | None],
                 rows: list[dict]):
        self.formatter, self.labels, self.kinds, self.rows = formatter, labels, kinds, rows

    def label(self, column: str) -> str:
        return self.labels.get(column) or heading(column)

    def kind(self, column: str) -> str | None:
        if column in self.kinds:
            return self.kinds[column]
        sample = next((r.get(column) for r in self.rows if r.get(column) is not None), None)
        if isinstance(sample, datetime):
            return "datetime"
        if isinstance(sample, date):
            return "date"
        if isinstance(sample, str):
            for pattern, kind in ((_ISO_TIME, "datetime"), (_ISO_DATE, "date"), (_ISO_MONTH, "month")):
                if pattern.match(sample):
                    return kind
        return None

    def title(self, columns: Sequence[str]) -> str:
        """A value axis title with its unit: "Net revenue (USD)", "Churn rate (%)"."""
        names = [self.label(c) for c in columns]
        last = {name.split()[-1].lower() for name in names if name.split()}
        if len(names) > 2 and len(last) == 1:  # New / Active / Buying customers: "Customers"
            names = [last.pop().capitalize()]
        names = ", ".join(names) if len(names) <= 2 else "Value"
        kind = self.kind(columns[0])
        unit = self.formatter.currency if kind in ("money", "amount") else _UNITS_OTHER.get(kind)
        return f"{names} ({unit})" if unit else names

    def number(self, value: Any, column: str) -> float | None:
        """A plotted value: money in major units, rates as fractions; None when not a number."""
        if isinstance(value, str) and _NUMBER.match(value) and self.kind(column) in ("money", "amount"):
            value = Decimal(value)
        if value is None or isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
            return None
        if self.kind(column) == "money":
            return float(Decimal(value).scaleb(-self.formatter.exponent))
        return float(value)

    def axis(self, columns: Sequence[str], values: Sequence[float | None]) -> dict:
        """A value axis' number format and ticks: percentages, currency, or round figures
        (1.5M, 500k over ten thousand; separators below; never milli)."""
        kind = self.kind(columns[0])
        present = [v for v in values if v is not None]
        big = max((abs(v) for v in present), default=0.0) >= 10_000
        if kind == "rate":
            return {"format": ".0%", "tickCount": 5}
        if kind in ("money", "amount"):
            return {"format": "$~s" if big else "$,~f", "tickCount": 5}
        if kind == "score":
            return {"format": ".1f", "tickCount": 5}
        if present and all(float(v).is_integer() for v in present):
            low, high = int(min(0.0, *present)), int(max(0.0, *present))
            if high - low <= 10:  # a few: every whole number, never 0.5 (Vega drops tickMinStep in layers)
                return {"format": ",~f", "values": list(range(low, high + 1))}
            # About five ticks, as elsewhere: Vega's own count follows the axis' length and crowded
            # a short axis (130 and 140 overlapped on the Reports tab at 1,400 px).
            return {"format": "~s" if big else ",~f", "tickCount": 5, "tickMinStep": 1}
        return {"format": "~s" if big else ",~f", "tickCount": 5}

    def text(self, value: Any, kind: str | None) -> str:
        """A value as people read it (the label on a bar or a heat-map cell)."""
        formatter = self.formatter
        if value is None or value == "":
            return MISSING
        if isinstance(value, str) and _NUMBER.match(value) and kind in ("money", "amount"):
            value = Decimal(value)
        numeric = isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)
        if kind == "score" and numeric:
            return formatter.number(value, places=2)
        if kind == "hours" and numeric:
            return formatter.duration(timedelta(hours=float(value)))
        if kind in ("money", "amount", "rate", "number") and numeric:
            return formatter.value(value, kind)
        if kind in ("date", "month", "datetime") and isinstance(value, (date, datetime, str)):
            return formatter.value(value, kind)
        if kind == "id":
            return formatter.ident(value)
        if isinstance(value, float) and not value.is_integer():
            return formatter.number(value, places=2 if abs(value) < 100 else 0)
        return formatter.value(value)

    def category(self, value: Any, column: str) -> str:
        """A category label as people read it; a missing one is "(not set)", never "None"."""
        if value is None or value == "":
            return NOT_SET
        kind = self.kind(column)
        if isinstance(value, str) and (kind == "code" or (kind is None and _KEY.match(value))):
            return ", ".join(heading(part) for part in value.split(", "))
        return self.text(value, kind)


def _key(value: Any) -> Any:
    """A category's raw value as JSON holds it (what a pick hands back)."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


# -- the kinds --------------------------------------------------------------------------------


def _long(chart: "Chart", rows: list[dict], terms: _Terms, text: bool = False) -> list[dict]:
    """One record per (category, plotted column); missing values left out. ``text``: with the
    value as people read it, for a label on the mark."""
    out = []
    for row in rows:
        for column in chart.y:
            value = terms.number(row.get(column), column)
            if value is not None:
                out.append({"key": _key(row.get(chart.x)), "category": terms.category(row.get(chart.x), chart.x),
                            "series": terms.label(column), "value": value,
                            **({"text": terms.text(row.get(column), terms.kind(column))} if text else {})})
    return out


def _order(chart: "Chart", rows: list[dict], terms: _Terms) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        seen.setdefault(terms.category(row.get(chart.x), chart.x), None)
    return list(seen)


def _colour(chart: "Chart", terms: _Terms) -> dict:
    """A colour per series with its legend when there are several, else one colour and no legend."""
    if len(chart.y) < 2:
        return {"color": {"value": PALETTE[0]}}
    return {"color": {"field": "series", "type": "nominal", "title": None, "sort": [terms.label(c) for c in chart.y]}}


def _category_axis(chart: "Chart", rows: list[dict], terms: _Terms, angle: int = -40) -> dict:
    return {"field": "category", "type": "nominal", "sort": _order(chart, rows, terms), "title": terms.label(chart.x),
            "axis": {"labelAngle": angle, "labelOverlap": True}}


def _value_axis(chart: "Chart", data: list[dict], terms: _Terms) -> dict:
    return {"field": "value", "type": "quantitative", "title": terms.title(chart.y),
            "axis": terms.axis(chart.y, [d["value"] for d in data])}


def _line(chart, rows, terms, width, height):
    data = _long(chart, rows, terms)
    return {"data": {"values": data}, "width": width, "height": height, "mark": {"type": "line", "point": True},
            "encoding": {"x": _category_axis(chart, rows, terms), "y": _value_axis(chart, data, terms),
                         **_colour(chart, terms)}}, None


def _bar(chart, rows, terms, width, height):
    data = _long(chart, rows, terms)
    grouped = ({"xOffset": {"field": "series", "type": "nominal", "sort": [terms.label(c) for c in chart.y]}}
               if len(chart.y) > 1 else {})
    return {"data": {"values": data}, "width": width, "height": height, "mark": "bar",
            "encoding": {"x": _category_axis(chart, rows, terms), "y": _value_axis(chart, data, terms),
                         **_colour(chart, terms), **grouped}}, None


def _hbar(chart, rows, terms, width, height):
    data = _long(chart, rows, terms, text=True)
    category = {**_category_axis(chart, rows, terms), "axis": {"labelLimit": 180}}
    encoding = {"y": category, "x": _value_axis(chart, data, terms)}
    if len(chart.y) > 1:
        encoding["yOffset"] = {"field": "series", "type": "nominal", "sort": [terms.label(c) for c in chart.y]}
    bars = {"mark": "bar", "encoding": _colour(chart, terms)}
    labels = {"mark": {"type": "text", "align": "left", "dx": 3, "fontSize": 10, "aria": False},
              "encoding": {"text": {"field": "text"}}}
    return {"data": {"values": data}, "width": width - 140, "height": max(60, 22 * len(rows) * len(chart.y)),
            "encoding": encoding, "layer": [bars, labels]}, 0


def _funnel(chart, rows, terms, width, height):
    column = chart.y[0]
    numbers = [terms.number(r.get(column), column) for r in rows]
    first = next((n for n in numbers if n), None)
    data = [{"key": _key(r.get(chart.x)), "category": terms.category(r.get(chart.x), chart.x),
             "series": terms.label(column), "value": n or 0.0, "text": _share_text(terms, n, first)}
            for r, n in zip(rows, numbers)]
    encoding = {"y": {"field": "category", "type": "nominal", "sort": [d["category"] for d in data],
                      "title": terms.label(chart.x)},
                "x": {"field": "value", "type": "quantitative", "title": terms.title(chart.y),
                      "axis": terms.axis(chart.y, numbers)}}
    return {"data": {"values": data}, "width": width - 140, "height": max(60, 30 * len(rows)), "encoding": encoding,
            "layer": [{"mark": {"type": "bar", "color": PALETTE[0]}},
                      {"mark": {"type": "text", "align": "left", "dx": 4, "aria": False},
                       "encoding": {"text": {"field": "text"}}}]}, 0


def _share_text(terms: _Terms, value: float | None, first: float | None) -> str:
    if value is None:
        return MISSING
    share = f" ({terms.formatter.rate(value / first)})" if first else ""
    return f"{terms.formatter.number(value)}{share}"


def _heatmap(chart, rows, terms, width, height):
    data = [
        {"key": _key(row.get(chart.x)), "category": terms.category(row.get(chart.x), chart.x),
         "series": terms.label(column), "value": terms.number(row.get(column), column),
         "text": terms.text(row.get(column), terms.kind(column))}
        for row in rows for column in chart.y if terms.number(row.get(column), column) is not None
    ]
    legend = terms.axis(chart.y, [d["value"] for d in data])
    legend = {"format": legend["format"]}
    if len(chart.y) == 1:
        title = terms.title(chart.y)
    else:
        title = "Share (%)" if terms.kind(chart.y[0]) == "rate" else "Value"
    present = [d["value"] for d in data]
    middle = (min(present) + max(present)) / 2 if present else 0.0
    return {
        "data": {"values": data}, "width": width, "height": max(80, 22 * len(rows)),
        "encoding": {
            "x": {"field": "series", "type": "nominal", "sort": [terms.label(c) for c in chart.y], "title": None,
                  "axis": {"orient": "top", "labelAngle": 0 if len(chart.y) <= 6 else -40}},
            "y": {"field": "category", "type": "nominal", "sort": _order(chart, rows, terms), "title": terms.label(chart.x)},
        },
        "layer": [
            {"mark": "rect", "encoding": {"color": {"field": "value", "type": "quantitative", "title": title,
                                                    "scale": {"scheme": "blues"}, "legend": {"orient": "right", **legend}}}},
            {"mark": {"type": "text", "fontSize": 10, "aria": False}, "encoding": {
                "text": {"field": "text"},
                "color": {"condition": {"test": f"datum.value > {middle!r}", "value": "white"}, "value": "#1f2328"}}},
        ],
    }, 0


def _pareto(chart, rows, terms, width, height):
    """Bars of ``y[0]`` with the line of the cumulative share on its own right axis: the share is
    ``y[-1]`` when given, else computed over the bars sorted largest first."""
    bars_column = chart.y[0]
    data = [{"key": _key(r.get(chart.x)), "category": terms.category(r.get(chart.x), chart.x),
             "series": terms.label(bars_column), "value": terms.number(r.get(bars_column), bars_column)}
            for r in rows]
    if len(chart.y) > 1:
        line_column = chart.y[-1]
        for record, row in zip(data, rows):
            record["cumulative_share"] = terms.number(row.get(line_column), line_column)
        line_title = terms.title((line_column,))
        line_format = terms.axis((line_column,), [d["cumulative_share"] for d in data])
    else:
        data.sort(key=lambda d: d["value"] or 0.0, reverse=True)
        total = sum(d["value"] or 0.0 for d in data) or 1.0
        running = 0.0
        for record in data:
            running += record["value"] or 0.0
            record["cumulative_share"] = running / total
        line_title, line_format = "Cumulative share (%)", {"format": ".0%", "tickCount": 5}
    x = {"field": "category", "type": "nominal", "sort": [d["category"] for d in data], "title": terms.label(chart.x),
         "axis": {"labelAngle": -40, "labelOverlap": True}}
    bars = {"mark": {"type": "bar", "color": PALETTE[0]}, "encoding": {"x": x, "y": {
        "field": "value", "type": "quantitative", "title": terms.title((bars_column,)),
        "axis": {"titleColor": PALETTE[0], **terms.axis((bars_column,), [d["value"] for d in data])}}}}
    line = {"mark": {"type": "line", "color": PALETTE[5], "point": {"color": PALETTE[5]}}, "encoding": {"x": x, "y": {
        "field": "cumulative_share", "type": "quantitative", "title": line_title, "scale": {"domain": [0, 1]},
        "axis": {"orient": "right", "titleColor": PALETTE[5], **line_format}}}}
    return {"data": {"values": data}, "width": width, "height": height, "layer": [bars, line],
            "resolve": {"scale": {"y": "independent"}}}, 0


def _pie(chart, rows, terms, width, height):
    column = chart.y[0]
    data = [{"key": _key(r.get(chart.x)), "category": terms.category(r.get(chart.x), chart.x),
             "series": terms.label(column), "value": terms.number(r.get(column), column)}
            for r in rows if terms.number(r.get(column), column)]
    return {"data": {"values": data}, "width": height, "height": height, "mark": "arc", "encoding": {
        "theta": {"field": "value", "type": "quantitative", "title": terms.title(chart.y)},
        "color": {"field": "category", "type": "nominal", "title": terms.label(chart.x),
                  "sort": [d["category"] for d in data]}}}, None


_DRAW: dict[str, Callable] = {"line": _line, "bar": _bar, "hbar": _hbar, "heatmap": _heatmap, "funnel": _funnel,
                              "pareto": _pareto, "pie": _pie}


def _add_pick(out: dict, main: int | None, category_title: str) -> None:
    """The point selection ``pick`` on the category key and each mark's description
    ("Month: 2024-11; Revenue: 250.5": the category title, the raw key, the value), on the chart's
    main marks (the bars of a Pareto, the cells of a heat map)."""
    unit = out if main is None else out["layer"][main]
    unit["params"] = [{"name": PICK, "select": {"type": "point", "fields": ["key"], "on": "click", "clear": "dblclick"}}]
    expression = (f"{json.dumps(category_title + ': ')} + (isValid(datum.key) ? datum.key : {json.dumps(NOT_SET)})"
                  " + '; ' + datum.series + ': ' + format(datum.value, ',')")
    unit["transform"] = [*unit.get("transform", []), {"calculate": expression, "as": "description"}]
    unit.setdefault("encoding", {})["description"] = {"field": "description", "type": "nominal"}
