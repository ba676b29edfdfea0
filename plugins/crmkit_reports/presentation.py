"""What people read of a section: human titles and formatted values (CSV and JSON stay raw).

Every value goes through the core's :class:`crmkit.formatting.Formatter`; a section's ``labels``
and ``kinds`` say how, and what they leave out is derived from the name (``churn_rate`` is a rate
titled "Churn rate"; ``m3`` is "Month 3"; ``customer_id`` is an id).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from crmkit.formatting import MISSING, Formatter, heading

if TYPE_CHECKING:
    from crmkit import Section

# The measure units of KPI results, as formatter kinds.
UNIT_KINDS = {"count": "number", "rate": "rate", "money": "amount", "score": "score"}

_RATE_WORDS = re.compile(r"(^m\d+$|\bcsat\b|(^|[ _])(rate|share|ratio|coverage|margin|retention)$|within_sla$)")
_ID_NAME = re.compile(r"(^id$|_id$|^customer$)")
_ISO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?(Z|[+-]\d\d:?\d\d)?$")
_ISO_DATE = re.compile(r"^\d{4}-\d\d-\d\d$")
_ISO_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")

# Titles for the names the built-in reports share; anything else is derived from its name.
LABELS = {
    "kpi": "KPI", "label": "Measure", "value": "This period", "previous": "Previous period",
    "change": "Change", "month": "Month", "source": "Source", "category": "Category",
    "cohort": "Cohort", "topic": "Topic", "csat": "CSAT (share of 4–5)", "average_score": "Average score",
    "customers_share": "Share of customers", "revenue_share": "Share of revenue",
    "from_tier": "From tier", "to_tier": "To tier", "p90_hours_to_resolve": "90th percentile time to resolve",
    "median_hours_to_resolve": "Median time to resolve", "group": "Category",
    "per_100_customers": "Per 100 customers", "per_1000_orders": "Per 1,000 orders",
    "acknowledged_within_sla": "Acknowledged within SLA", "resolved_within_sla": "Resolved within SLA",
    "median_hours_to_follow_up": "Median time to first follow-up",
}

class Presenter:
    """Titles and formatted text for a section's figures, columns and cells."""

    def __init__(self, formatter: Formatter):
        self.formatter = formatter

    def label(self, section: "Section", name: str) -> str:
        """The human title of a figure or column."""
        return section.labels.get(name) or LABELS.get(name) or heading(name)

    def kind(self, section: "Section", name: str, value: Any = None) -> str | None:
        """How the figure or column ``name`` is formatted (None: by the value's type)."""
        if name in section.kinds:
            return section.kinds[name]
        if _RATE_WORDS.search(name):
            return "rate"
        if _ID_NAME.search(name):
            return "id"
        if "score" in name:
            return "score"
        if isinstance(value, str) and _ISO_TIME.match(value):
            return "datetime"
        if isinstance(value, str) and _ISO_DATE.match(value):
            return "date"
        if isinstance(value, str) and _ISO_MONTH.match(value):
            return "month"
        return None

    def text(self, value: Any, kind: str | None) -> str:
        """``value`` formatted as ``kind``."""
        if value is None or value == "":
            return MISSING
        if kind == "score":
            return self.formatter.number(value, places=2)
        if kind == "hours":
            return self.formatter.duration(timedelta(hours=float(value)))
        if kind == "number" and isinstance(value, (int, float, Decimal)):
            return self.formatter.number(value)
        if kind in ("date", "month", "datetime") and isinstance(value, (date, datetime, str)):
            return self.formatter.value(value, kind)
        if kind in ("money", "amount") and isinstance(value, str) and _NUMBER.match(value):
            value = Decimal(value)  # money some sections carry as exact text
        if kind in ("rate", "money", "amount") and isinstance(value, (int, float, Decimal)):
            return self.formatter.value(value, kind)
        if kind == "id":
            return self.formatter.ident(value)
        if kind == "code" and isinstance(value, str):
            return ", ".join(heading(part) for part in value.split(", "))
        return self.formatter.value(value)

    def change(self, value: Any, previous: Any, kind: str | None) -> str | None:
        """The change from ``previous`` to ``value``, signed; None when either is missing or not a number."""
        if not is_numeric(value) or not is_numeric(previous):
            return None
        difference = Decimal(str(value)) - Decimal(str(previous))
        if kind == "rate":
            return self.formatter.rate_change(difference)
        if kind in ("money", "amount"):
            minor = difference.scaleb(self.formatter.exponent) if kind == "amount" else difference
            return self.formatter.money_change(int(minor))
        if kind == "hours":
            return self.formatter.signed(difference, places=1) + " h"
        return self.formatter.signed(difference, places=2 if kind == "score" else None)

    def figure(self, section: "Section", name: str) -> tuple[str, str, str | None]:
        """A headline figure as (title, value text, change against the previous period or None)."""
        value = section.figures[name]
        kind = self.kind(section, name, value)
        change = self.change(value, section.previous[name], kind) if name in section.previous else None
        return self.label(section, name), self.text(value, kind), change

    def columns(self, section: "Section") -> list[str]:
        """The columns shown to people: the section's columns less its hidden ones."""
        from .render_files import columns_of

        return [c for c in columns_of(section) if c not in section.hidden]

    def cells(self, section: "Section", row: dict, columns: list[str]) -> list[str]:
        """A table row's cells; a row naming its ``unit`` (a KPI measure) formats its figures by it."""
        unit_kind = UNIT_KINDS.get(row.get("unit")) if isinstance(row.get("unit"), str) else None
        out = []
        for column in columns:
            value = row.get(column)
            if unit_kind and column in ("value", "previous"):
                out.append(self.text(value, unit_kind))
            elif unit_kind and column == "change":
                out.append(self.change(row.get("value"), row.get("previous"), unit_kind) or MISSING)
            else:
                out.append(self.text(value, self.kind(section, column, value)))
        return out


def is_numeric(value: Any) -> bool:
    """True for numbers people read right-aligned (not bools, not text)."""
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)
