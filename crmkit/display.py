"""Rich HTML for notebooks: what ``_repr_html_`` of customers and segments shows."""

from __future__ import annotations

from html import escape
from typing import Any


def table_html(rows: list[dict], columns: list[str] | None = None, caption: str | None = None) -> str:
    """A plain HTML table of dict rows (values escaped)."""
    columns = columns or (list(rows[0]) if rows else [])
    head = "".join(f"<th>{escape(str(c))}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape('' if row.get(c) is None else str(row.get(c)))}</td>" for c in columns) + "</tr>"
        for row in rows
    )
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    return f"<table class='crmkit-table'>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def customer_html(customer: Any) -> str:
    """A customer's profile as a two-column table."""
    fields = ["id", "name", "email", "phone", "company", "region", "industry", "size", "source", "owner", "stage"]
    rows = [{"field": f, "value": getattr(customer, f)} for f in fields if getattr(customer, f) is not None]
    if customer.tags:
        rows.append({"field": "tags", "value": ", ".join(customer.tags)})
    return table_html(rows, ["field", "value"], caption=f"Customer {customer.id}: {customer.name}")


def segment_html(view: Any, preview: int = 10) -> str:
    """A segment's rule, member count and the first members."""
    members = view.customers(limit=preview)
    rows = [{"id": c.id, "name": c.name, "region": c.region, "owner": c.owner, "stage": c.stage} for c in members]
    title = f"Segment {view.name}" if view.name else "Rule"
    return (
        f"<div class='crmkit-segment'><b>{escape(title)}</b>: <code>{escape(view.rule)}</code> "
        f"— {view.count():,} customers{table_html(rows, ['id', 'name', 'region', 'owner', 'stage'])}</div>"
    )
