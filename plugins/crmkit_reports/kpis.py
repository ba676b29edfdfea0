"""The KPI catalogue: each KPI's definition and how it is computed from the query module.

Every KPI is computed for a period and, when asked, the previous period, over all customers or
the members of one segment. The SQL is in :mod:`crmkit_reports.queries`; this module turns the
counts into measures (rates are exact Decimals rounded to four places, money Decimals in major
units).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Callable

from attrs import field, frozen

from crmkit.calendar import HomeCalendar
from crmkit.money import from_minor
from crmkit.timeutil import to_iso

from . import queries
from .periods import Period, add_months
from .results import SCORE_PLACES, KpiResult, Measure, ratio

UPGRADE_KIND, DOWNGRADE_KIND = "tier_upgrade", "tier_downgrade"


@frozen
class Scope:
    """Everything a KPI needs: the periods, the filter and the settings in force."""

    period: Period
    previous: Period | None
    segment: str | None
    filter: queries.Filter
    churn_days: int
    cost_key: str
    exponent: int
    cohort_months: int
    kinds: frozenset = field(converter=frozenset)
    cache: dict = field(factory=dict, init=False, eq=False, repr=False)

    def periods(self) -> list[Period]:
        """The period, followed by the previous period when there is one to compare with."""
        return [self.period] if self.previous is None else [self.period, self.previous]

    def counts(self, db, period: Period) -> dict:
        """Customer counts for ``period`` (cached: several KPIs share them).

        The scope's own periods (the period and the previous one) are counted together, in one
        pass over the purchases, the first time either is asked for.
        """
        key = ("counts", period.start, period.end)
        if key not in self.cache:
            wanted = self.periods() if period in self.periods() else [period]
            window = timedelta(days=self.churn_days)
            bounds = [
                {"start": to_iso(p.start), "end": to_iso(p.end),
                 "start_window": to_iso(p.start - window), "end_window": to_iso(p.end - window)}
                for p in wanted
            ]
            for p, counts in zip(wanted, queries.customer_counts_many(db, self.filter, bounds)):
                self.cache[("counts", p.start, p.end)] = counts
        return self.cache[key]

    def cached(self, name: str, period: Period, compute: Callable[[], object]):
        """``compute()`` once per scope, ``name`` and period (a KPI's table is also its figures' input)."""
        key = (name, period.start, period.end)
        if key not in self.cache:
            self.cache[key] = compute()
        return self.cache[key]

    def revenue(self, db, period: Period) -> dict:
        """Gross, refunds, purchase and cost totals for ``period`` in minor units (cached per period).

        Cost is read from purchase data at ``$.<cost_key>`` in major units and scaled to minor units.
        """
        return self.cached("revenue", period, lambda: queries.revenue(
            db, self.filter, to_iso(period.start), to_iso(period.end), f"$.{self.cost_key}", 10 ** self.exponent,
        ))

    def money(self, minor: int | None) -> Decimal | None:
        """An amount in minor units as an exact Decimal in major units (None stays None)."""
        return from_minor(minor, self.exponent)

    def money_per(self, minor: int | None, count: int) -> Decimal | None:
        """``minor / count`` in major units, rounded half-even to the currency's places."""
        if minor is None or not count:
            return None
        places = Decimal(1).scaleb(-self.exponent)
        return (Decimal(minor) / Decimal(count)).scaleb(-self.exponent).quantize(places, rounding=ROUND_HALF_EVEN)


@frozen
class KpiDefinition:
    """A KPI's key, title, definition in words and the function computing it."""

    key: str
    title: str
    definition: str
    compute: Callable[["object", Scope], KpiResult] = field(eq=False, repr=False)


def _measures(scope: Scope, figures: Callable[[Period], dict], specs: list[tuple[str, str, str]]) -> list[Measure]:
    current = figures(scope.period)
    before = figures(scope.previous) if scope.previous is not None else {}
    return [Measure(name, label, unit, current.get(name), before.get(name)) for name, label, unit in specs]


def _result(key: str, scope: Scope, measures, rows=None, columns=(), note=None) -> KpiResult:
    definition = CATALOGUE[key]
    return KpiResult(
        key, definition.title, definition.definition, scope.period, scope.previous, scope.segment,
        measures, rows or [], columns, note,
    )


# --- the KPIs ---------------------------------------------------------------------------------

def acquisition(db, scope: Scope) -> KpiResult:
    """New customers (first purchase in the period) and the acquisition rate for the scope's period and, when set, the previous one;
    rows: new customers per source channel.
    """
    def figures(period: Period) -> dict:
        c = scope.counts(db, period)
        return {"new_customers": c["new_customers"], "active_start": c["active_start"],
                "acquisition_rate": ratio(c["new_customers"], c["active_start"])}

    rows = queries.new_by_source(db, scope.filter, to_iso(scope.period.start), to_iso(scope.period.end))
    return _result("acquisition", scope, _measures(scope, figures, [
        ("new_customers", "New customers", "count"),
        ("active_start", "Active customers at start", "count"),
        ("acquisition_rate", "Acquisition rate", "rate"),
    ]), rows, ("source", "new_customers"))


def churn(db, scope: Scope) -> KpiResult:
    """Customers active at the start, churned customers and the churn rate for the scope's period and, when set, the previous one
    (active: a purchase within ``churn_days`` before the moment).
    """
    def figures(period: Period) -> dict:
        c = scope.counts(db, period)
        return {"active_start": c["active_start"], "churned": c["churned"],
                "churn_rate": ratio(c["churned"], c["active_start"])}

    return _result("churn", scope, _measures(scope, figures, [
        ("active_start", "Active customers at start", "count"),
        ("churned", "Churned customers", "count"),
        ("churn_rate", "Churn rate", "rate"),
    ]), note=f"churn window: {scope.churn_days} days")


def retention(db, scope: Scope) -> KpiResult:
    """Retained, reactivated and end-of-period active customers and the retention rate for the scope's period and, when set, the previous one."""
    def figures(period: Period) -> dict:
        c = scope.counts(db, period)
        return {"retained": c["retained"], "retention_rate": ratio(c["retained"], c["active_start"]),
                "reactivated": c["reactivated"], "active_end": c["active_end"]}

    return _result("retention", scope, _measures(scope, figures, [
        ("retained", "Retained customers", "count"),
        ("retention_rate", "Retention rate", "rate"),
        ("reactivated", "Reactivated customers", "count"),
        ("active_end", "Active customers at end", "count"),
    ]), note=f"churn window: {scope.churn_days} days")


def upgrades(db, scope: Scope) -> KpiResult:
    """Tier upgrades and downgrades and the upgrade rate for the scope's period and, when set, the previous one; rows: changes per tier pair.

    All measures are None, with a note, when the ``tier_upgrade`` kind is not registered (loyalty not active).
    """
    specs = [
        ("upgraded_customers", "Upgraded customers", "count"),
        ("upgrade_rate", "Upgrade rate", "rate"),
        ("upgrades", "Tier upgrades", "count"),
        ("downgrades", "Tier downgrades", "count"),
    ]
    if UPGRADE_KIND not in scope.kinds:
        return _result("upgrades", scope, [Measure(n, label, u, None, None) for n, label, u in specs],
                       note="no tier changes: the loyalty plugin (interaction kind tier_upgrade) is not active")
    kinds = [k for k in (UPGRADE_KIND, DOWNGRADE_KIND) if k in scope.kinds]

    def changes(period: Period) -> list[dict]:
        return queries.tier_changes(db, scope.filter, to_iso(period.start), to_iso(period.end), kinds)

    def figures(period: Period) -> dict:
        c = scope.counts(db, period)
        upgraded = queries.distinct_customers_with_kind(db, scope.filter, to_iso(period.start), to_iso(period.end), UPGRADE_KIND)
        rows = changes(period)
        return {
            "upgraded_customers": upgraded,
            "upgrade_rate": ratio(upgraded, c["active_start"] + c["new_customers"]),
            "upgrades": sum(r["changes"] for r in rows if r["kind"] == UPGRADE_KIND),
            "downgrades": sum(r["changes"] for r in rows if r["kind"] == DOWNGRADE_KIND),
        }

    rows = [
        {"change": "upgrade" if r["kind"] == UPGRADE_KIND else "downgrade", "from_tier": r["from_tier"],
         "to_tier": r["to_tier"], "changes": r["changes"], "customers": r["customers"]}
        for r in changes(scope.period)
    ]
    return _result("upgrades", scope, _measures(scope, figures, specs), rows,
                   ("change", "from_tier", "to_tier", "changes", "customers"))


def value(db, scope: Scope) -> KpiResult:
    """Net and gross revenue, refunds, average value, cost coverage, gross margin and profit per
    customer for the scope's period and, when set, the previous one; money in major units; rows: revenue per category.
    """
    def figures(period: Period) -> dict:
        r = scope.revenue(db, period)
        buyers = scope.counts(db, period)["buyers"]
        net = r["gross"] - r["refunds"]
        complete = r["purchases"] > 0 and r["costed_purchases"] == r["purchases"]
        return {
            "net_revenue": scope.money(net), "gross_revenue": scope.money(r["gross"]),
            "refunds": scope.money(r["refunds"]), "buyers": buyers,
            "average_customer_value": scope.money_per(net, buyers),
            "cost_coverage": ratio(r["costed_purchases"], r["purchases"]),
            "gross_margin": ratio(r["costed_revenue"] - r["cost"], r["costed_revenue"]) if r["costed_purchases"] else None,
            "profit_per_customer": scope.money_per(net - r["cost"], buyers) if complete else None,
        }

    rows = [
        {"category": r["category"], "buyers": r["buyers"], "purchases": r["purchases"], "revenue": scope.money(r["revenue"])}
        for r in queries.revenue_by_category(db, scope.filter, to_iso(scope.period.start), to_iso(scope.period.end))
    ]
    return _result("value", scope, _measures(scope, figures, [
        ("net_revenue", "Net revenue", "money"),
        ("gross_revenue", "Gross revenue", "money"),
        ("refunds", "Refunds", "money"),
        ("buyers", "Buying customers", "count"),
        ("average_customer_value", "Average customer value", "money"),
        ("cost_coverage", "Purchases with a cost", "rate"),
        ("gross_margin", "Gross margin", "rate"),
        ("profit_per_customer", "Profit per customer", "money"),
    ]), rows, ("category", "buyers", "purchases", "revenue"), note=f"cost read from purchase data.{scope.cost_key}")


def repeat_purchase(db, scope: Scope) -> KpiResult:
    """Buyers, repeat buyers (two or more purchases up to the period end) and their rate for the scope's period and, when set, the previous one."""
    def figures(period: Period) -> dict:
        c = scope.counts(db, period)
        return {"buyers": c["buyers"], "repeat_buyers": c["repeat_buyers"],
                "repeat_purchase_rate": ratio(c["repeat_buyers"], c["buyers"])}

    return _result("repeat_purchase", scope, _measures(scope, figures, [
        ("buyers", "Buying customers", "count"),
        ("repeat_buyers", "Repeat buyers", "count"),
        ("repeat_purchase_rate", "Repeat purchase rate", "rate"),
    ]))


def cross_sell(db, scope: Scope) -> KpiResult:
    """Buyers, buyers of two or more categories up to the period end and the cross-sell ratio for the scope's period and, when set, the previous one."""
    def figures(period: Period) -> dict:
        c = scope.counts(db, period)
        return {"buyers": c["buyers"], "cross_buyers": c["cross_buyers"],
                "cross_sell_ratio": ratio(c["cross_buyers"], c["buyers"])}

    return _result("cross_sell", scope, _measures(scope, figures, [
        ("buyers", "Buying customers", "count"),
        ("cross_buyers", "Buyers of 2+ categories", "count"),
        ("cross_sell_ratio", "Cross-sell ratio", "rate"),
    ]))


def concentration(db, scope: Scope) -> KpiResult:
    """Customers with positive net revenue and the revenue share of the top 20% for the scope's period and, when set, the previous one;
    rows: the Pareto curve (customer share, revenue share, cumulative revenue in major units).
    """
    def curve(period: Period) -> list[dict]:
        return scope.cached("pareto", period, lambda: queries.pareto(db, scope.filter, to_iso(period.start), to_iso(period.end)))

    def figures(period: Period) -> dict:
        points = curve(period)
        if not points:
            return {"customers_with_revenue": 0, "top_20_share": None}
        n = points[0]["customers"]
        top = -(-n // 5)  # ceil(20% of n)
        cumulative = next(p["cumulative"] for p in points if p["rank"] == top)
        return {"customers_with_revenue": n, "top_20_share": ratio(cumulative, points[0]["total"])}

    rows = [
        {"customers_share": ratio(p["rank"], p["customers"]), "revenue_share": ratio(p["cumulative"], p["total"]),
         "customers": p["rank"], "revenue": scope.money(p["cumulative"])}
        for p in curve(scope.period)
    ]
    return _result("concentration", scope, _measures(scope, figures, [
        ("customers_with_revenue", "Customers with net revenue", "count"),
        ("top_20_share", "Revenue share of the top 20%", "rate"),
    ]), rows, ("customers_share", "revenue_share", "customers", "revenue"))


def cohorts(db, scope: Scope) -> KpiResult:
    """Cohort retention over the last ``cohort_months`` calendar months for the scope's period and, when set, the previous one: rows give each
    first-purchase cohort's share buying in month k (None before month k starts); measure: month-1 retention.
    """
    months = scope.cohort_months
    zone = scope.period.zone  # months of the home zone (None: UTC)
    local = HomeCalendar(zone, db=db).local_sql if zone is not None else None

    def table(period: Period) -> tuple[list[dict], int, int]:
        first = add_months(_month_start(period.end, zone), -(months - 1), zone)
        counts = scope.cached(
            "cohorts", period, lambda: queries.cohorts(db, scope.filter, to_iso(first), to_iso(period.end), local),
        )
        by_cohort: dict[str, dict[int, int]] = {}
        for row in counts:
            by_cohort.setdefault(row["cohort"], {})[row["month"]] = row["customers"]
        rows, m1_buyers, m1_size = [], 0, 0
        for cohort, cells in sorted(by_cohort.items()):
            size = cells.get(0, 0)
            cohort_start = _cohort_start(cohort, zone)
            row = {"cohort": cohort, "customers": size}
            for k in range(months):
                started = add_months(cohort_start, k, zone) < period.end
                row[f"m{k}"] = ratio(cells.get(k, 0), size) if started else None
            rows.append(row)
            if add_months(cohort_start, 2, zone) <= period.end:  # month 1 is complete
                m1_buyers += cells.get(1, 0)
                m1_size += size
        return rows, m1_buyers, m1_size

    def figures(period: Period) -> dict:
        rows, buyers, size = table(period)
        return {"cohorts": len(rows), "month1_retention": ratio(buyers, size)}

    rows = table(scope.period)[0]
    return _result("cohorts", scope, _measures(scope, figures, [
        ("cohorts", "Cohorts", "count"),
        ("month1_retention", "Month-1 retention", "rate"),
    ]), rows, ("cohort", "customers", *[f"m{k}" for k in range(months)]))


def satisfaction(db, scope: Scope) -> KpiResult:
    """Scored answers (scores 1-5), average score and CSAT (share scoring 4-5) for the scope's period and, when set, the previous one;
    rows: the same per topic, with the dissatisfied count.
    """
    def topics(period: Period) -> list[dict]:
        return queries.satisfaction(db, scope.filter, to_iso(period.start), to_iso(period.end))

    def figures(period: Period) -> dict:
        rows = topics(period)
        responses = sum(r["responses"] for r in rows)
        return {
            "responses": responses,
            "average_score": ratio(_exact(sum(r["score_sum"] for r in rows)), responses, SCORE_PLACES),
            "csat": ratio(sum(r["satisfied"] for r in rows), responses),
        }

    rows = [
        {"topic": r["topic"], "responses": r["responses"],
         "average_score": ratio(_exact(r["score_sum"]), r["responses"], SCORE_PLACES),
         "csat": ratio(r["satisfied"], r["responses"]), "dissatisfied": r["dissatisfied"]}
        for r in topics(scope.period)
    ]
    return _result("satisfaction", scope, _measures(scope, figures, [
        ("responses", "Scored answers", "count"),
        ("average_score", "Average score (1-5)", "score"),
        ("csat", "Satisfied (score 4-5)", "rate"),
    ]), rows, ("topic", "responses", "average_score", "csat", "dissatisfied"))


def trend(db, scope: Scope, months: int = 12) -> list[dict]:
    """Monthly figures for the ``months`` calendar months up to the period end (a trend line)."""
    end = scope.period.end
    window = timedelta(days=scope.churn_days)
    zone = scope.period.zone  # months of the home zone (None: UTC)
    local = HomeCalendar(zone, db=db).local_sql if zone is not None else None

    def month_of(moment: datetime) -> str:
        return (moment.astimezone(zone) if zone is not None else moment).strftime("%Y-%m")

    first = add_months(_month_start(end, zone), -(months - 1), zone)
    spans = []
    for k in range(months):
        start = add_months(first, k, zone)
        stop = min(add_months(first, k + 1, zone), end)
        spans.append({"label": month_of(start), "start": to_iso(start), "end": to_iso(stop),
                      "window": to_iso(stop - window), "window_label": month_of(stop - window)})
    rows = queries.monthly_trend(db, scope.filter, spans, to_iso(end), local)
    return [
        {"month": r["month"], "new_customers": r["new_customers"], "active_customers": r["active_customers"],
         "buyers": r["buyers"], "net_revenue": scope.money(r["net_revenue"])}
        for r in rows
    ]


# --- helpers ----------------------------------------------------------------------------------

def _month_start(end, zone=None):
    """Start of the calendar month (of ``zone``; None: UTC) holding the last second before ``end``."""
    anchor = end - timedelta(seconds=1)
    if zone is None:
        return anchor.replace(day=1, hour=0, minute=0, second=0)
    return anchor.astimezone(zone).replace(day=1, hour=0, minute=0, second=0).astimezone(timezone.utc)


def _cohort_start(label: str, zone=None):
    """Midnight (UTC) starting the first day of the cohort month ``YYYY-MM`` in ``zone`` (None: UTC)."""
    first = datetime(int(label[:4]), int(label[5:7]), 1, tzinfo=zone or timezone.utc)
    return first.astimezone(timezone.utc)


def _exact(number) -> Decimal | None:
    """A score sum as an exact Decimal (scores may be halves, stored as JSON numbers)."""
    if number is None:
        return None
    return Decimal(str(number))


CATALOGUE: dict[str, KpiDefinition] = {d.key: d for d in [
    KpiDefinition(
        "acquisition", "Acquisition",
        "New customers: customers whose first purchase falls in the period. "
        "Acquisition rate = new customers / customers active at the period start.",
        acquisition,
    ),
    KpiDefinition(
        "churn", "Churn",
        "A customer is active at a moment when they made a purchase in the churn window before it "
        "(default 180 days, setting reports.churn_days). Churned = active at the period start and not "
        "active at its end. Churn rate = churned / customers active at the start.",
        churn,
    ),
    KpiDefinition(
        "retention", "Retention",
        "Retained = active at the period start and still active at its end. Retention rate = retained / "
        "customers active at the start (= 1 - churn rate). Reactivated = bought before, not active at the "
        "start, bought again in the period.",
        retention,
    ),
    KpiDefinition(
        "upgrades", "Tier upgrades",
        "Upgraded customers: customers with a tier_upgrade interaction in the period (the loyalty plugin "
        "records one per tier change). Upgrade rate = upgraded customers / (customers active at the start "
        "+ new customers).",
        upgrades,
    ),
    KpiDefinition(
        "value", "Customer value and profitability",
        "Net revenue = purchases - refunds in the period. Average customer value = net revenue / buying "
        "customers (one purchase or more in the period). Gross margin = (revenue - cost) / revenue over the "
        "purchases whose data holds a cost (key set by reports.cost_key, default cost). Profit per customer "
        "= (net revenue - cost) / buying customers, shown only when every purchase has a cost.",
        value,
    ),
    KpiDefinition(
        "repeat_purchase", "Repeat purchases",
        "Repeat purchase rate = buying customers of the period with two or more purchases in total up to "
        "the period end / buying customers of the period.",
        repeat_purchase,
    ),
    KpiDefinition(
        "cross_sell", "Cross-selling",
        "Cross-sell ratio = buying customers of the period whose purchases up to the period end span two or "
        "more categories / buying customers of the period.",
        cross_sell,
    ),
    KpiDefinition(
        "concentration", "Revenue concentration",
        "Customers with a positive net revenue in the period are ranked by it (ties by id). Top 20% share = "
        "net revenue of the top ceil(n / 5) customers / net revenue of all n. The Pareto curve gives the "
        "share at every 5% of customers.",
        concentration,
    ),
    KpiDefinition(
        "cohorts", "Cohort retention",
        "Customers grouped by the calendar month of their first purchase, for the months up to the period "
        "end (default 12, setting reports.cohort_months). Cell m<k> = share of the cohort buying in the k-th "
        "calendar month after the first. Month-1 retention = month-1 buyers / customers, over the cohorts "
        "whose month 1 has ended.",
        cohorts,
    ),
    KpiDefinition(
        "satisfaction", "Satisfaction",
        "Scored answers: survey and feedback interactions whose data.score is 1 to 5 (complaint follow-ups "
        "are surveys with topic complaint). Average score = mean score; CSAT = share of scores 4 or 5.",
        satisfaction,
    ),
]}
