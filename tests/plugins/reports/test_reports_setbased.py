"""The set-based report queries against the straightforward definitions, on a small demo CRM.

The queries of crmkit_reports.queries read as little as they can: purchases from the earliest
window on, the core's per-customer summary for first purchases, one grouped pass for the twelve
trend months. Here every figure they produce is recomputed from the raw interaction log in plain
Python, the way the KPI definitions read, at several dates, periods, churn windows and segments.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import pytest

import crmkit
from crmkit.testing import FixedClock
from crmkit.timeutil import to_iso
from crmkit_reports import kpis, queries
from crmkit_reports.periods import add_months

CASES = [
    # as_of, period, segment
    ("2025-06-30T12:00:00Z", "month", None),
    ("2025-06-01", "month", None),
    ("2025-03-15T08:30:00Z", "quarter", None),
    ("2025-01-01", "year", None),
    ("2024-02-29T23:59:59Z", "month", None),
    ("2025-06-30T12:00:00Z", ("2024-11-20", "2025-02-03"), None),
    ("2025-06-30T12:00:00Z", "month", "region = 'EU'"),
    ("2025-04-10", "quarter", "frequent-buyers"),
    ("2025-06-30T12:00:00Z", "month", "never-bought"),
]


@pytest.fixture(scope="module")
def demo_crm(tmp_path_factory):
    """A 400-customer demo CRM (all plugins), opened at the demo's today."""
    from crmkit.demo import DEMO_TODAY
    from crmkit.demo.build import build

    path = tmp_path_factory.mktemp("setbased") / "demo.db"
    build(path, customers=400, seed=11)
    crm = crmkit.open(path, clock=FixedClock(DEMO_TODAY))
    yield crm
    crm.close()


class Log:
    """The money interactions of the scope's members, straight from the table."""

    def __init__(self, crm, scope: kpis.Scope):
        flt = scope.filter
        members = None
        if flt.segment_sql:
            members = {row[0] for row in crm.db.execute(flt.segment_sql, flt.segment_params)}
        self.buys: dict[int, list[tuple[str, str | None, int]]] = defaultdict(list)
        self.refunds: list[tuple[int, str, int]] = []
        for cid, kind, at, amount, category in crm.db.execute(
            "SELECT customer_id, kind, occurred_at, amount, category FROM interactions ORDER BY customer_id, occurred_at, id"
        ):
            if members is not None and cid not in members:
                continue
            if kind in flt.in_kinds:
                self.buys[cid].append((at, category, amount or 0))
            elif kind in flt.out_kinds:
                self.refunds.append((cid, at, amount or 0))

    def first(self, cid: int, end: str) -> str | None:
        times = [at for at, _, _ in self.buys[cid] if at < end]
        return min(times) if times else None

    def counts(self, start: str, end: str, start_window: str, end_window: str) -> dict:
        """customer_counts as the KPI definitions read."""
        out = dict.fromkeys(
            ("new_customers", "active_start", "active_end", "retained", "churned", "reactivated",
             "buyers", "repeat_buyers", "cross_buyers"), 0)
        for cid, buys in self.buys.items():
            times = [at for at, _, _ in buys if at < end]
            if not times:
                continue
            before = [at for at in times if at < start]
            in_period = [at for at in times if at >= start]
            at_start = any(start_window <= at for at in before)
            at_end = any(end_window <= at for at in times)
            out["new_customers"] += min(times) >= start
            out["active_start"] += at_start
            out["active_end"] += at_end
            out["retained"] += at_start and at_end
            out["churned"] += at_start and not at_end
            out["reactivated"] += bool(before) and bool(in_period) and not at_start
            if in_period:
                out["buyers"] += 1
                out["repeat_buyers"] += len(times) >= 2
                out["cross_buyers"] += len({c for at, c, _ in buys if at < end and c is not None}) >= 2
        return out

    def new_by_source(self, crm, start: str, end: str) -> list[dict]:
        sources = dict(crm.db.execute("SELECT id, source FROM customers").fetchall())
        counts: dict[str, int] = defaultdict(int)
        for cid in self.buys:
            first = self.first(cid, end)
            if first is not None and first >= start:
                counts[sources[cid]] += 1
        return [{"source": s, "new_customers": n} for s, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0] is None, kv[0] or ""))]

    def cohorts(self, first_start: str, end: str) -> list[dict]:
        def index(at: str) -> int:
            return int(at[:4]) * 12 + int(at[5:7])

        cells: dict[tuple[str, int], set] = defaultdict(set)
        for cid, buys in self.buys.items():
            first = self.first(cid, end)
            if first is None or first < first_start:
                continue
            for at, _, _ in buys:
                if first_start <= at < end:
                    cells[(first[:7], index(at) - index(first))].add(cid)
        return [{"cohort": c, "month": m, "customers": len(ids)} for (c, m), ids in sorted(cells.items())]

    def trend(self, spans: list[dict], end: str) -> list[dict]:
        rows = []
        for span in spans:
            new = active = buyers = 0
            net = 0
            for cid, buys in self.buys.items():
                first = self.first(cid, end)
                new += first is not None and first[:7] == span["label"]
                active += any(span["window"] <= at < span["end"] for at, _, _ in buys)
                bought = [amount for at, _, amount in buys if span["start"] <= at < span["end"]]
                buyers += bool(bought)
                net += sum(bought)
            net -= sum(amount for _, at, amount in self.refunds if span["start"] <= at < span["end"])
            rows.append({"month": span["label"], "start": span["start"], "end": span["end"], "new_customers": new,
                         "active_customers": active, "buyers": buyers, "net_revenue": net})
        return rows


def _spans(scope: kpis.Scope, months: int) -> tuple[list[dict], str]:
    end = scope.period.end
    window = timedelta(days=scope.churn_days)
    first = add_months(kpis._month_start(end), -(months - 1))
    spans = []
    for k in range(months):
        start, stop = add_months(first, k), min(add_months(first, k + 1), end)
        spans.append({"label": to_iso(start)[:7], "start": to_iso(start), "end": to_iso(stop),
                      "window": to_iso(stop - window), "window_label": to_iso(stop - window)[:7]})
    return spans, to_iso(end)


@pytest.mark.parametrize("churn_days", [180, 45, 400])
@pytest.mark.parametrize(("as_of", "period", "segment"), CASES)
def test_counts_match_the_definition(demo_crm, as_of, period, segment, churn_days):
    """New, active, churned, retained, reactivated, buyers, repeat and cross-sell buyers of both periods."""
    scope = demo_crm.reports.scope(as_of=as_of, period=period, segment=segment)
    scope = kpis.Scope(scope.period, scope.previous, scope.segment, scope.filter, churn_days,
                       scope.cost_key, scope.exponent, scope.cohort_months, scope.kinds)
    log = Log(demo_crm, scope)
    window = timedelta(days=churn_days)
    for period_ in scope.periods():
        bounds = [to_iso(period_.start), to_iso(period_.end), to_iso(period_.start - window), to_iso(period_.end - window)]
        assert scope.counts(demo_crm.db, period_) == log.counts(*bounds), (period_, bounds)
        # asked alone, outside the scope's pair of periods, a period gives the same counts
        assert queries.customer_counts(demo_crm.db, scope.filter, *bounds) == log.counts(*bounds)


@pytest.mark.parametrize(("as_of", "period", "segment"), CASES)
def test_new_by_source_and_cohorts_match_the_definition(demo_crm, as_of, period, segment):
    scope = demo_crm.reports.scope(as_of=as_of, period=period, segment=segment)
    log = Log(demo_crm, scope)
    start, end = to_iso(scope.period.start), to_iso(scope.period.end)
    assert queries.new_by_source(demo_crm.db, scope.filter, start, end) == log.new_by_source(demo_crm, start, end)
    first = to_iso(add_months(kpis._month_start(scope.period.end), -(scope.cohort_months - 1)))
    assert queries.cohorts(demo_crm.db, scope.filter, first, end) == log.cohorts(first, end)


@pytest.mark.parametrize("months", [1, 12, 30])
@pytest.mark.parametrize("churn_days", [180, 1, 31, 400])
@pytest.mark.parametrize(("as_of", "period", "segment"), CASES[:3] + CASES[6:8])
def test_trend_matches_the_definition(demo_crm, as_of, period, segment, churn_days, months):
    """Every trend month's new, active (window before the month end), buying customers and net revenue."""
    scope = demo_crm.reports.scope(as_of=as_of, period=period, segment=segment, compare=False)
    scope = kpis.Scope(scope.period, None, scope.segment, scope.filter, churn_days,
                       scope.cost_key, scope.exponent, scope.cohort_months, scope.kinds)
    spans, end = _spans(scope, months)
    assert queries.monthly_trend(demo_crm.db, scope.filter, spans, end) == Log(demo_crm, scope).trend(spans, end)


def test_summary_first_purchases_are_the_log_s(demo_crm):
    """The queries read first purchases from the core's summary: on the demo it equals the log's minimum."""
    mismatches = demo_crm.db.execute(
        """SELECT COUNT(*) FROM customers c LEFT JOIN customer_summary s ON s.customer_id = c.id
           WHERE s.first_purchase_at IS NOT (SELECT MIN(occurred_at) FROM interactions i
                                             WHERE i.customer_id = c.id AND i.kind = 'purchase')"""
    ).fetchone()[0]
    assert mismatches == 0


def test_customers_without_a_source_are_one_row_of_none_after_the_sources(crm_path):
    # None, not a made-up "(unknown)" a real source could also be called: the chart labels it
    # "(not set)" and a drill-down asks for "source is null". Listed after the sources with as
    # many new customers on both engines (they order NULL differently).
    with crmkit.open(crm_path, plugins=["reports"], clock=FixedClock("2025-07-01T00:00:00Z")) as crm:
        for name, source in (("A", "web"), ("B", None), ("C", "ads"), ("D", None), ("E", "(unknown)")):
            customer = crm.customers.add(name=name, source=source)
            crm.interactions.record(customer.id, "purchase", "2025-06-10", amount="10")
        flt = queries.Filter(["purchase"], ["refund"])
        rows = queries.new_by_source(crm.db, flt, "2025-06-01T00:00:00Z", "2025-07-01T00:00:00Z")
    assert rows == [
        {"source": None, "new_customers": 2},
        {"source": "(unknown)", "new_customers": 1},
        {"source": "ads", "new_customers": 1},
        {"source": "web", "new_customers": 1},
    ]
