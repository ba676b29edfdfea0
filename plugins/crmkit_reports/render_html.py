"""The report as ONE self-contained HTML file: inline CSS, charts as inline SVG, no script.

The page needs no network to be read and is byte-identical for the same data and ``as_of``.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from . import svg
from .formatting import figure_text, row_cells
from .render_files import columns_of

if TYPE_CHECKING:
    from crmkit import Section

    from .assembly import Report

MAX_TABLE_ROWS = 200

CSS = """
body{font-family:"DejaVu Sans",Arial,sans-serif;margin:0;background:#f6f7f9;color:#1f2328}
header{background:#26384f;color:#fff;padding:18px 28px}
header h1{margin:0 0 6px;font-size:22px}
header p{margin:2px 0;font-size:13px;opacity:.9}
nav{padding:10px 28px;background:#fff;border-bottom:1px solid #dde1e6;font-size:13px;line-height:1.9}
nav a{color:#26384f;margin-right:14px;text-decoration:none;white-space:nowrap}
nav a.failed{color:#b3261e}
main{padding:8px 28px 40px}
section{background:#fff;border:1px solid #dde1e6;border-radius:6px;margin:18px 0;padding:14px 18px}
section h2{font-size:18px;margin:0 0 4px}
.meta{font-size:11px;color:#66707a;margin-bottom:10px}
.figures{display:flex;flex-wrap:wrap;gap:10px;margin:8px 0 12px}
.figure{border:1px solid #e4e7eb;border-radius:5px;padding:8px 12px;min-width:120px;background:#fafbfc}
.figure .name{font-size:11px;color:#66707a}
.figure .value{font-size:18px;font-weight:bold}
.charts{display:flex;flex-wrap:wrap;gap:14px;margin:8px 0}
.charts svg{max-width:100%;height:auto;border:1px solid #eef0f2}
table{border-collapse:collapse;font-size:12px;margin-top:8px}
th,td{border-bottom:1px solid #e8eaed;padding:4px 10px;text-align:left}
th{background:#f0f2f5}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.notes{font-size:12px;color:#4a525b;margin-top:8px}
.error{background:#fdecea;border:1px solid #f3b8b3;color:#8c1d18;padding:10px;border-radius:4px;font-family:monospace;white-space:pre-wrap}
.chart-error{font-size:12px;color:#8c1d18}
.more{font-size:11px;color:#66707a}
"""


def render(report: "Report") -> str:
    """The whole report as one self-contained HTML page (inline CSS and SVG charts, no script).

    Tables show at most ``MAX_TABLE_ROWS`` rows; a failed section shows its error.
    """
    head = report.header()
    title = f"crmkit report as of {head['as_of']}"
    lines = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{escape(title)}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        "<header>",
        f"<h1>{escape(title)}</h1>",
        f"<p>Period: {escape(str(report.period))}"
        + (f" &middot; compared with {escape(str(report.previous))}" if report.previous else "") + "</p>",
        f"<p>Segment: {escape(report.segment) if report.segment else 'all customers'} &middot; currency {escape(report.currency)}</p>",
        "</header>",
        "<nav>" + "".join(_link(s) for s in report.sections) + "</nav>",
        "<main>",
    ]
    for section in report.sections:
        lines += _section(section)
    lines += ["</main>", "</body>", "</html>"]
    return "\n".join(lines) + "\n"


def _link(section: "Section") -> str:
    failed = ' class="failed"' if section.error else ""
    return f'<a href="#{_anchor(section)}"{failed}>{escape(section.title)}</a>'


def _anchor(section: "Section") -> str:
    return "s-" + "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in section.key)


def _section(section: "Section") -> list[str]:
    status = "failed" if section.error else "ok"
    out = [
        f'<section id="{_anchor(section)}" class="report-section" data-key="{escape(section.key)}" data-status="{status}">',
        f"<h2>{escape(section.title)}</h2>",
        f'<div class="meta">{escape(section.key)} &middot; plugin {escape(section.plugin)}</div>',
    ]
    if section.error:
        out.append(f'<div class="error">This section failed: {escape(section.error)}</div>')
        return out + ["</section>"]
    if section.figures:
        out.append('<div class="figures">')
        out += [
            f'<div class="figure"><div class="name">{escape(str(name))}</div><div class="value">{escape(figure_text(str(name), value))}</div></div>'
            for name, value in section.figures.items()
        ]
        out.append("</div>")
    if section.charts:
        out.append('<div class="charts">')
        for chart in section.charts:
            try:
                out.append(svg.render(chart, section.rows))
            except Exception as error:  # noqa: BLE001 - one bad chart must not lose the section
                out.append(f'<p class="chart-error">Chart "{escape(chart.title)}" could not be drawn: {escape(str(error))}</p>')
        out.append("</div>")
    if section.rows:
        out += _table(section)
    if section.notes:
        out.append(f'<p class="notes">{escape(section.notes)}</p>')
    return out + ["</section>"]


def _table(section: "Section") -> list[str]:
    columns = columns_of(section)
    out = ["<table>", "<thead><tr>" + "".join(f"<th>{escape(c)}</th>" for c in columns) + "</tr></thead>", "<tbody>"]
    for row in section.rows[:MAX_TABLE_ROWS]:
        cells = row_cells(row, columns)
        out.append("<tr>" + "".join(
            f'<td class="{"num" if _numeric(row.get(c)) else "text"}">{escape(v)}</td>' for c, v in zip(columns, cells)
        ) + "</tr>")
    out.append("</tbody></table>")
    if len(section.rows) > MAX_TABLE_ROWS:
        out.append(f'<p class="more">{len(section.rows) - MAX_TABLE_ROWS} more rows are in the CSV and JSON output.</p>')
    return out


def _numeric(value) -> bool:
    return svg.number(value) is not None and not isinstance(value, str)
