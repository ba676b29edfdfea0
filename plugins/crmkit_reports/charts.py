"""Report charts: the core's Vega-Lite spec of each :class:`crmkit.Chart` (:mod:`crmkit.charts`),
drawn to inline SVG.

The spec comes from :func:`crmkit.charts.spec` with the section's titles and kinds (the same
spec the dashboard draws, less its pick parameter); this module only draws it. vl-convert draws
without a browser or network, so the HTML report stays self-contained and script-free. It comes
with the ``charts`` extra; without it the report shows each chart's figures as a table and says
what to install (see :func:`available`).
"""

from __future__ import annotations

import json
import re
import zlib
from html import escape
from typing import TYPE_CHECKING, Any

from crmkit import charts as core_charts
from crmkit.charts import INSTALL_HINT, KINDS, available, number_locale  # noqa: F401  (the report's names)

if TYPE_CHECKING:
    from crmkit import Chart, Section
    from crmkit.formatting import Formatter

    from .presentation import Presenter


def render(chart: "Chart", section: "Section", show: "Presenter") -> str:
    """The chart as an inline ``<figure>`` holding its SVG; raises ValueError for a chart it cannot draw."""
    vega_lite = spec_of(chart, section, show)
    svg = core_charts.to_svg(vega_lite, show.formatter)
    # vl-convert numbers gradients with a counter per process: name them after the chart instead,
    # so the page is the same bytes every time and ids stay unique within it.
    prefix = f"c{zlib.crc32(json.dumps(vega_lite, sort_keys=True, default=str).encode()):08x}"
    svg = re.sub(r"\bgradient_(\d+)\b", lambda m: f"{prefix}-gradient-{m.group(1)}", svg)
    svg = re.sub(r"^<svg ", f'<svg role="img" aria-label="{escape(chart.title)}" ', svg.strip(), count=1)
    return f'<figure class="chart chart-{escape(chart.kind)}" data-kind="{escape(chart.kind)}">{svg}</figure>'


def spec_of(chart: "Chart", section: "Section", show: "Presenter") -> dict:
    """The Vega-Lite spec (a dict) of ``chart`` with the section's titles, units and locale."""
    rows = section.rows if chart.rows is None else chart.rows
    return core_charts.spec(chart, rows, **terms(chart, section, show.formatter))


def terms(chart: "Chart", section: "Section", formatter: "Formatter") -> dict[str, Any]:
    """How the chart's columns read in ``section``: ``labels``, ``kinds`` and ``formatter``, the
    keywords of :func:`crmkit.charts.spec` (and of the dashboard's ``ChartView``)."""
    from .presentation import Presenter

    show = Presenter(formatter)
    rows = (section.rows if chart.rows is None else chart.rows) or []
    labels, kinds = {}, {}
    for column in (chart.x, *chart.y):
        sample = next((r.get(column) for r in rows if r.get(column) is not None), None)
        labels[column] = show.label(section, column)
        kinds[column] = show.kind(section, column, sample)
    return {"labels": labels, "kinds": kinds, "formatter": formatter}
