"""Charts as Vega-Lite (built with Altair), drawn to SVG by vl-convert in the kernel.

Vega-Lite draws axes with titles and round ticks, legends where colour means something and the
values on heat maps. vl-convert needs neither a browser nor the network (Altair's own
``JupyterChart`` loads its JavaScript from a CDN at run time, which an offline JupyterLab cannot
reach). A click on a mark comes back to Python with the mark's category, which is how a chart
filters a table (drill-down, :meth:`ChartView.on_pick`).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Callable, Sequence

import altair as alt
import anywidget
import traitlets

from .. import formatting
from .base import error_html

KINDS = ("line", "bar", "hbar", "heatmap", "funnel", "pareto", "pie")
#: Category labels read as words: an RFM segment "at_risk" is shown "at risk" (the data keeps the key).
WORDS = "replace(datum.label, /_/g, ' ')"
PICK = "pick"
SERIES, VALUE, SHARE, DESCRIPTION = "series", "value", "cumulative_share", "description"
DESCRIBED = alt.Description(f"{DESCRIPTION}:N")
NOT_SET = "not set"


def _json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def _number(value: Any) -> float:
    try:
        return float(value) if value is not None and not isinstance(value, bool) else 0.0
    except (TypeError, ValueError):
        return 0.0


def _axis_format(values: Sequence[Any]) -> str:
    """d3-format of a value axis: 1.5M / 500k over a thousand, plain below, never milli."""
    biggest = max((abs(_number(v)) for v in values), default=0.0)
    return "~s" if biggest >= 10_000 else ",~f"


def spec(kind: str, rows: Sequence[dict], x: str, y: Sequence[str], *, title: str = "",
         labels: dict[str, str] | None = None, width: int = 460, height: int = 220) -> alt.TopLevelMixin:
    """The Altair chart of ``rows``: ``x`` the categories, ``y`` the plotted columns.

    Categories keep the rows' order; a missing category reads "not set". Every chart carries a
    point selection named ``pick`` on its category, so a click can filter a table.
    """
    if kind not in KINDS:
        raise ValueError(f"chart kind must be one of {', '.join(KINDS)}, not {kind!r}")
    y = tuple(y)
    if not y:
        raise ValueError("a chart needs at least one y column")
    labels = labels or {}
    name = {c: labels.get(c) or formatting.label(c) for c in (x, *y)}
    data = [{x: NOT_SET if row.get(x) is None else _json(row.get(x)), **{c: _json(row.get(c)) for c in y}} for row in rows]
    pick = alt.selection_point(name=PICK, fields=[x], on="click", clear="dblclick")
    base = alt.Chart(alt.Data(values=data), title=title or alt.Undefined)
    category = alt.X(f"{x}:N", title=name[x], sort=None,
                     axis=alt.Axis(labelAngle=-30, labelOverlap=True, labelLimit=90, labelExpr=WORDS))
    highlight = alt.condition(pick, alt.value(1.0), alt.value(0.45))
    if kind in ("hbar", "funnel"):
        chart = _hbar(base, data, x, y[0], name, pick, highlight)
    elif kind == "heatmap":
        chart = _heatmap(base, data, x, y, name, pick)
    elif kind == "pareto":
        chart = _pareto(data, x, y[0], name, pick, highlight, title)
    elif kind == "pie":
        chart = _described(base, x, y[0], name).mark_arc().encode(
            theta=alt.Theta(f"{y[0]}:Q", title=name[y[0]]),
            color=alt.Color(f"{x}:N", title=name[x], sort=None), opacity=highlight, description=DESCRIBED,
        ).add_params(pick)
    else:
        chart = _series(base, data, kind, category, x, y, name, pick, highlight)
    return chart.properties(width=width, height=height).configure_view(stroke=None)


def _described(chart, x, column, name):
    """``chart`` with a ``description`` per row: "Month: 2024-11; Revenue: 250.5", the accessible
    label of each mark, by which a click in the browser finds its category."""
    if column is None:  # folded rows: the series names itself
        value = f"datum.{SERIES} + ': ' + format(datum.{VALUE}, ',')"
    else:
        value = f"{_js(name[column] + ': ')} + format(datum[{_js(column)}], ',')"
    return chart.transform_calculate(**{DESCRIPTION: f"{_js(name[x] + ': ')} + datum[{_js(x)}] + '; ' + {value}"})


def _series(base, data, kind, category, x, y, name, pick, highlight):
    fmt = _axis_format([row[c] for row in data for c in y])
    value_axis = alt.Axis(format=fmt, tickCount=5)
    if len(y) == 1:
        value = alt.Y(f"{y[0]}:Q", title=name[y[0]], axis=value_axis)
        described = _described(base, x, y[0], name)
        mark = described.mark_line(point=True) if kind == "line" else described.mark_bar()
        return mark.encode(x=category, y=value, description=DESCRIBED, opacity=highlight).add_params(pick)
    folded = _described(_fold(base, y, name), x, None, name)
    value = alt.Y(f"{VALUE}:Q", title=", ".join(name[c] for c in y), axis=value_axis)
    colour = alt.Color(f"{SERIES}:N", title=None, sort=[name[c] for c in y], legend=alt.Legend(orient="top"))
    if kind == "line":
        return folded.mark_line(point=True).encode(x=category, y=value, color=colour, description=DESCRIBED).add_params(pick)
    return folded.mark_bar().encode(
        x=category, y=value, color=colour, xOffset=alt.XOffset(f"{SERIES}:N", sort=[name[c] for c in y]),
        description=DESCRIBED, opacity=highlight,
    ).add_params(pick)


def _fold(base, y, name):
    """Rows to one row per (category, column), the column named by its label."""
    names = "{" + ", ".join(f"{_js(c)}: {_js(name[c])}" for c in y) + "}"
    return base.transform_fold(list(y), as_=[SERIES, VALUE]).transform_calculate(**{SERIES: f"{names}[datum.{SERIES}]"})


def _hbar(base, data, x, column, name, pick, highlight):
    fmt = _axis_format([row[column] for row in data])
    category = alt.Y(f"{x}:N", title=name[x], sort=None, axis=alt.Axis(labelLimit=120, labelExpr=WORDS))
    value = alt.X(f"{column}:Q", title=name[column], axis=alt.Axis(format=fmt, tickCount=5))
    bars = _described(base, x, column, name).mark_bar().encode(
        y=category, x=value, opacity=highlight, description=DESCRIBED,
    ).add_params(pick)
    text = base.mark_text(align="left", dx=3).encode(y=category, x=value, text=alt.Text(f"{column}:Q", format=","))
    return alt.layer(bars, text)


def _heatmap(base, data, x, y, name, pick):
    folded = _fold(base, y, name)
    rows_axis = alt.Y(f"{x}:N", title=name[x], sort=None, axis=alt.Axis(labelExpr=WORDS))
    # many columns (a year of cohort months) are tilted so their titles do not run into each other
    columns_axis = alt.X(f"{SERIES}:N", title=None, sort=[name[c] for c in y], axis=alt.Axis(labelAngle=0 if len(y) <= 6 else -40))
    present = [_number(row[c]) for row in data for c in y if row.get(c) is not None]
    # shares (cohort retention) read as percentages; counts keep separators
    fmt = ".0%" if present and all(0 <= v <= 1 for v in present) and any(v != int(v) for v in present) else ",~f"
    cells = _described(folded, x, None, name).mark_rect().encode(
        x=columns_axis, y=rows_axis, description=DESCRIBED,
        color=alt.Color(f"{VALUE}:Q", title="Share" if fmt == ".0%" else "Value", scale=alt.Scale(scheme="blues"),
                        legend=alt.Legend(format=fmt)),
    ).add_params(pick)
    top = max(present, default=0.0)
    values = folded.transform_filter(f"isValid(datum.{VALUE})").mark_text(fontSize=11).encode(
        x=columns_axis, y=rows_axis, text=alt.Text(f"{VALUE}:Q", format=fmt),
        color=alt.condition(f"datum.{VALUE} > {top / 2!r}", alt.value("white"), alt.value("#222")),
    )
    return alt.layer(cells, values)


def _pareto(data, x, column, name, pick, highlight, title):
    ordered = sorted(data, key=lambda row: _number(row[column]), reverse=True)
    total = sum(_number(row[column]) for row in ordered) or 1.0
    running = 0.0
    for row in ordered:
        running += _number(row[column])
        row[SHARE] = running / total
    base = alt.Chart(alt.Data(values=ordered), title=title or alt.Undefined)
    category = alt.X(f"{x}:N", title=name[x], sort=None,
                     axis=alt.Axis(labelAngle=-30, labelOverlap=True, labelLimit=90, labelExpr=WORDS))
    bars = _described(base, x, column, name).mark_bar().encode(
        x=category, y=alt.Y(f"{column}:Q", title=name[column], axis=alt.Axis(format=_axis_format([r[column] for r in ordered]), tickCount=5)),
        opacity=highlight, description=DESCRIBED,
    ).add_params(pick)
    line = base.mark_line(point=alt.OverlayMarkDef(color="#f28e2b"), color="#f28e2b").encode(
        x=category, y=alt.Y(f"{SHARE}:Q", title="Cumulative share", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format=".0%", orient="right")),
    )
    return alt.layer(bars, line).resolve_scale(y="independent")


def _js(text: str) -> str:
    import json

    return json.dumps(text)


_ESM = r"""
function render({ model, el }) {
  el.classList.add("crmkit-chart-drawing");
  const draw = () => {
    el.innerHTML = model.get("svg");
    const prefix = model.get("category_title") + ": ";
    el.querySelectorAll("[role=graphics-symbol][aria-label]").forEach((mark) => {
      const part = mark.getAttribute("aria-label").split("; ").find((p) => p.startsWith(prefix));
      if (part === undefined) return;
      mark.style.cursor = "pointer";
      mark.addEventListener("click", () => model.send({ event: "pick", category: part.slice(prefix.length) }));
    });
  };
  model.on("change:svg", draw);
  draw();
}
export default { render };
"""

_CSS = """
.crmkit-chart-drawing svg { max-width: 100%; height: auto; }
.crmkit-chart-drawing .crmkit-chart-empty { color: #555; }
"""


class ChartView(anywidget.AnyWidget):
    """A chart of ``rows`` (dicts): ``x`` names the category column, ``y`` the plotted columns.

    ``kind`` is one of line, bar, hbar, heatmap, funnel, pareto, pie (the kinds of
    :class:`crmkit.Chart`). The Vega-Lite spec (:attr:`spec`, built with Altair) is drawn to SVG
    by vl-convert in the kernel, so the chart shows without network or JavaScript libraries; a
    click on a mark calls the callbacks given to :meth:`on_pick` with the mark's category (its
    ``x`` value as text); :meth:`pick` does the same from code. Set ``rows`` (or any trait) to
    redraw. CSS: ``crmkit-chart``; the drawing is an ``<svg>`` inside.
    """

    _esm = _ESM
    _css = _CSS
    kind = traitlets.Unicode("bar", help="Chart kind.")
    rows = traitlets.List(help="The data: one dict per category or point.")
    x = traitlets.Unicode(help="Column of the categories or x values.")
    y = traitlets.Tuple(help="Columns plotted, one series each.")
    title = traitlets.Unicode("", help="Title drawn above the chart.")
    svg = traitlets.Unicode("", help="The drawing (SVG), or a message when there is nothing to draw.").tag(sync=True)
    category_title = traitlets.Unicode("", help="The category axis title, by which a click finds its category.").tag(sync=True)

    def __init__(self, kind: str, rows: Sequence[dict], x: str, y: Sequence[str] | str, *, title: str = "",
                 labels: dict[str, str] | None = None, width: int = 460, height: int = 220, **kwargs: Any):
        super().__init__(**kwargs)
        self.add_class("crmkit-chart")
        self.labels = dict(labels or {})
        self.width, self.height = width, height
        self.spec: dict | None = None
        self.picked: Any = None
        self._on_pick: list[Callable[[Any], Any]] = []
        with self.hold_trait_notifications():
            self.kind, self.rows, self.x = kind, list(rows), x
            self.y = (y,) if isinstance(y, str) else tuple(y)
            self.title = title
        self.observe(self._redraw, ["kind", "rows", "x", "y", "title"])
        self.on_msg(self._message)
        self._redraw()

    @classmethod
    def from_spec(cls, chart: Any, rows: Sequence[dict] | None = None, **kwargs: Any) -> "ChartView":
        """A view of a :class:`crmkit.Chart` spec; ``rows`` default to the spec's own rows."""
        return cls(chart.kind, chart.rows if chart.rows is not None else (rows or []), chart.x, chart.y, title=chart.title, **kwargs)

    def on_pick(self, callback: Callable[[Any], Any], remove: bool = False) -> None:
        """Call ``callback(category)`` when a mark is clicked."""
        if remove:
            if callback in self._on_pick:
                self._on_pick.remove(callback)
        else:
            self._on_pick.append(callback)

    def pick(self, category: Any) -> None:
        """Pick the marks of ``category`` as a click in the browser does (None: no pick)."""
        self.picked = category
        for callback in list(self._on_pick):
            callback(category)

    def close(self) -> None:
        """Close the widget and forget its callbacks."""
        self._on_pick.clear()
        super().close()

    def _redraw(self, change: Any = None) -> None:
        self.spec = None
        if not self.rows:
            self.svg = "<div class='crmkit-chart-empty'>No data to chart yet.</div>"
            return
        try:
            chart = spec(self.kind, self.rows, self.x, self.y, title=self.title, labels=self.labels,
                         width=self.width, height=self.height)
        except ValueError as error:
            self.svg = error_html(str(error))
            return
        self.spec = chart.to_dict()
        self.category_title = self.labels.get(self.x) or formatting.label(self.x)
        self.svg = draw(self.spec)

    def _message(self, _widget: Any, content: dict, _buffers: Any) -> None:
        if content.get("event") == "pick":
            category = content.get("category")
            self.pick(None if category == NOT_SET else category)


def draw(vega_lite: dict) -> str:
    """A Vega-Lite spec drawn to SVG text, offline."""
    import vl_convert

    return vl_convert.vegalite_to_svg(vega_lite)
