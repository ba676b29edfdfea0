"""The report as ONE self-contained HTML file: inline CSS, charts as inline SVG, no script.

The page needs no network to be read and is byte-identical for the same data, ``as_of`` and
locale. It reads on a 390 px phone (tables scroll inside their own box, never the page) and
prints on A4 (rows and charts are not cut across pages).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from html import escape
from typing import TYPE_CHECKING

from crmkit.formatting import local_time

from . import charts
from .presentation import Presenter, is_numeric

if TYPE_CHECKING:
    from crmkit import Section
    from crmkit.formatting import Formatter

    from .assembly import Report
    from .periods import Period

MAX_TABLE_ROWS = 200

CSS = """
*{box-sizing:border-box}
body{font-family:"DejaVu Sans",Arial,sans-serif;margin:0;background:#f6f7f9;color:#1f2328;line-height:1.4}
header{background:#26384f;color:#fff;padding:18px 28px}
header h1{margin:0 0 6px;font-size:22px}
header p{margin:2px 0;font-size:13px;opacity:.9}
nav{padding:10px 28px;background:#fff;border-bottom:1px solid #dde1e6;font-size:13px;display:flex;flex-wrap:wrap;gap:4px 14px}
nav a{color:#26384f;text-decoration:none}
nav a.failed{color:#b3261e}
main{padding:8px 28px 40px;max-width:1400px}
section{background:#fff;border:1px solid #dde1e6;border-radius:6px;margin:18px 0;padding:14px 18px;min-width:0}
section h2{font-size:18px;margin:0 0 4px}
.meta{font-size:11px;color:#66707a;margin-bottom:10px}
.figures{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:10px;margin:8px 0 12px}
.figure{border:1px solid #e4e7eb;border-radius:5px;padding:8px 12px;background:#fafbfc;min-width:0}
.figure .name{font-size:12px;color:#4a525b}
.figure .value{font-size:20px;font-weight:bold;overflow-wrap:anywhere}
.figure .change{font-size:12px;color:#4a525b}
.figure .change.up{color:#1a7f37}.figure .change.down{color:#b3261e}
.charts{display:flex;flex-wrap:wrap;gap:14px;margin:8px 0}
.chart{max-width:100%;overflow:hidden}
.chart svg{max-width:100%;height:auto;display:block}
.chart-table{font-size:12px}
.table-box{max-width:100%;overflow-x:auto;margin-top:8px;border:1px solid #eef0f2}
table{border-collapse:collapse;font-size:12px;width:100%}
caption{text-align:left;font-weight:bold;padding:4px 0}
th,td{border-bottom:1px solid #e8eaed;padding:4px 10px;text-align:left;vertical-align:top}
th{background:#f0f2f5;font-weight:600;min-width:6em;max-width:14em}
td.text{max-width:28em;overflow-wrap:anywhere}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.notes{font-size:12px;color:#4a525b;margin-top:8px}
.error{background:#fdecea;border:1px solid #f3b8b3;color:#8c1d18;padding:10px;border-radius:4px;font-family:monospace;white-space:pre-wrap;overflow-wrap:anywhere}
.chart-error,.install{font-size:12px;color:#8c1d18}
.more{font-size:11px;color:#66707a}
@media (max-width:600px){
header,nav{padding-left:12px;padding-right:12px}
main{padding:4px 8px 24px}
section{padding:10px 10px;margin:12px 0}
.figures{grid-template-columns:repeat(2,minmax(0,1fr))}
.figure .value{font-size:16px}
}
@media print{
@page{size:A4;margin:12mm}
body{background:#fff;font-size:10px}
header{background:#fff;color:#000;padding:0 0 8px;border-bottom:2px solid #000}
nav{display:none}
main{padding:0;max-width:none}
section{border:none;padding:0;margin:10px 0;break-inside:auto}
section h2{break-after:avoid}
.figure,.chart,tr,thead{break-inside:avoid}
thead{display:table-header-group}
.table-box{overflow:visible;border:none}
table{font-size:8px;table-layout:auto}
th,td,td.num,th.num{padding:2px 3px;white-space:normal;min-width:0;max-width:none;overflow-wrap:anywhere}
.chart svg{max-height:90mm;width:auto}
}
"""


def render(report: "Report", formatter: "Formatter") -> str:
    """The whole report as one self-contained HTML page (inline CSS and SVG charts, no script).

    Values read as ``formatter`` formats them; tables show at most ``MAX_TABLE_ROWS`` rows; a
    failed section shows its error.
    """
    show = Presenter(formatter)
    title = f"Report as of {as_of_text(report.as_of, formatter)}"
    compared = f" &middot; compared with {escape(period_text(report.previous, formatter))}" if report.previous else ""
    lines = [
        "<!DOCTYPE html>",
        f'<html lang="{escape(formatter.locale.language)}">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        "<header>",
        f"<h1>{escape(title)}</h1>",
        f"<p>Period: {escape(period_text(report.period, formatter))}{compared}</p>",
        f"<p>Segment: {escape(report.segment) if report.segment else 'all customers'} &middot; "
        f"money in {escape(report.currency)}</p>",
        "</header>",
        "<nav>" + "".join(_link(s) for s in report.sections) + "</nav>",
        "<main>",
    ]
    if not charts.available():
        lines.append(f'<p class="install">{escape(charts.INSTALL_HINT)}</p>')
    for section in report.sections:
        lines += _section(section, show)
    lines += ["</main>", "</body>", "</html>"]
    return "\n".join(lines) + "\n"


def as_of_text(moment: "datetime", formatter: "Formatter") -> str:
    """The report's moment as the CLI and the dashboard print times, on the home zone's clock,
    then the zone's IANA name: ``2025-07-01 07:00 CST (Asia/Shanghai)``; ``2025-06-30 23:00 UTC``.

    The abbreviation alone is ambiguous (CST is China's and the US's) and babel's ``GMT+8`` names
    no place; the IANA name says which clock, in every locale."""
    text = local_time(moment, formatter.zone)
    name = getattr(formatter.zone, "key", None)
    return f"{text} ({name})" if name and name not in text else text


def period_text(period: "Period", formatter: "Formatter") -> str:
    """A period as people read it: first and last day (``Jun 1, 2025 – Jun 15, 2025``)."""
    last = period.end - timedelta(seconds=1)
    first, final = formatter.date(period.start), formatter.date(last)
    return first if first == final else f"{first} – {final}"


def _link(section: "Section") -> str:
    failed = ' class="failed"' if section.error else ""
    return f'<a href="#{_anchor(section)}"{failed}>{escape(section.title)}</a>'


def _anchor(section: "Section") -> str:
    return "s-" + "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in section.key)


def _section(section: "Section", show: Presenter) -> list[str]:
    status = "failed" if section.error else "ok"
    out = [
        f'<section id="{_anchor(section)}" class="report-section" data-key="{escape(section.key)}" data-status="{status}">',
        f"<h2>{escape(section.title)}</h2>",
        f'<div class="meta">from the {escape(section.plugin)} plugin</div>',
    ]
    if section.error:
        out.append(f'<div class="error">This section failed: {escape(section.error)}</div>')
        return out + ["</section>"]
    if section.figures:
        out.append('<div class="figures">')
        out += [_figure(section, name, show) for name in section.figures]
        out.append("</div>")
    if section.charts:
        out.append('<div class="charts">')
        for chart in section.charts:
            try:
                if charts.available():
                    out.append(charts.render(chart, section, show))
                else:
                    rows = section.rows if chart.rows is None else chart.rows
                    out += table(section, rows, [chart.x, *chart.y], show, caption=chart.title)
            except Exception as error:  # noqa: BLE001 - one bad chart must not lose the section
                out.append(f'<p class="chart-error">Chart "{escape(chart.title)}" could not be drawn: {escape(str(error))}</p>')
        out.append("</div>")
    if section.rows:
        out += table(section, section.rows, show.columns(section), show)
    if section.notes:
        out.append(f'<p class="notes">{escape(section.notes)}</p>')
    return out + ["</section>"]


def _figure(section: "Section", name: str, show: Presenter) -> str:
    title, value, change = show.figure(section, name)
    trend = ""
    if change is not None:
        direction = "up" if change.startswith("+") else ("down" if change.startswith("-") else "same")
        trend = f'<div class="change {direction}">{escape(change)} vs previous period</div>'
    return (
        f'<div class="figure" data-name="{escape(name)}"><div class="name">{escape(title)}</div>'
        f'<div class="value">{escape(value)}</div>{trend}</div>'
    )


def table(section: "Section", rows: list[dict], columns: list[str], show: Presenter, caption: str | None = None) -> list[str]:
    """Rows as an HTML table in a box that scrolls sideways by itself when it is wider than the page."""
    numeric = {c: any(is_numeric(r.get(c)) for r in rows) and all(r.get(c) is None or is_numeric(r.get(c)) for r in rows) for c in columns}
    head = "".join(f'<th class="{"num" if numeric[c] else "text"}">{escape(show.label(section, c))}</th>' for c in columns)
    out = ['<div class="table-box">', "<table>"]
    if caption:
        out.append(f"<caption>{escape(caption)}</caption>")
    out += [f"<thead><tr>{head}</tr></thead>", "<tbody>"]
    for row in rows[:MAX_TABLE_ROWS]:
        cells = show.cells(section, row, columns)
        out.append("<tr>" + "".join(
            f'<td class="{"num" if numeric[c] else "text"}">{escape(v)}</td>' for c, v in zip(columns, cells)
        ) + "</tr>")
    out += ["</tbody></table>", "</div>"]
    if len(rows) > MAX_TABLE_ROWS:
        out.append(f'<p class="more">{len(rows) - MAX_TABLE_ROWS} more rows are in the CSV and JSON output.</p>')
    return out
