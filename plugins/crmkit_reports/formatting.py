"""How values read in the terminal and the HTML report (CSV and JSON keep them exact and raw)."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from crmkit.timeutil import to_iso

_RATE_COLUMN = re.compile(r"^(m\d+|csat|.*_(rate|share|ratio|coverage|margin|retention))$")


def unit_of_column(column: str) -> str | None:
    """``rate`` for columns holding fractions (``churn_rate``, ``m3``, ``csat``), else None."""
    return "rate" if _RATE_COLUMN.match(column) else None


def show(value: Any, unit: str | None = None, signed: bool = False) -> str:
    """A value for people: rates as percentages, changes with a sign, missing as ``-``."""
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if unit == "rate" and isinstance(value, (Decimal, int, float)):
        number = Decimal(str(value)) * 100
        text = f"{number:.2f}"
        return (f"{'+' if number > 0 else ''}{text} pp") if signed else f"{text} %"
    if isinstance(value, (int, Decimal)) and signed:
        return f"{'+' if value > 0 else ''}{value}"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, datetime):
        return to_iso(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def row_cells(row: dict, columns: list[str]) -> list[str]:
    """The cells of a table row; a row with a ``unit`` (a measure) formats its numbers by it."""
    unit = row.get("unit") if isinstance(row.get("unit"), str) else None
    cells = []
    for column in columns:
        value = row.get(column)
        if unit and column in ("value", "previous"):
            cells.append(show(value, unit))
        elif unit and column == "change":
            cells.append(show(value, unit, signed=True))
        else:
            cells.append(show(value, unit_of_column(column)))
    return cells


def figure_text(name: str, value: Any) -> str:
    """A headline figure, formatted by its name (``churn_rate`` as a percentage)."""
    return show(value, unit_of_column(name) or ("rate" if name in ("csat",) else None))
