"""The loyalty plugin's report sections. Reports only read: nothing here stores a run."""

from __future__ import annotations

from crmkit import Chart, Section
from crmkit.money import from_minor

from . import churn, rfm, runs, value
from . import queries as q


METHOD_NOTES = {
    "quantiles": "cut points from the distribution; equal values score alike",
    "ntile": "five equal groups, ties by customer id",
    "thresholds": "fixed cut points",
}


def sections(crm, as_of) -> list[Section]:
    """The loyalty report sections as of ``as_of``: RFM segments, tiers, points, churn warnings and CLV.

    RFM is computed without storing a run; churn and CLV come from the newest stored run as of ``as_of``.
    """
    return [_rfm(crm, as_of), _tiers(crm, as_of), _points(crm, as_of), _churn(crm, as_of), _clv(crm, as_of)]


def _rfm(crm, as_of) -> Section:
    result = rfm.compute(crm, as_of, window_days=365, store=False)
    pareto = rfm.pareto_of(crm, result)  # = rfm.pareto(crm, as_of, window_days=365), from the same aggregate pass
    rows = [{"segment": name, "customers": count} for name, count in result.segments.items()]
    return Section(
        "loyalty.rfm", "RFM segments",
        figures={
            "customers scored": result.customers, "top 20% revenue share": pareto.top_share,
            "gini": pareto.gini, "revenue (365 days)": pareto.revenue,
        },
        rows=rows, columns=("segment", "customers"),
        charts=(
            Chart("hbar", "Customers per RFM segment", "segment", ("customers",)),
            Chart("line", "Lorenz curve (365 days)", "customers", ("revenue",),
                  rows=[{"customers": x, "revenue": y} for x, y in pareto.lorenz[::5]]),
        ),
        kinds={"revenue (365 days)": "amount", "gini": "score", "customers": "number", "segment": "code"},
        labels={"customers scored": "Customers scored", "gini": "Gini coefficient of revenue"},
        notes=f"Scores by method {result.method} ({METHOD_NOTES[result.method]}) over the customers with a purchase "
              "up to the report date; window 365 days.",
        plugin="loyalty",
    )


def _tiers(crm, as_of) -> Section:
    movement = crm.loyalty.tiers.movement(until=as_of)
    members = crm.loyalty.tiers.members(as_of)
    return Section(
        "loyalty.tiers", "Tiers",
        figures={"upgrades (365 days)": movement["upgrades"], "downgrades (365 days)": movement["downgrades"]},
        rows=[{"tier": name, "members": count} for name, count in members.items()],
        columns=("tier", "members"),
        charts=(Chart("bar", "Members per tier", "tier", ("members",)),),
        notes="No tiers are defined." if not members else None,
        plugin="loyalty",
    )


def _points(crm, as_of) -> Section:
    liability = crm.loyalty.points.liability(as_of)
    flows = crm.loyalty.points.flows(as_of=as_of)
    return Section(
        "loyalty.points", "Points liability",
        figures={"spendable points": liability.spendable, "locked points": liability.locked, "customers holding points": liability.customers},
        rows=[{"kind": kind, "points": f["points"], "entries": f["entries"]} for kind, f in flows.items()],
        columns=("kind", "points", "entries"),
        notes="Ledger movements in the 365 days up to the report date.",
        plugin="loyalty",
    )


def _churn(crm, as_of) -> Section:
    run = runs.latest(crm, "churn", as_of)
    if run is None:
        return Section("loyalty.churn", "Churn warnings", notes="No churn evaluation yet (crmkit due runs one).", plugin="loyalty")
    warned = churn.warnings(crm, run, "low", limit=20)
    levels = dict(crm.db.execute(q.CHURN_LEVELS, [run.id]).fetchall())
    return Section(
        "loyalty.churn", "Churn warnings",
        figures={"evaluated as of": run.as_of.date().isoformat(), **{f"{lvl} risk": levels.get(lvl, 0) for lvl in ("high", "medium", "low")}},
        rows=[{"customer": w.customer_id, "class": w.customer_class, "level": w.level, "score": w.score,
               "signals": ", ".join(w.signals)} for w in warned],
        columns=("customer", "class", "level", "score", "signals"),
        labels={"class": "Customer class", "level": "Risk level", "score": "Risk score"},
        kinds={"signals": "code", "class": "code", "level": "code"},
        notes="The 20 highest scores of the newest evaluation as of the report date.",
        plugin="loyalty",
    )


def _clv(crm, as_of) -> Section:
    run = runs.latest(crm, "clv", as_of)
    failed = value.failure(crm, as_of, run)
    if failed is not None:
        older = f" The newest stored run is as of {run.as_of.date().isoformat()}." if run is not None else ""
        return Section(
            "loyalty.clv", "Customer lifetime value", figures={"could not be fitted as of": crm.calendar.local_date(crm.as_of(failed["as_of"]))},
            notes=f"CLV could not be computed: {failed['reason']}.{older}", plugin="loyalty",
        )
    if run is None:
        return Section("loyalty.clv", "Customer lifetime value", notes="No CLV run yet (`crmkit loyalty clv DB`).", plugin="loyalty")
    rows = value.distribution(crm, run)
    count, total, historical, alive = crm.db.execute(q.CLV_TOTALS, [run.id]).fetchone()
    left_out = run.params.get("spend_left_out") or 0
    return Section(
        "loyalty.clv", "Customer lifetime value",
        figures={
            "customers valued": count, "predicted value": from_minor(total or 0, crm.exponent),
            "historical value": from_minor(historical or 0, crm.exponent), "mean P(alive)": round(alive or 0, 4),
            "left out of the spend model": left_out,
        },
        rows=rows, columns=("quintile", "customers", "total", "min", "max"),
        kinds={"predicted value": "amount", "historical value": "amount", "mean P(alive)": "rate",
               "total": "amount", "min": "amount", "max": "amount", "quintile": "id"},
        labels={"total": "Predicted value", "min": "Lowest", "max": "Highest", "mean P(alive)": "Mean probability alive"},
        charts=(Chart("bar", "Predicted value per quintile", "quintile", ("total",)),),
        notes=f"BG/NBD + Gamma-Gamma fitted as of {run.as_of.date().isoformat()}, {run.params.get('months')} months, "
              f"monthly discount {run.params.get('discount_rate')}."
              + (f" {value.left_out_text(left_out)}." if left_out else ""),
        plugin="loyalty",
    )
