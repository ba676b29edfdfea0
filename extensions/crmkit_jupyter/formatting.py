"""How values look in the extension: every figure through the core's :class:`crmkit.formatting.Formatter`.

This module only decides *which* kind a cell is (ids plain, ``*_at`` columns as times, money
columns as money) and builds HTML around the text; the text itself (separators, currency,
percentages, dates, durations in words) is the core formatter's, for the CRM's locale.
"""

from __future__ import annotations

import weakref

from datetime import date, datetime, timedelta
from decimal import Decimal
from html import escape
from typing import Any, Callable, Sequence

from crmkit.formatting import MISSING, Formatter, heading
from crmkit.money import from_minor

RIGHT_ALIGNED = frozenset({"number", "money", "amount", "rate"})
_DEFAULT = Formatter()
_FORMATTERS: "weakref.WeakKeyDictionary[Any, Formatter]" = weakref.WeakKeyDictionary()


def formatter(crm: Any = None) -> Formatter:
    """The formatter of ``crm`` (its locale, currency and zone); en_US and USD without one.

    Made once per CRM (it reads the CRM's settings) and kept while the CRM lives."""
    if crm is None:
        return _DEFAULT
    try:
        return _FORMATTERS[crm]
    except KeyError:
        made = _FORMATTERS[crm] = Formatter.for_crm(crm)
        return made


def label(column: str) -> str:
    """A column name in words: ``last_purchase_at`` → ``Last purchase``, ``customer_id`` → ``Customer``."""
    if column == "id":
        return "#"
    for suffix in ("_at", "_id"):
        if column.endswith(suffix) and len(column) > len(suffix):
            return heading(column[: -len(suffix)])
    return heading(column)


def kind_of(column: str, value: Any, key: str = "id") -> str:
    """The kind a column's values read as when the caller did not say: ids plain, ``*_at``
    columns as times, otherwise by the value's type."""
    if column in (key, "id") or column.endswith("_id"):
        return "id"
    if isinstance(value, bool):
        return "text"
    if isinstance(value, (int, float, Decimal)):
        return "number"
    if isinstance(value, datetime):
        return "datetime"
    if isinstance(value, date):
        return "date"
    if isinstance(value, timedelta):
        return "duration"
    if column.endswith("_at") and isinstance(value, str) and value[:4].isdigit():
        return "datetime"
    return "text"


def cell(value: Any, kind: str, crm: Any = None) -> str:
    """The text of one value of ``kind`` for ``crm``'s locale; missing values as a dash.

    Besides the core formatter's kinds, ``words`` reads a stored key as words
    (``tier_upgrade`` → "Tier upgrade", ``inactive, spend_drop`` → "Inactive, spend drop");
    a CSV export keeps the key. A ``datetime`` reads on the home zone's clock with the zone
    named (:meth:`~crmkit.formatting.Formatter.local_time`, ``2025-07-01 07:00 CST``), as the
    CLI and the report print times."""
    if value is None or value == "":
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if kind == "words":
        return heading(str(value))
    if kind == "text" and isinstance(value, (list, tuple)):
        return ", ".join(cell(v, "text", crm) for v in value)
    if kind == "datetime":
        return formatter(crm).local_time(value)
    return formatter(crm).value(value, kind)


def raw(value: Any, kind: str, crm: Any = None) -> Any:
    """A value as a CSV cell holds it: exact, machine-readable (money in major units)."""
    if value is None:
        return ""
    if kind == "money":
        return from_minor(int(value), formatter(crm).exponent)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def plain(value: Any, crm: Any = None) -> str:
    """A value as display text, its kind taken from its type; NOT escaped: for widgets that
    show text as text (labels, table cells, CSV), never for HTML (use :func:`text`)."""
    return cell(value, kind_of("", value), crm)


def text(value: Any, crm: Any = None) -> str:
    """A value as display text, HTML-escaped: safe inside a ``widgets.HTML`` value whatever
    the value holds (customer-supplied notes, names, descriptions)."""
    return escape(plain(value, crm))


def table(
    rows: Sequence[dict], columns: Sequence[str], *, labels: dict[str, str] | None = None,
    formatters: dict[str, Callable[[Any], str]] | None = None, kinds: dict[str, str] | None = None,
    crm: Any = None, css_class: str = "crmkit-table", empty: str = "No rows.",
) -> str:
    """A small static HTML table of dict rows (every value escaped), scrolling inside itself
    when wider than the page. ``kinds`` and ``formatters`` as for
    :class:`~crmkit_jupyter.toolkit.PagedTable`; headers default to the column names in words."""
    labels = labels or {}
    formatters = formatters or {}
    kinds = kinds or {}
    if not rows:
        return f"<div class='{css_class} crmkit-empty' style='color:#555'>{escape(empty)}</div>"
    kind = {c: kinds.get(c) or kind_of(c, next((r.get(c) for r in rows if r.get(c) is not None), None)) for c in columns}
    align = {c: "right" if kind[c] in RIGHT_ALIGNED else "left" for c in columns}
    head = "".join(f"<th style='text-align:{align[c]};padding:2px 8px'>{escape(labels.get(c) or label(c))}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for column in columns:
            value = row.get(column)
            if column in formatters:
                shown = formatters[column](value)
            else:  # a column of mixed values (figure lists) reads each value by its own type
                shown = cell(value, kinds.get(column) or kind_of(column, value), crm)
            cells.append(f"<td style='text-align:{align[column]};padding:2px 8px;overflow-wrap:anywhere'>{escape(shown)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f"<div style='max-width:100%;overflow-x:auto'><table class='{css_class}' style='border-collapse:collapse'>"
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )
