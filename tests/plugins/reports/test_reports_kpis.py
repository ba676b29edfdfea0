"""Every KPI against values worked out by hand on the shop of reports_shop.py.

As of 2024-07-01, 60-day churn window: June 2024 is the period, May 2024 the previous one.
Active at June 1 = a purchase in [2024-04-02, 2024-06-01); active at July 1 = a purchase in
[2024-05-02, 2024-07-01). Active at May 1 = [2024-03-02, 2024-05-01).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from reports_shop import AS_OF

import crmkit
from crmkit_reports.periods import calendar_period, explicit_period

D = Decimal


class TestPeriods:
    def test_date_on_a_boundary_closes_the_month_before(self):
        """As of 2024-07-01 (midnight) the month is all of June; previous = all of May."""
        june = calendar_period("month", "2024-07-01")
        assert (june.label, str(june.start.date()), str(june.end.date()), june.complete) == ("2024-06", "2024-06-01", "2024-07-01", True)
        may = june.previous()
        assert (may.label, str(may.start.date()), str(may.end.date())) == ("2024-05", "2024-05-01", "2024-06-01")

    def test_month_to_date_is_compared_like_for_like(self):
        """As of 2024-03-31 12:00: March 1 .. 31 12:00 inclusive (end 12:00:01), compared with
        Feb 1 .. Feb 29 12:00 inclusive (the day clamped to February's length)."""
        march = calendar_period("month", "2024-03-31T12:00:00Z")
        assert (march.complete, str(march.end), str(march)) == (False, "2024-03-31 12:00:01+00:00", "2024-03 through 2024-03-31T12:00:00Z")
        feb = march.previous()
        assert (str(feb.start), str(feb.end)) == ("2024-02-01 00:00:00+00:00", "2024-02-29 12:00:01+00:00")

    def test_quarter_year_and_range(self):
        q = calendar_period("quarter", "2024-05-15")
        assert (q.label, str(q.start.date()), str(q.previous().start.date()), q.previous().label) == ("2024-Q2", "2024-04-01", "2024-01-01", "2024-Q1")
        y = calendar_period("year", "2025-01-01")
        assert (y.label, str(y.start.date()), str(y.end.date())) == ("2024", "2024-01-01", "2025-01-01")
        r = explicit_period("2024-06-01", "2024-06-16")
        p = r.previous()  # 15 days before: May 17 .. June 1
        assert (str(p.start.date()), str(p.end.date())) == ("2024-05-17", "2024-06-01")

    def test_bad_periods_are_refused(self):
        crm = crmkit.open(":memory:", plugins=["reports"])
        with pytest.raises(crmkit.ValidationError, match="period"):
            crm.reports.churn(period="fortnight")
        with pytest.raises(crmkit.ValidationError, match="end after the start"):
            crm.reports.churn(period=("2024-06-16", "2024-06-01"))
        with pytest.raises(crmkit.ValidationError, match="as_of"):
            crm.reports.churn(as_of="yesterday")


class TestCustomerKpis:
    def test_acquisition(self, shop):
        """New in June: D and H (H's first purchase is exactly 2024-06-01T00:00) = 2; active at June 1:
        A (Apr 10), B (May 20), G (Apr 20), I (May 31 23:59:59) = 4; rate 2 / 4 = 0.5.
        May: new B and I = 2, active at May 1: A, C, G = 3, rate 2 / 3 = 0.6667."""
        result = shop.reports.acquisition(as_of=AS_OF)
        assert result.period.label == "2024-06" and result.previous.label == "2024-05"
        assert [(m.name, m.value, m.previous, m.change) for m in result.measures] == [
            ("new_customers", 2, 2, 0),
            ("active_start", 4, 3, 1),
            ("acquisition_rate", D("0.5000"), D("0.6667"), D("-0.1667")),
        ]
        assert result.rows == [{"source": "fair", "new_customers": 1}, {"source": "web", "new_customers": 1}]

    def test_churn_and_retention(self, shop):
        """June: of A, B, G, I (active at June 1) only G has no purchase in [May 2, July 1): churned 1,
        rate 1/4; retained 3, rate 3/4; E (last bought Jan 10) came back June 15: reactivated 1;
        active at July 1: A, B, D, E, H, I = 6.
        May: of A, C, G (active May 1) C (Mar 15) has none in [Apr 2, Jun 1): churn 1/3, retention 2/3."""
        churn = shop.reports.churn(as_of=AS_OF)
        assert (churn["active_start"], churn["churned"], churn["churn_rate"]) == (4, 1, D("0.2500"))
        assert churn.measure("churn_rate").previous == D("0.3333")
        retention = shop.reports.retention(as_of=AS_OF)
        assert [(m.name, m.value, m.previous) for m in retention.measures] == [
            ("retained", 3, 2), ("retention_rate", D("0.7500"), D("0.6667")),
            ("reactivated", 1, 0), ("active_end", 6, 4),
        ]

    def test_churn_window_is_a_setting(self, shop):
        """With 180 days, active at June 1 = purchase in [2023-12-04, 2024-06-01): A, B, C, E, G, I = 6;
        active at July 1 = [2024-01-03, ...): all but nobody lapses (C Mar 15, G Apr 20 still in) -> churn 0/6."""
        shop.reports.configure(churn_days=180)
        churn = shop.reports.churn(as_of=AS_OF, compare=False)
        assert (churn["active_start"], churn["churned"], churn["churn_rate"], churn.previous) == (6, 0, D("0.0000"), None)
        assert churn.measure("churn_rate").previous is None

    def test_repeat_purchase_and_cross_sell(self, shop):
        """June buyers: A, D, E, H, I = 5. Two purchases or more up to July 1: A, D, E, I = 4 -> 0.8
        (H's second purchase is at 2024-07-01T00:00, outside). Two categories or more: A (books, music),
        E (books, music) = 2 -> 0.4. May buyers B, I: none repeat, none cross: 0 / 2."""
        repeat = shop.reports.repeat_purchase(as_of=AS_OF)
        assert [(m.value, m.previous) for m in repeat.measures] == [(5, 2), (4, 0), (D("0.8000"), D("0.0000"))]
        cross = shop.reports.cross_sell(as_of=AS_OF)
        assert [(m.value, m.previous) for m in cross.measures] == [(5, 2), (2, 0), (D("0.4000"), D("0.0000"))]


class TestMoneyKpis:
    def test_value_and_profitability(self, shop):
        """June purchases: 50 + 30 + 20 + 70 + 10 + 15 = 195.00, refund 40.00, net 155.00; 5 buyers -> 31.00.
        One purchase of 6 carries a cost (A's 50.00, cost 20.00): coverage 1/6, margin (50-20)/50 = 0.6,
        profit per customer not given (costs incomplete).
        May: 200 + 25 = 225.00, 2 buyers -> 112.50; B's 200.00 costs 120.00: margin 80/200 = 0.4, coverage 1/2."""
        value = shop.reports.value(as_of=AS_OF)
        assert value["net_revenue"] == D("155.00") and value.measure("net_revenue").previous == D("225.00")
        assert (value["gross_revenue"], value["refunds"], value["buyers"]) == (D("195.00"), D("40.00"), 5)
        assert value["average_customer_value"] == D("31.00")
        assert value.measure("average_customer_value").previous == D("112.50")
        assert value.measure("average_customer_value").change == D("-81.50")
        assert (value["cost_coverage"], value["gross_margin"], value["profit_per_customer"]) == (D("0.1667"), D("0.6000"), None)
        assert (value.measure("cost_coverage").previous, value.measure("gross_margin").previous) == (D("0.5000"), D("0.4000"))
        assert value.rows == [
            {"category": "music", "buyers": 2, "purchases": 2, "revenue": D("120.00")},
            {"category": "toys", "buyers": 1, "purchases": 2, "revenue": D("50.00")},
            {"category": "books", "buyers": 2, "purchases": 2, "revenue": D("25.00")},
        ]

    def test_profit_per_customer_when_every_purchase_has_a_cost(self, crm_path, clock):
        """Two purchases 100.00 (cost 60.00) and 50.00 (cost "10.50") by two customers in June:
        net 150.00, cost 70.50, profit per customer (150.00 - 70.50) / 2 = 39.75; margin 79.50 / 150 = 0.53."""
        crm = crmkit.open(crm_path, plugins=["reports"], clock=clock)
        a, b = crm.customers.add(name="A").id, crm.customers.add(name="B").id
        crm.interactions.record(a, "purchase", "2024-06-02", amount="100.00", data={"cost": 60})
        crm.interactions.record(b, "purchase", "2024-06-03", amount="50.00", data={"cost": "10.50"})
        value = crm.reports.value(as_of=AS_OF)
        assert (value["cost_coverage"], value["gross_margin"], value["profit_per_customer"]) == (D("1.0000"), D("0.5300"), D("39.75"))

    def test_cost_key_is_a_setting(self, shop):
        """With cost_key 'unit_cost' no purchase has a cost: no margin, coverage 0."""
        shop.reports.configure(cost_key="unit_cost")
        value = shop.reports.value(as_of=AS_OF)
        assert (value["cost_coverage"], value["gross_margin"]) == (D("0.0000"), None)

    def test_concentration(self, shop):
        """June net per customer: E 70, A 50, D 50, I 15, H 10 (B's only June event is a refund: -40, left out).
        n = 5, top ceil(5/5) = 1 customer: 70 / 195 = 0.358974 -> 0.3590. Ties (A, D at 50) ranked by id.
        Cumulative: 70, 120, 170, 185, 195 -> 0.3590, 0.6154, 0.8718, 0.9487, 1.
        May: B 200, I 25: top 1 of 2 -> 200 / 225 = 0.8889."""
        result = shop.reports.concentration(as_of=AS_OF)
        assert (result["customers_with_revenue"], result["top_20_share"]) == (5, D("0.3590"))
        assert result.measure("top_20_share").previous == D("0.8889")
        assert [(r["customers"], r["customers_share"], r["revenue_share"], r["revenue"]) for r in result.rows] == [
            (1, D("0.2000"), D("0.3590"), D("70.00")),
            (2, D("0.4000"), D("0.6154"), D("120.00")),
            (3, D("0.6000"), D("0.8718"), D("170.00")),
            (4, D("0.8000"), D("0.9487"), D("185.00")),
            (5, D("1.0000"), D("1.0000"), D("195.00")),
        ]


class TestOtherKpis:
    def test_cohorts(self, shop):
        """Cohorts by first purchase month up to July 1 (12 months back to 2023-07):
        2024-01 E: bought again in June (month 5); 2024-03 C: never again; 2024-04 A, G: A in June (month 2);
        2024-05 B, I: I in June (month 1); 2024-06 D, H. Cells not reached by July 1 are None.
        Month-1 retention over cohorts whose month 1 ended by July 1 (Jan, Mar, Apr, May):
        (0 + 0 + 0 + 1) / (1 + 1 + 2 + 2) = 1/6 = 0.1667. As of June 1 (May cohort's month 1 not over): 0/4."""
        result = shop.reports.cohorts(as_of=AS_OF)
        cells = {r["cohort"]: (r["customers"], [r[f"m{k}"] for k in range(7)]) for r in result.rows}
        one, zero, half = D("1.0000"), D("0.0000"), D("0.5000")
        assert cells == {
            "2024-01": (1, [one, zero, zero, zero, zero, one, None]),
            "2024-03": (1, [one, zero, zero, zero, None, None, None]),
            "2024-04": (2, [one, zero, half, None, None, None, None]),
            "2024-05": (2, [one, half, None, None, None, None, None]),
            "2024-06": (2, [one, None, None, None, None, None, None]),
        }
        assert [(m.name, m.value, m.previous) for m in result.measures] == [
            ("cohorts", 5, 4), ("month1_retention", D("0.1667"), D("0.0000")),
        ]
        assert len(result.columns) == 2 + 12

    def test_satisfaction(self, shop):
        """June scored answers: 5 (service), 3 (no topic -> general), 4 (complaint follow-up), 2 (feedback,
        service); B's feedback without a score is left out. Mean 14 / 4 = 3.50; CSAT 2 of 4 = 0.5.
        By topic: service 2 answers (5, 2) mean 3.50, CSAT 1/2, 1 dissatisfied; complaint 4.00; general 3.00.
        May: one answer, score 1: mean 1.00, CSAT 0."""
        result = shop.reports.satisfaction(as_of=AS_OF)
        assert [(m.value, m.previous) for m in result.measures] == [(4, 1), (D("3.50"), D("1.00")), (D("0.5000"), D("0.0000"))]
        assert result.rows == [
            {"topic": "service", "responses": 2, "average_score": D("3.50"), "csat": D("0.5000"), "dissatisfied": 1},
            {"topic": "complaint", "responses": 1, "average_score": D("4.00"), "csat": D("1.0000"), "dissatisfied": 0},
            {"topic": "general", "responses": 1, "average_score": D("3.00"), "csat": D("0.0000"), "dissatisfied": 0},
        ]

    def test_upgrades_need_the_loyalty_kinds(self, shop):
        result = shop.reports.upgrades(as_of=AS_OF)
        assert all(m.value is None for m in result.measures) and "loyalty" in result.note

    def test_upgrades_counted_from_tier_change_interactions(self, crm_path, clock):
        """A stand-in for the loyalty plugin registers tier_upgrade/tier_downgrade. June: A up once, E up
        twice, G down once: upgraded customers 2, upgrades 3, downgrades 1; rate 2 / (active at start 4 + new 2)."""
        from reports_shop import load_shop

        class TierKinds:
            name = "tiers"

            @crmkit.hookimpl
            def crmkit_interaction_kinds(self):
                return [crmkit.InteractionKind("tier_upgrade", "up"), crmkit.InteractionKind("tier_downgrade", "down")]

        crm = crmkit.open(crm_path, plugins=["reports", TierKinds()], clock=clock)
        ids = load_shop(crm)
        crm.interactions.record_many([
            {"customer_id": ids["A"], "kind": "tier_upgrade", "occurred_at": "2024-06-05", "data": {"from": "silver", "to": "gold"}},
            {"customer_id": ids["E"], "kind": "tier_upgrade", "occurred_at": "2024-06-15", "data": {"from": "bronze", "to": "silver"}},
            {"customer_id": ids["E"], "kind": "tier_upgrade", "occurred_at": "2024-06-20", "data": {"from": "silver", "to": "gold"}},
            {"customer_id": ids["G"], "kind": "tier_downgrade", "occurred_at": "2024-06-25", "data": {"from": "silver", "to": "bronze"}},
        ])
        result = crm.reports.upgrades(as_of=AS_OF)
        assert [(m.name, m.value, m.previous) for m in result.measures] == [
            ("upgraded_customers", 2, 0), ("upgrade_rate", D("0.3333"), D("0.0000")), ("upgrades", 3, 0), ("downgrades", 1, 0),
        ]
        assert [(r["change"], r["from_tier"], r["to_tier"], r["changes"]) for r in result.rows] == [
            ("downgrade", "silver", "bronze", 1), ("upgrade", "silver", "gold", 2), ("upgrade", "bronze", "silver", 1),
        ]  # by kind, then most frequent first

    def test_trend(self, shop):
        """Per month: 2024-06 new D, H; active at July 1 = 6; buyers 5; net 155.00. 2024-05: new B, I; active at
        June 1 (purchase in [Apr 2, Jun 1)) A, B, G, I = 4; net 225.00. 2024-04: new A, G; active at May 1
        ([Mar 2, May 1)) A, C, G = 3; net 190.00. 2023-07 .. 2023-12: nothing."""
        rows = shop.reports.trend(as_of=AS_OF)
        assert [r["month"] for r in rows][:2] == ["2023-07", "2023-08"] and len(rows) == 12
        by_month = {r["month"]: (r["new_customers"], r["active_customers"], r["buyers"], r["net_revenue"]) for r in rows}
        assert by_month["2024-06"] == (2, 6, 5, D("155.00"))
        assert by_month["2024-05"] == (2, 4, 2, D("225.00"))
        assert by_month["2024-04"] == (2, 3, 2, D("190.00"))
        assert by_month["2023-12"] == (0, 0, 0, D("0.00"))


class TestPeriodsAndSegments:
    def test_month_to_date(self, shop):
        """As of 2024-06-16 12:00: June 1 .. 16 12:00: new H only (D's first purchase is June 20);
        previous May 1 .. 16 12:00: nobody new (B bought May 20)."""
        result = shop.reports.acquisition(as_of="2024-06-16T12:00:00Z")
        assert (result["new_customers"], result.measure("new_customers").previous) == (1, 0)

    def test_a_period_to_date_includes_the_moment_of_as_of(self, shop):
        """As of 2024-06-20 10:00, the time of D's first purchase: new H and D = 2."""
        assert shop.reports.acquisition(as_of="2024-06-20T10:00:00Z")["new_customers"] == 2

    def test_explicit_range_and_quarter(self, shop):
        """[June 1, June 16): new H; buyers A, E, H, I = 4. Previous [May 17, June 1): new B, I.
        Q2 as of July 1: new A, G, B, I, D, H = 6; Q1: C, E = 2."""
        ranged = shop.reports.repeat_purchase(as_of=AS_OF, period=("2024-06-01", "2024-06-16"))
        assert ranged["buyers"] == 4
        assert shop.reports.acquisition(as_of=AS_OF, period=("2024-06-01", "2024-06-16")).measure("new_customers").previous == 2
        quarter = shop.reports.acquisition(as_of=AS_OF, period="quarter")
        assert (quarter.period.label, quarter["new_customers"], quarter.measure("new_customers").previous) == ("2024-Q2", 6, 2)

    def test_empty_period(self, shop):
        """December 2022: nothing happened; counts 0, rates and averages undefined (None), no Pareto rows."""
        kpis = shop.reports.kpis(as_of="2023-01-01")
        assert kpis["acquisition"]["new_customers"] == 0 and kpis["acquisition"]["acquisition_rate"] is None
        assert kpis["churn"]["churn_rate"] is None
        assert (kpis["value"]["net_revenue"], kpis["value"]["average_customer_value"]) == (D("0.00"), None)
        assert kpis["concentration"].rows == [] and kpis["concentration"]["top_20_share"] is None
        assert kpis["cohorts"].rows == [] and kpis["satisfaction"]["average_score"] is None

    def test_segment_by_name_and_by_rule(self, shop):
        """EU customers A, B, C, H. June: new H = 1; active at start A, B = 2; none churned;
        net 50 (A) + 10 (H) - 40 (B's refund) = 20.00 over buyers A, H -> 10.00."""
        shop.segments.define("eu", "region = 'EU'")
        for segment in ("eu", "region = 'EU'"):
            kpis = shop.reports.kpis(as_of=AS_OF, segment=segment)
            assert (kpis["acquisition"]["new_customers"], kpis["churn"]["active_start"], kpis["churn"]["churn_rate"]) == (1, 2, D("0.0000"))
            assert (kpis["value"]["net_revenue"], kpis["value"]["average_customer_value"]) == (D("20.00"), D("10.00"))
            assert kpis["value"].segment == segment

    def test_segment_with_no_members(self, shop):
        kpis = shop.reports.kpis(as_of=AS_OF, segment="region = 'APAC'")
        assert kpis["acquisition"]["new_customers"] == 0 and kpis["churn"]["churn_rate"] is None
        assert (kpis["value"]["net_revenue"], kpis["value"]["average_customer_value"]) == (D("0.00"), None)
        assert kpis["satisfaction"]["responses"] == 0 and kpis["cohorts"].rows == []

    def test_unknown_segment_is_a_clear_error(self, shop):
        with pytest.raises(crmkit.NotFound, match="no segment named 'vip'.*no segment is saved yet"):
            shop.reports.churn(segment="vip")
        with pytest.raises(crmkit.RuleError, match="position"):
            shop.reports.churn(segment="spend_365d >>> 3")

    def test_results_as_rows_and_pandas(self, shop):
        result = shop.reports.churn(as_of=AS_OF)
        assert result.to_rows()[2] == {
            "measure": "churn_rate", "label": "Churn rate", "unit": "rate", "value": D("0.2500"),
            "previous": D("0.3333"), "change": D("-0.0833"),
        }
        frame = result.to_pandas()
        assert list(frame["measure"]) == ["active_start", "churned", "churn_rate"]
        assert list(shop.reports.acquisition(as_of=AS_OF).to_pandas("rows")["source"]) == ["fair", "web"]
        with pytest.raises(KeyError, match="no measure"):
            result["nope"]


class TestSettings:
    def test_bad_settings_write_nothing(self, shop):
        before = (shop.reports.settings(), shop.db.execute("SELECT count(*) FROM audit_log").fetchone()[0])
        for bad in ({"churn_days": 0}, {"churn_days": "90"}, {"cost_key": "a b"}, {"colour": 1}, {"churn_days": 30, "cohort_months": 99}):
            with pytest.raises(crmkit.ValidationError):
                shop.reports.configure(**bad)
        assert (shop.reports.settings(), shop.db.execute("SELECT count(*) FROM audit_log").fetchone()[0]) == before

    def test_configure_is_audited(self, shop):
        shop.reports.configure(cohort_months=6)
        row = shop.db.execute("SELECT source, after FROM audit_log WHERE action = 'reports.configure' ORDER BY id DESC").fetchone()
        assert row[0] == "reports" and '"cohort_months": 6' in row[1]
        assert shop.reports.settings() == {"churn_days": 60, "cost_key": "cost", "cohort_months": 6}
