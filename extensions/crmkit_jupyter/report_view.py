"""``%crm report``: the reports plugin's report as rich HTML, reached only through ``crm.reports``.

The extension never imports a plugin. When the reports plugin is active it attaches a service as
``crm.reports``; this module asks that service for a report as of a date and shows it. The report
is shown through its own ``_repr_html_`` when it has one; otherwise its ``sections``
(:class:`crmkit.Section`) are drawn here, charts included, with no page-wide CSS (a report's
stand-alone ``to_html()`` document would restyle the whole JupyterLab page, so it is used only
when a report has neither).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from html import escape
from typing import Any

from crmkit import CrmError, charts
from crmkit.formatting import MISSING, Formatter, heading

from . import formatting

BUILDERS = ("build", "report", "assemble", "make")
# A KPI measure row names its unit; its value, previous and change read by it.
UNIT_KINDS = {"count": "number", "rate": "rate", "money": "amount", "score": "score"}


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
        fmt = report_formatter(crm, report)
        return HtmlOutput(sections_html(sections, title=report_title(crm, report, as_of, fmt), formatter=fmt), text)
    if callable(getattr(report, "to_html", None)):
        return HtmlOutput(report.to_html(), text)
    raise CrmError(f"the reports service returned {type(report).__name__}, which has no HTML and no sections")


def report_formatter(crm: Any, report: Any) -> Formatter:
    """How the report's values read: its own formatter (``formatter_for()``), else the CRM's."""
    formatter_for = getattr(report, "formatter_for", None)
    return formatter_for() if callable(formatter_for) else formatting.formatter(crm)


def report_title(crm: Any, report: Any, as_of: Any, fmt: Formatter) -> str:
    """``Report as of 2025-06-30 12:00 UTC · Jun 2025 (compared with May 2025)``, as the
    terminal report's header reads: times on the home zone's clock, periods by their name."""
    moment = getattr(report, "as_of", None) or crm.as_of(as_of)
    title = f"Report as of {fmt.local_time(crm.as_of(moment))}"
    period = getattr(report, "period", None)
    if period is not None:
        title += f" · {period_name(period, fmt)}"
        previous = getattr(report, "previous", None)
        if previous is not None:
            title += f" (compared with {period_name(previous, fmt)})"
    return title


def period_name(period: Any, fmt: Formatter) -> str:
    """A period (``start``, ``end``, ``kind``) as a calendar reads it; its label otherwise."""
    try:
        return fmt.period(period.start, period.end, getattr(period, "kind", "range"))
    except (AttributeError, TypeError, ValueError):
        return str(getattr(period, "label", "") or period)


def section_kind(section: Any, name: str, value: Any) -> str | None:
    """How a figure or column of ``section`` reads: its ``kinds`` entry, else by the value."""
    kind = section.kinds.get(name)
    if kind is None and isinstance(value, str) and formatting.kind_of(name, value) == "datetime":
        return "datetime"
    return kind


def section_value(value: Any, kind: str | None, fmt: Formatter) -> str:
    """A report value as the terminal report shows it (``Section.kinds``: money, rate, score,
    hours, code, ...) through the core formatter; missing values as a dash."""
    if value is None or value == "":
        return MISSING
    if kind in ("money", "amount") and isinstance(value, str):
        try:
            value = Decimal(value)  # money some sections carry as exact text
        except ArithmeticError:
            return value
    numeric = isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)
    if kind == "score" and numeric:
        return fmt.number(value, places=2)
    if kind == "hours" and numeric:
        return fmt.duration(timedelta(hours=float(value)))
    if kind == "code" and isinstance(value, str):
        return ", ".join(heading(part) for part in value.split(", "))
    if kind == "datetime":
        return fmt.local_time(value)
    if kind in ("rate", "money", "amount", "number", "id", "date", "month") and (numeric or kind in ("id", "date", "month")):
        return fmt.value(value, kind)
    return fmt.value(value)


def section_change(value: Any, previous: Any, kind: str | None, fmt: Formatter) -> str | None:
    """The change from ``previous`` to ``value`` (``+1.4 pp``, ``+$12.00``); None unless both are numbers."""
    if not all(isinstance(v, (int, float, Decimal)) and not isinstance(v, bool) for v in (value, previous)):
        return None
    difference = Decimal(str(value)) - Decimal(str(previous))
    if kind == "amount":
        return fmt.money_change(int(difference.scaleb(fmt.exponent)))
    return fmt.change(difference, kind if kind in ("rate", "money") else None)


def _figures_html(section: Any, fmt: Formatter) -> str:
    rows = []
    for name, value in section.figures.items():
        kind = section_kind(section, name, value)
        change = section_change(value, section.previous.get(name), kind, fmt) if name in section.previous else None
        rows.append({"figure": section.labels.get(name) or heading(name), "value": section_value(value, kind, fmt),
                     "change": change or ""})
    columns = ("figure", "value", "change") if any(r["change"] for r in rows) else ("figure", "value")
    return formatting.table(rows, columns, labels={"figure": "", "value": "", "change": "Change"},
                            formatters={c: str for c in columns})


def _rows_html(section: Any, fmt: Formatter) -> str:
    columns = [c for c in (section.columns or tuple(section.rows[0])) if c not in section.hidden]
    shown = []
    for row in section.rows:
        unit_kind = UNIT_KINDS.get(row.get("unit")) if isinstance(row.get("unit"), str) else None
        cells = {}
        for column in columns:
            value = row.get(column)
            if unit_kind and column in ("value", "previous"):
                cells[column] = section_value(value, unit_kind, fmt)
            elif unit_kind and column == "change":
                cells[column] = section_change(row.get("value"), row.get("previous"), unit_kind, fmt) or MISSING
            else:
                cells[column] = section_value(value, section_kind(section, column, value), fmt)
        shown.append(cells)
    labels = {c: section.labels.get(c) or heading(c) for c in columns}
    return formatting.table(shown, columns, labels=labels, formatters={c: str for c in columns})


def sections_html(sections: Any, title: str = "Report", formatter: Formatter | None = None) -> str:
    """Report sections (``crmkit.Section``) as HTML, read as the terminal report reads them:
    titles from ``labels``, values by ``kinds`` through the core formatter, hidden columns left
    out, each figure's change against ``previous``; charts as inline SVG, notes and errors."""
    fmt = formatter or formatting.formatter()
    parts = [f"<div class='crmkit-report'><h3>{escape(title)}</h3>"]
    for section in sections:
        parts.append(f"<div class='crmkit-report-section' data-key='{escape(section.key)}'><h4>{escape(section.title)}</h4>")
        if section.error:
            parts.append(f"<div class='crmkit-error' style='color:#a40000'>This section failed: {escape(section.error)}</div>")
        if section.figures:
            parts.append(_figures_html(section, fmt))
        if section.rows:
            parts.append(_rows_html(section, fmt))
        for chart in section.charts:
            try:
                rows = chart.rows if chart.rows is not None else section.rows
                svg = charts.to_svg(charts.spec(chart, rows, labels=section.labels, kinds=section.kinds, formatter=fmt))
                parts.append(f"<div class='crmkit-chart-svg'>{svg}</div>")
            except ValueError as error:
                parts.append(f"<div class='crmkit-error'>{escape(str(error))}</div>")
        if section.notes:
            parts.append(f"<p style='color:#555'>{escape(section.notes)}</p>")
        parts.append("</div>")
    parts.append("</div>")
    return "".join(parts)
