"""``%crm report``: the reports plugin's report as rich HTML, reached only through ``crm.reports``.

The extension never imports a plugin. When the reports plugin is active it attaches a service as
``crm.reports``; this module asks that service for a report as of a date and shows it. The report
is shown through its own ``_repr_html_`` when it has one; otherwise its ``sections``
(:class:`crmkit.Section`) are drawn here, charts included, with no page-wide CSS (a report's
stand-alone ``to_html()`` document would restyle the whole JupyterLab page, so it is used only
when a report has neither).
"""

from __future__ import annotations

from html import escape
from typing import Any

from crmkit import CrmError, charts

from . import formatting

BUILDERS = ("build", "report", "assemble", "make")


class HtmlOutput:
    """Something a cell displays as HTML, and as plain text in a terminal."""

    def __init__(self, html: str, text: str):
        self.html = html
        self.text = text

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return self.text


def reports_missing(crm: Any) -> HtmlOutput:
    """The message shown when the reports plugin is not active."""
    active = ", ".join(crm.plugins.names()) or "none"
    text = (
        f"The reports plugin is not active in this CRM (active plugins: {active}). "
        "Install crmkit's reports plugin and open the CRM with it, e.g. "
        "crmkit.open(path, plugins=[..., 'reports']), or unset CRMKIT_PLUGINS."
    )
    return HtmlOutput(f"<div class='crmkit-report-missing' style='color:#8a5a00'>{escape(text)}</div>", text)


def build_report(crm: Any, as_of: Any = None) -> Any:
    """Ask ``crm.reports`` for a report as of ``as_of``; None when the plugin is not active.

    Without ``as_of`` the service picks its own default (the CRM's clock).
    """
    service = getattr(crm, "reports", None)
    if service is None:
        return None
    moment = None if as_of is None else crm.as_of(as_of)
    for name in BUILDERS:
        method = getattr(service, name, None)
        if callable(method):
            return method(as_of=moment)
    raise CrmError(f"the reports service has none of the methods {', '.join(BUILDERS)}; cannot build a report")


def report_output(crm: Any, as_of: Any = None) -> HtmlOutput:
    """The report as displayable output, or the "not active" message."""
    report = build_report(crm, as_of)
    if report is None:
        return reports_missing(crm)
    to_text = getattr(report, "to_text", None)
    text = to_text() if callable(to_text) else str(report)
    if hasattr(report, "_repr_html_"):
        return HtmlOutput(report._repr_html_(), text)
    sections = getattr(report, "sections", None)
    if sections is not None:
        moment = getattr(report, "as_of", None) or crm.as_of(as_of)
        title = f"Report as of {formatting.formatter(crm).local_time(crm.as_of(moment))}"
        period = getattr(report, "period", None)
        if period is not None:
            title += f" · period {period}"
        return HtmlOutput(sections_html(sections, title=title), text)
    if callable(getattr(report, "to_html", None)):
        return HtmlOutput(report.to_html(), text)
    raise CrmError(f"the reports service returned {type(report).__name__}, which has no HTML and no sections")


def sections_html(sections: Any, title: str = "Report") -> str:
    """Report sections (``crmkit.Section``) as HTML: figures, table, charts (inline SVG), notes, errors."""
    parts = [f"<div class='crmkit-report'><h3>{escape(title)}</h3>"]
    for section in sections:
        parts.append(f"<div class='crmkit-report-section' data-key='{escape(section.key)}'><h4>{escape(section.title)}</h4>")
        if section.error:
            parts.append(f"<div class='crmkit-error' style='color:#a40000'>This section failed: {escape(section.error)}</div>")
        if section.figures:
            figures = [{"figure": k, "value": v} for k, v in section.figures.items()]
            parts.append(formatting.table(figures, ("figure", "value")))
        if section.rows:
            columns = section.columns or tuple(section.rows[0])
            parts.append(formatting.table(section.rows, columns))
        for chart in section.charts:
            try:
                rows = chart.rows if chart.rows is not None else section.rows
                svg = charts.to_svg(charts.spec(chart, rows, labels=section.labels, kinds=section.kinds))
                parts.append(f"<div class='crmkit-chart-svg'>{svg}</div>")
            except ValueError as error:
                parts.append(f"<div class='crmkit-error'>{escape(str(error))}</div>")
        if section.notes:
            parts.append(f"<p style='color:#555'>{escape(section.notes)}</p>")
        parts.append("</div>")
    parts.append("</div>")
    return "".join(parts)
