"""Complaint figures as of a date, overall or per category, product, channel, handler, severity
or saved segment. Definitions are in docs/plugins/complaints.md; the SQL in ``queries_figures``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from crmkit import ValidationError
from crmkit.timeutil import to_iso

from . import queries_figures as sql
from .models import BREAKDOWNS, COLUMNS  # noqa: F401 - the figures' names, kept where readers look

if TYPE_CHECKING:
    from crmkit import CRM


def _share(part: int | None, whole: int | None) -> float | None:
    return None if not whole else round((part or 0) / whole, 4)


def _hours(seconds: int | None) -> float | None:
    return None if seconds is None else round(seconds / 3600, 2)


def complaint_figures(crm: "CRM", *, as_of: Any = None, by: str | None = None, since: Any = None, segment: str | None = None) -> list[dict]:
    """One row per group of the complaints received in (since, as_of]; ``since`` defaults to
    365 days before ``as_of``. ``segment`` (a saved name or a rule) limits to its members."""
    if by is not None and by not in BREAKDOWNS:
        raise ValidationError("by", by, "one of " + ", ".join(BREAKDOWNS))
    moment = crm.as_of(as_of)
    start = moment - timedelta(days=365) if since is None else crm.as_of(since)
    if start >= moment:
        raise ValidationError("since", to_iso(start), f"a time before as_of ({to_iso(moment)})")
    base = {"as_of": to_iso(moment), "since": to_iso(start)}
    scopes: list[tuple[str | None, str | None, dict]] = []
    if segment is not None:
        compiled = crm.segments.compile(crm.segments.resolve(segment), moment)
        scopes.append((segment if by == "segment" else None, compiled.id_query(), compiled.params))
    elif by == "segment":
        for saved in crm.segments.list():
            compiled = crm.segments.compile(saved.rule, moment)
            scopes.append((saved.name, compiled.id_query(), compiled.params))
    else:
        scopes.append((None, None, {}))
    group_sql = sql.GROUPS[None if by == "segment" else by]
    kinds_in = crm.kinds.names(money="in")
    rows = []
    for label, customer_filter, params in scopes:
        params = dict(params, **base)
        customers = sql.customers_at(crm.db, base["as_of"], customer_filter, params)
        orders = sql.orders(crm.db, kinds_in, by == "product", customer_filter, params)
        for row in sql.figures(crm.db, group_sql, customer_filter, params):
            group = label if by == "segment" else row["grp"]
            order_count = orders.get(row["grp"], 0) if by == "product" else sum(orders.values())
            rows.append({
                "group": group,
                "received": row["received"], "open": row["open"], "resolved": row["resolved"],
                "rejected": row["rejected"],
                "acknowledged_within_sla": _share(row["ack_met"], row["ack_decided"]),
                "resolved_within_sla": _share(row["resolve_met"], row["resolve_decided"]),
                "median_hours_to_resolve": _hours(row["median_s"]),
                "p90_hours_to_resolve": _hours(row["p90_s"]),
                "reopen_rate": _share(row["reopened"], row["answered"]),
                "complainants": row["complainants"],
                "repeat_complainants": row["repeat_complainants"],
                "satisfaction": None if not row["surveys"] else round(row["score_sum"] / row["surveys"], 2),
                "satisfied_share": _share(row["satisfied"], row["surveys"]),
                "per_100_customers": None if not customers else round(100 * row["received"] / customers, 2),
                "per_1000_orders": None if not order_count else round(1000 * row["received"] / order_count, 2),
            })
    return rows


