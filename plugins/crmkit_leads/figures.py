"""Lead figures as of a date, the fairness of the distribution, and the report section."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from crmkit import Chart, Section, ValidationError
from crmkit.timeutil import to_iso

from . import queries

if TYPE_CHECKING:
    from .service import LeadsService

BREAKDOWNS = ("rep", "team", "source", "class")


def weighted_gini(values: list[float], weights: list[float]) -> float:
    """Gini coefficient of ``values`` (e.g. leads per unit of capacity) weighted by ``weights``.

    ``G = sum_i sum_j w_i w_j |x_i - x_j| / (2 W^2 mu)`` with ``W = sum w`` and ``mu`` the
    weighted mean; 0 is perfectly even, values near 1 mean a few get almost everything.
    """
    total = sum(weights)
    if not values or total <= 0:
        return 0.0
    mean = sum(w * x for x, w in zip(values, weights)) / total
    if mean == 0:
        return 0.0
    spread = sum(wi * wj * abs(xi - xj) for xi, wi in zip(values, weights) for xj, wj in zip(values, weights))
    return spread / (2 * total * total * mean)


def stats(service: "LeadsService", as_of: datetime, by: str | None) -> list[dict]:
    """One row per group: received, assigned, converted, lost, recycled, conversion rate
    (converted / (converted + lost)) and median hours from assignment to first follow-up.

    Per rep and team the figures count assignment spells (a lead recycled from Ann to Bo counts
    for both); overall, per source and per class they count leads.
    """
    if by is not None and by not in BREAKDOWNS:
        raise ValidationError("by", by, "one of " + ", ".join(BREAKDOWNS))
    if by in queries.SPELL_GROUPS:
        sql = queries.spell_stats(queries.SPELL_GROUPS[by])
    else:
        sql = queries.lead_stats(queries.LEAD_GROUPS[by or "all"])
    out = []
    for grp, received, assigned, converted, lost, recycled, median in service.crm.db.execute(sql, {"as_of": to_iso(as_of)}):
        converted, lost = converted or 0, lost or 0
        closed = converted + lost
        out.append({
            (by or "group"): grp, "received": received, "assigned": assigned, "converted": converted,
            "lost": lost, "recycled": recycled or 0,
            "conversion_rate": round(converted / closed, 4) if closed else None,
            "median_hours_to_follow_up": round(median, 2) if median is not None else None,
        })
    return out


def fairness(service: "LeadsService", as_of: datetime) -> dict:
    """Open leads per active rep against capacity as of ``as_of``, with the capacity-weighted Gini."""
    rows = [
        {"rep": rep, "team": team, "capacity": capacity, "open_leads": load,
         "utilisation": round(load / capacity, 4)}
        for rep, team, capacity, active, load in service.crm.db.execute(queries.OPEN_LOAD_AS_OF, {"as_of": to_iso(as_of)})
        if active
    ]
    gini = weighted_gini([r["open_leads"] / r["capacity"] for r in rows], [r["capacity"] for r in rows])
    return {"as_of": to_iso(as_of), "gini": round(gini, 4), "reps": rows}


def source_section(service: "LeadsService", as_of: datetime) -> Section:
    """Conversion by source channel: which channels bring leads that convert."""
    rows = [
        {"source": r["source"], "received": r["received"], "converted": r["converted"], "lost": r["lost"],
         "recycled": r["recycled"], "conversion_rate": r["conversion_rate"]}
        for r in stats(service, as_of, "source")
    ]
    best = max((r for r in rows if r["conversion_rate"] is not None and r["converted"] + r["lost"] >= 5),
               key=lambda r: r["conversion_rate"], default=None)
    return Section(
        key="leads.sources", title="Lead sources",
        figures={"channels": len(rows), "best converting channel (5+ closed)": best["source"] if best else None},
        rows=rows, columns=("source", "received", "converted", "lost", "recycled", "conversion_rate"),
        charts=(Chart("hbar", "Conversion rate by source", "source", ("conversion_rate",)),),
        notes="Conversion rate is converted / (converted + lost) of the leads from each channel received by the report date.",
        plugin="leads",
    )


def section(service: "LeadsService", as_of: datetime) -> Section:
    """The leads section of a report: pipeline, conversion, fairness, and a table per rep."""
    stamp = {"as_of": to_iso(as_of)}
    statuses = dict(service.crm.db.execute(queries.STATUS_AS_OF, stamp).fetchall())
    overall = stats(service, as_of, None)
    total = overall[0] if overall else {"received": 0, "converted": 0, "lost": 0, "recycled": 0, "conversion_rate": None, "median_hours_to_follow_up": None}
    fair = fairness(service, as_of)
    per_rep = {row["rep"]: row for row in stats(service, as_of, "rep")}
    rows = []
    for rep in fair["reps"]:
        figures = per_rep.get(rep["rep"], {})
        rows.append({
            "rep": rep["rep"], "team": rep["team"], "capacity": rep["capacity"], "open_leads": rep["open_leads"],
            "received": figures.get("received", 0), "converted": figures.get("converted", 0),
            "lost": figures.get("lost", 0), "recycled": figures.get("recycled", 0),
            "conversion_rate": figures.get("conversion_rate"),
            "median_hours_to_follow_up": figures.get("median_hours_to_follow_up"),
        })
    funnel = [
        {"status": "received", "leads": total["received"]},
        {"status": "assigned", "leads": total.get("assigned", 0)},
        {"status": "converted", "leads": total["converted"]},
    ]
    return Section(
        key="leads.overview", title="Leads",
        figures={
            "leads received": total["received"], "in pool": statuses.get("pool", 0),
            "assigned": statuses.get("assigned", 0), "converted": total["converted"], "lost": total["lost"],
            "recycled": total["recycled"], "conversion rate": total["conversion_rate"],
            "median hours to first follow-up": total["median_hours_to_follow_up"],
            "fairness (capacity-weighted Gini of open load)": fair["gini"],
        },
        rows=rows,
        columns=("rep", "team", "capacity", "open_leads", "received", "converted", "lost", "recycled", "conversion_rate", "median_hours_to_follow_up"),
        charts=(
            Chart("bar", "Open leads against capacity", "rep", ("open_leads", "capacity")),
            Chart("funnel", "Lead funnel", "status", ("leads",), rows=funnel),
        ),
        notes=(
            "Conversion rate is converted / (converted + lost). Per rep, figures count assignment spells, "
            "so a recycled lead counts for every rep who had it. The Gini coefficient compares open leads "
            "per unit of capacity, weighted by capacity: 0 means perfectly even."
        ),
        plugin="leads",
    )
