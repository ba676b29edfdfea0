"""The report as plain-text tables for a terminal, formatted like the HTML report."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .presentation import Presenter

if TYPE_CHECKING:
    from crmkit.formatting import Formatter

    from .assembly import Report


def render(report: "Report", max_rows: int, formatter: "Formatter") -> str:
    """The whole report as plain text for a terminal: header, then each section's figures and table.

    Tables show at most ``max_rows`` rows; a failed section shows its error.
    """
    from .render_html import as_of_text, period_text  # the header reads as the HTML report's title

    show = Presenter(formatter)
    lines = [f"Report as of {as_of_text(report.as_of, formatter)}  period {period_text(report.period, formatter)}"]
    if report.previous is not None:
        lines[0] += f"  (compared with {period_text(report.previous, formatter)})"
    if report.segment:
        lines.append(f"segment: {report.segment}")
    lines.append(f"money in {report.currency}")
    for section in report.sections:
        lines += ["", f"{section.title}  [{section.key}]", "=" * min(78, len(section.title) + len(section.key) + 4)]
        if section.error:
            lines.append(f"FAILED: {section.error}")
            continue
        if section.figures:
            figures = [show.figure(section, name) for name in section.figures]
            width = max(len(title) for title, _, _ in figures)
            lines += [f"  {title.ljust(width)}  {value}" + (f"  ({change} vs previous)" if change else "")
                      for title, value, change in figures]
            lines.append("")
        if section.rows:
            lines += table(section, show, max_rows)
        elif not section.figures:
            lines.append("(nothing to show)")
    return "\n".join(lines) + "\n"


def table(section, show: Presenter, max_rows: int) -> list[str]:
    """A section's rows as an aligned text table, at most ``max_rows`` of them (the rest counted)."""
    from .presentation import is_numeric

    columns = show.columns(section)
    shown = section.rows[:max_rows]
    cells = [show.cells(section, row, columns) for row in shown]
    titles = [show.label(section, c) for c in columns]
    widths = [max([len(t)] + [len(r[i]) for r in cells]) for i, t in enumerate(titles)]
    numeric = [all(r.get(c) is None or is_numeric(r.get(c)) for r in shown) for c in columns]

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if numeric[i] else v.ljust(w) for i, (v, w) in enumerate(zip(values, widths))).rstrip()

    out = [line(titles), line(["-" * w for w in widths])]
    out += [line(r) for r in cells]
    if len(section.rows) > max_rows:
        out.append(f"... {len(section.rows) - max_rows} more rows (all of them are in the CSV, JSON and HTML output)")
    return out
