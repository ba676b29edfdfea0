"""Charts: the core's Vega-Lite spec (:mod:`crmkit.charts`, the one the HTML report draws too)
with a click-to-pick parameter, drawn to SVG by vl-convert in the kernel.

vl-convert needs neither a browser nor the network (Altair's own ``JupyterChart`` loads its
JavaScript from a CDN at run time, which an offline JupyterLab cannot reach). A click on a mark
comes back to Python with the mark's category, which is how a chart filters a table
(drill-down, :meth:`ChartView.on_pick`).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import anywidget
import traitlets

from crmkit import charts
from crmkit.formatting import Formatter, heading

from .. import formatting
from .base import error_html

KINDS = charts.KINDS
NOT_SET = charts.NOT_SET


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
    :class:`crmkit.Chart`). The Vega-Lite spec (:attr:`spec`) is :func:`crmkit.charts.spec` with
    its pick parameter, for ``labels`` and ``kinds`` (how columns read, as in a report section)
    and ``formatter`` (locale and currency; default en_US and USD). It is drawn to SVG by
    vl-convert in the kernel, so the chart shows without network or JavaScript libraries; a
    click on a mark calls the callbacks given to :meth:`on_pick` with the mark's category (its
    ``x`` value as text, None for "(not set)"); :meth:`pick` does the same from code. Set
    ``rows`` (or any trait) to redraw. CSS: ``crmkit-chart``; the drawing is an ``<svg>`` inside.
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
                 labels: Mapping[str, str] | None = None, kinds: Mapping[str, str | None] | None = None,
                 formatter: Formatter | None = None, width: int = charts.WIDTH, height: int = charts.HEIGHT,
                 **kwargs: Any):
        super().__init__(**kwargs)
        self.add_class("crmkit-chart")
        self.labels = dict(labels or {})
        self.kinds = dict(kinds or {})
        self.formatter = formatter or formatting.formatter(None)
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
        """A view of a :class:`crmkit.Chart`; ``rows`` default to the chart's own rows. A report
        section's chart reads as in the HTML report with ``crmkit_reports.charts.terms``' keywords."""
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
        from crmkit import Chart

        try:
            self.spec = charts.spec(Chart(self.kind, self.title, self.x, self.y), self.rows, formatter=self.formatter,
                                    labels=self.labels, kinds=self.kinds, pick=True, width=self.width, height=self.height)
        except ValueError as error:
            self.svg = error_html(str(error))
            return
        self.category_title = self.labels.get(self.x) or heading(self.x)
        self.svg = charts.to_svg(self.spec, self.formatter)

    def _message(self, _widget: Any, content: dict, _buffers: Any) -> None:
        if content.get("event") == "pick":
            category = content.get("category")
            self.pick(None if category == NOT_SET else category)


def draw(vega_lite: dict, formatter: Formatter | None = None) -> str:
    """A Vega-Lite spec drawn to SVG text, offline (:func:`crmkit.charts.to_svg`)."""
    return charts.to_svg(vega_lite, formatter)
