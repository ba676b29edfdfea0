"""How values look in the extension's HTML: numbers with separators, times short, None blank."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from html import escape
from typing import Any, Callable, Sequence


def text(value: Any) -> str:
    """A value as display text (not escaped)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, Decimal):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, (list, tuple)):
        return ", ".join(text(v) for v in value)
    return str(value)


def table(
    rows: Sequence[dict], columns: Sequence[str], *, labels: dict[str, str] | None = None,
    formatters: dict[str, Callable[[Any], str]] | None = None, css_class: str = "crmkit-table",
    empty: str = "No rows.",
) -> str:
    """An HTML table of dict rows; every value escaped; ``formatters`` turn a value into text."""
    labels = labels or {}
    formatters = formatters or {}
    if not rows:
        return f"<div class='{css_class} crmkit-empty' style='color:#555'>{escape(empty)}</div>"
    head = "".join(f"<th style='text-align:left;padding:2px 8px'>{escape(labels.get(c, c))}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for column in columns:
            value = row.get(column)
            shown = formatters[column](value) if column in formatters else text(value)
            align = "right" if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool) else "left"
            cells.append(f"<td style='text-align:{align};padding:2px 8px'>{escape(shown)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f"<table class='{css_class}' style='border-collapse:collapse'><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )
