"""The complaints section of reports: headline figures, a table per category and charts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crmkit import Chart, Section

from .figures import COLUMNS, complaint_figures

if TYPE_CHECKING:
    from datetime import datetime

    from crmkit import CRM

NOTES = (
    "Complaints received in the 365 days up to the report date. SLA shares count complaints whose "
    "clock was decided by then (answered, or past the deadline unanswered). Time to resolve runs "
    "from receipt to the first resolution or rejection, in clock hours. Reopen rate: reopened / answered."
)


def complaint_sections(crm: "CRM", as_of: "datetime") -> list[Section]:
    """The report sections as of ``as_of``: ``complaints.overview`` (figures, per category, charts)
    and, when there are open suggestions, ``complaints.improvements``."""
    overall = complaint_figures(crm, as_of=as_of)
    headline = overall[0] if overall else {}
    per_category = complaint_figures(crm, as_of=as_of, by="category")
    figures = {
        key: headline.get(key)
        for key in ("received", "open", "acknowledged_within_sla", "resolved_within_sla",
                    "median_hours_to_resolve", "p90_hours_to_resolve", "reopen_rate",
                    "repeat_complainants", "satisfaction", "per_100_customers", "per_1000_orders")
    }
    top = crm.complaints.feedback.top(as_of=as_of, limit=10)
    sections = [
        Section(
            key="complaints.overview", title="Complaints", figures=figures, rows=per_category,
            columns=COLUMNS,
            kinds={"median_hours_to_resolve": "hours", "p90_hours_to_resolve": "hours", "satisfaction": "score",
                   "satisfied_share": "rate", "reopen_rate": "rate"},
            labels={"received": "Received", "open": "Open", "satisfaction": "Satisfaction (1–5)"},
            charts=(
                Chart("bar", "Complaints by category", "group", ("received", "open")),
                Chart("hbar", "Resolved within SLA by category", "group", ("resolved_within_sla",)),
            ),
            notes=NOTES, plugin="complaints",
        ),
    ]
    if top:
        rows = [{k: (str(v) if k == "value" else v) for k, v in item.items() if k != "customer_ids"} for item in top]
        sections.append(Section(
            key="complaints.improvements", title="Top requested improvements", rows=rows,
            columns=("id", "title", "classification", "status", "requesters", "value", "priority"),
            kinds={"priority": "score", "value": "amount"}, labels={"value": "Value to requesters"},
            charts=(Chart("hbar", "Priority of requested improvements", "title", ("priority",)),),
            notes="Ranked by priority = (importance + urgency) × (1 + log2 requesters) × "
                  "(1 + log10(1 + value/100)) / cost.",
            plugin="complaints",
        ))
    return sections
