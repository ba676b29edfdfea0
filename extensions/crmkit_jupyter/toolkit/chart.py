"""A chart widget: an SVG chart in an HTML widget, redrawn when its data changes."""

from __future__ import annotations

from typing import Any, Sequence

import ipywidgets as widgets
import traitlets

from . import svg
from .base import error_html


class ChartView(widgets.HTML):
    """A chart of ``rows`` (dicts): ``x`` names the category column, ``y`` the plotted columns.

    ``kind`` is one of line, bar, hbar, heatmap, funnel, pareto, pie (the kinds of
    :class:`crmkit.Chart`). Set ``rows`` (or any trait) to redraw. CSS: ``crmkit-chart``; the
    drawing is an ``<svg class="crmkit-chart-svg">`` whose marks have class ``crmkit-series``.
    """

    kind = traitlets.Unicode("bar", help="Chart kind.")
    rows = traitlets.List(help="The data: one dict per category or point.")
    x = traitlets.Unicode(help="Column of the categories or x values.")
    y = traitlets.Tuple(help="Columns plotted, one series each.")
    title = traitlets.Unicode("", help="Title drawn above the chart.")

    def __init__(self, kind: str, rows: Sequence[dict], x: str, y: Sequence[str] | str, *, title: str = "",
                 width: int = 480, height: int = 260, **kwargs: Any):
        super().__init__(**kwargs)
        self.add_class("crmkit-chart")
        self.width, self.height = width, height
        with self.hold_trait_notifications():
            self.kind, self.rows, self.x = kind, list(rows), x
            self.y = (y,) if isinstance(y, str) else tuple(y)
            self.title = title
        self.observe(self._redraw, ["kind", "rows", "x", "y", "title"])
        self._redraw()

    @classmethod
    def from_spec(cls, chart: Any, rows: Sequence[dict] | None = None, **kwargs: Any) -> "ChartView":
        """A view of a :class:`crmkit.Chart` spec; ``rows`` default to the spec's own rows."""
        return cls(chart.kind, chart.rows if chart.rows is not None else (rows or []), chart.x, chart.y, title=chart.title, **kwargs)

    def _redraw(self, change: Any = None) -> None:
        try:
            self.value = svg.render(self.kind, self.rows, self.x, self.y, title=self.title, width=self.width, height=self.height)
        except ValueError as error:
            self.value = error_html(str(error))
