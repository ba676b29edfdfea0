"""The report as plain-text tables for a terminal."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .formatting import figure_text, row_cells
from .render_files import columns_of

if TYPE_CHECKING:
    from .assembly import Report


def render(report: "Report", max_rows: int = 15) -> str:
    """The whole report as plain text for a terminal: header, then each section's figures and table.

    Tables show at most ``max_rows`` rows (default 15); a failed section shows its error.
    """
    head = report.header()
    lines = [f"crmkit report as of {head['as_of']}  period {report.period}"]
    if report.previous is not None:
        lines[0] += f"  (compared with {report.previous})"
    if report.segment:
        lines.append(f"segment: {report.segment}")
    lines.append(f"currency: {report.currency}")
    for section in report.sections:
        lines += ["", f"{section.title}  [{section.key}]", "=" * min(78, len(section.title) + len(section.key) + 4)]
        if section.error:
            lines.append(f"FAILED: {section.error}")
            continue
        if section.figures and section.rows and tuple(section.columns[:1]) != ("measure",):
            width = max(len(n) for n in section.figures)
            lines += [f"  {name.ljust(width)}  {figure_text(name, value)}" for name, value in section.figures.items()]
            lines.append("")
        if section.rows:
            lines += table(section.rows, columns_of(section), max_rows)
        elif section.figures:
            lines += table([{"figure": n, "value": figure_text(n, v)} for n, v in section.figures.items()], ["figure", "value"], max_rows)
        else:
            lines.append("(nothing to show)")
    return "\n".join(lines) + "\n"


def table(rows: list[dict], columns: list[str], max_rows: int) -> list[str]:
    """Rows as an aligned text table, at most ``max_rows`` of them (the rest counted)."""
    shown = rows[:max_rows]
    cells = [row_cells(row, columns) for row in shown]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    numeric = [all(_numeric(r[i]) for r in cells) and cells for i in range(len(columns))]

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if numeric[i] else v.ljust(w) for i, (v, w) in enumerate(zip(values, widths))).rstrip()

    out = [line(columns), line(["-" * w for w in widths])]
    out += [line(r) for r in cells]
    if len(rows) > max_rows:
        out.append(f"... {len(rows) - max_rows} more rows (all of them are in the CSV, JSON and HTML output)")
    return out


def _numeric(text: str) -> bool:
    stripped = text.replace("%", "").replace("pp", "").replace("+", "").replace("-", "").replace(".", "").replace(" ", "")
    return stripped.isdigit() or text == "-"
