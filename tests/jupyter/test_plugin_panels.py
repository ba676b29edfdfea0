"""The built-in plugins' dashboard panels, on a real CRM file with all four plugins active.

Each test opens a plugin's tab, drives its widgets as a user would, and checks both the widget
state and what code sees through the same service API the panel calls.
"""

from __future__ import annotations

import datetime
import subprocess
import sys
from collections import Counter
from decimal import Decimal

import pytest

import crmkit
from crmkit.formatting import Formatter
from crmkit_complaints.panel import time_left
from crmkit_jupyter import dashboard
from crmkit_leads.panel import leads_panel
from crmkit_loyalty.panel import rfm_grid
from crmkit_reports.panel import chart_specs
from jupyter_helpers import admin_count, fill

PLUGINS = ["leads", "loyalty", "complaints", "reports"]
# priority per lead name; the pool lists the highest priority first
LEADS = {"Lead A": 1, "Lead B": 3, "Lead C": 2, "Lead D": 0}


@pytest.fixture
def world(crm_path, clock):
    """The 30-customer shop (each bought 10*i.00 on 2024-11-01; three refunds of 5.00 on
    2024-11-15) with every built-in plugin, two reps, four pool leads, one complaint handler and
    two complaints opened at the clock's 2025-01-01 09:00, and a bronze tier everyone reaches."""
    crm = fill(crmkit.open(crm_path, plugins=PLUGINS, clock=clock))
    crm.leads.add_rep("ann", "Ann Lee", capacity=2)
    crm.leads.add_rep("bo", "Bo Diaz", capacity=3)
    leads = {name: crm.leads.add(name, priority=priority, source="web search").id for name, priority in LEADS.items()}
    crm.complaints.add_handler("sam")
    urgent = crm.complaints.open(1, category="billing", severity="high")  # acknowledge within 8h
    normal = crm.complaints.open(2, category="delivery", severity="normal")  # acknowledge within 24h
    crm.loyalty.tiers.define([{"name": "bronze", "metric": "purchases", "threshold": 1}])
    crm.loyalty.tiers.evaluate()
    yield {"crm": crm, "clock": clock, "leads": leads, "urgent": urgent.id, "normal": normal.id}
    crm.close()


def audit_rows(crm) -> int:
    return admin_count(crm, "audit_log")


class TestTabs:
    def test_every_plugin_adds_its_tab_in_order_built_on_first_opening(self, world):
        """Leads 30, Loyalty 40, Complaints 50, Reports 60 after the core's two tabs."""
        board = dashboard(world["crm"])
        assert board.titles == ["Customers", "Segments", "Leads", "Loyalty", "Complaints", "Reports"]
        assert [p.plugin for p in board.panels[2:]] == PLUGINS
        assert list(board.built) == ["customers"]
        for title in board.titles[2:]:
            assert board.select(title) is not None
        assert board.errors == {}
        board.close()

    def test_panel_modules_import_no_widgets(self):
        """A plugin (and its panel hook) works where Jupyter is missing: nothing imports
        ipywidgets or crmkit_jupyter until a factory runs."""
        code = (
            "import sys, crmkit\n"
            "import crmkit_leads.panel, crmkit_loyalty.panel, crmkit_complaints.panel, crmkit_reports.panel\n"
            "crm = crmkit.open(':memory:', plugins=['leads', 'loyalty', 'complaints', 'reports'])\n"
            "names = sorted(p.name for _, result, _ in crm.plugins.each('crmkit_panels', crm=crm) for p in result)\n"
            "assert names == ['complaints', 'leads', 'loyalty', 'reports'], names\n"
            "assert 'ipywidgets' not in sys.modules and 'crmkit_jupyter' not in sys.modules\n"
        )
        subprocess.run([sys.executable, "-c", code], check=True)


class TestReportsPanel:
    def test_cards_and_charts_follow_the_date_and_period(self, world):
        crm = world["crm"]
        board = dashboard(crm)
        panel = board.select("Reports")
        # as of the clock (2025-01-01 09:00) the month to date has no first purchase
        assert panel.cards["new_customers"].figure == 0
        panel.date_picker.value = datetime.date(2024, 12, 1)  # midnight: the whole of November
        assert panel.report.period.label == "2024-11"
        # every customer's first purchase was on 2024-11-01; none in October
        assert (panel.cards["new_customers"].figure, panel.cards["new_customers"].previous) == (30, 0)
        # 10 * (1 + 2 + ... + 30) = 10 * 465 = 4650.00 bought, 3 refunds of 5.00 -> 4635.00
        assert panel.cards["net_revenue"].figure == Decimal("4635.00")
        assert panel.cards["net_revenue"].figure == crm.reports.value(as_of="2024-12-01")["net_revenue"]
        panel.period_choice.value = "quarter"
        assert panel.report.period.label == "2024-Q4"
        assert panel.cards["new_customers"].figure == crm.reports.kpi("acquisition", as_of="2024-12-01", period="quarter")["new_customers"] == 30
        # the quarter to date (Oct 1 - Nov 30) against the same days of the quarter before
        assert "Oct 1\u2009–\u2009Nov 30, 2024 vs Jul 1\u2009–\u2009Aug 31, 2024" in panel.cards["new_customers"].note
        expected = chart_specs(crm.reports.build(as_of="2024-12-01", period="quarter"))
        assert len(panel.chart_box.children) == len(expected) > 0
        assert [view.title for view in panel.chart_box.children] == [chart.title for _, chart, _ in expected]
        for view in panel.chart_box.children:  # drawn, or says there is nothing to draw (never blank)
            assert view.svg.startswith("<svg") if view.rows else "No data to chart yet" in view.svg
        board.close()

    def test_a_failing_report_shows_its_error_and_keeps_the_panel(self, world):
        crm = world["crm"]
        crm.segments.define("eu", "region = 'EU'")
        board = dashboard(crm)
        panel = board.select("Reports")
        shown = panel.report
        crm.segments.delete("eu")  # deleted in code after the tab was opened
        panel.segment_choice.value = "eu"
        assert "no segment named &#x27;eu&#x27;" in panel.status.value  # escaped HTML
        assert panel.report is shown  # the last good report stays on screen
        assert not panel.recompute_button.disabled
        board.close()


class TestComplaintsPanel:
    def test_queue_shows_sla_state_most_urgent_first(self, world):
        crm, clock = world["crm"], world["clock"]
        board = dashboard(crm)
        panel = board.select("Complaints")
        rows = panel.table.rows
        assert [r["id"] for r in rows] == [world["urgent"], world["normal"]]
        # opened at 09:00: 8 h and 24 h to acknowledge, round the clock
        assert [(r["state"], r["left"]) for r in rows] == [("ok", "due in 8 hours"), ("ok", "due in 24 hours")]
        clock.advance(hours=7)  # 1 h left of 8: under a quarter of the target
        panel.refresh_button.click()
        assert [(r["state"], r["left"]) for r in panel.table.rows] == [("at_risk", "due in 60 minutes"), ("ok", "due in 17 hours")]
        assert [r["state"] for r in panel.table.rows] == [r["state"] for r in crm.complaints.sla()]
        board.close()

    def test_steps_go_through_the_service_and_refusals_change_nothing(self, world):
        crm = world["crm"]
        board = dashboard(crm)
        panel = board.select("Complaints")
        complaint_id = world["urgent"]
        assert all(button.disabled for button in panel.step_buttons.values())  # nothing chosen yet
        panel.table.select(complaint_id)
        assert "Allowed next: <b class='crmkit-complaint-allowed'>acknowledged" in panel.detail.value
        assert [step for step, button in panel.step_buttons.items() if not button.disabled] == ["acknowledge"]
        before = audit_rows(crm)
        panel.step_buttons["close"].click()
        assert "cannot move to closed. Allowed next: acknowledged" in panel.status.value
        assert crm.complaints.get(complaint_id).status == "received"
        assert audit_rows(crm) == before
        panel.step_buttons["acknowledge"].click()
        panel.step_buttons["assess"].click()
        panel.step_buttons["reject"].click()  # no reason typed
        assert "reason" in panel.status.value and "crmkit-complaint-refused" in panel.status.value
        assert crm.complaints.get(complaint_id).status == "assessing"
        assert [step for step, button in panel.step_buttons.items() if not button.disabled] == ["resolve", "reject"]
        panel.resolution.value = "refund"
        panel.amount.value = "12.50"
        panel.step_buttons["resolve"].click()
        resolved = crm.complaints.get(complaint_id)
        assert (resolved.status, resolved.resolution, resolved.resolution_amount) == ("resolved", "refund", Decimal("12.50"))
        assert "is now resolved" in panel.status.value
        assert [e.event for e in crm.complaints.history(complaint_id)][-3:] == ["acknowledged", "assessing", "resolved"]
        assert "resolved" in panel.detail.value
        # a resolved complaint leaves the open queue; listed under its state
        assert complaint_id not in [r["id"] for r in panel.table.rows]
        panel.show_choice.value = "resolved"
        assert [r["id"] for r in panel.table.rows] == [complaint_id]
        panel.score.value, panel.accepted.value = 4, True
        panel.step_buttons["follow_up"].click()
        panel.step_buttons["close"].click()
        panel.reason.value = "the refund never arrived"
        panel.step_buttons["reopen"].click()
        reopened = crm.complaints.get(complaint_id)
        assert (reopened.status, reopened.satisfaction, reopened.reopen_count) == ("reopened", 4, 1)
        board.close()

    def test_open_by_id_reports_a_missing_complaint(self, world):
        board = dashboard(world["crm"])
        panel = board.select("Complaints")
        panel.id_input.value = 999
        panel.open_button.click()
        assert "no complaint with id 999" in panel.detail.value
        before = audit_rows(world["crm"])
        panel.step_buttons["acknowledge"].click()
        assert "choose a complaint first" in panel.status.value
        assert audit_rows(world["crm"]) == before
        board.close()

    def test_time_left_in_words(self):
        """Never "-1002d 9h": overdue reads as such, in the locale's language."""
        english, chinese = Formatter("en_US"), Formatter("zh_CN")
        assert time_left(english, -5400) == "2 hours overdue"  # 1.5 h rounds to 2 (babel's threshold)
        assert time_left(english, -(1002 * 86400 + 9 * 3600)) == "3 years overdue"
        assert time_left(english, 3 * 86400) == "due in 3 days"
        assert time_left(chinese, -3 * 86400) == "逾期3天"
        assert time_left(english, None) == ""


class TestLeadsPanel:
    def test_the_pool_pages_through_the_service(self, world):
        crm, ids = world["crm"], world["leads"]
        panel = leads_panel(crm, page_size=3)
        by_priority = [ids["Lead B"], ids["Lead C"], ids["Lead A"]]
        assert (panel.pool.total, [r["id"] for r in panel.pool.rows]) == (4, by_priority)
        panel.pool.next_page()
        assert ([r["id"] for r in panel.pool.rows], panel.pool.start) == ([ids["Lead D"]], 3)
        panel.pool.prev_page()
        assert [r["id"] for r in panel.pool.rows] == by_priority
        panel.pool.last_page()  # the last three of four: offset 4 - 3 = 1
        assert ([r["id"] for r in panel.pool.rows], panel.pool.start) == ([ids["Lead C"], ids["Lead A"], ids["Lead D"]], 1)
        assert [r["id"] for r in panel.pool.rows] == [lead.id for lead in crm.leads.pool(3, 1)]
        panel.close()

    def test_allocate_dry_run_then_for_real(self, world):
        crm = world["crm"]
        board = dashboard(crm)
        panel = board.select("Leads")
        panel.strategy.value = "least_loaded"
        before = audit_rows(crm)
        panel.allocate_button.click()  # dry run is ticked by default
        assert "would assign 4 leads" in panel.status.value
        assert crm.leads.counts()["pool"] == 4 and audit_rows(crm) == before
        panel.dry_run.value = False
        panel.allocate_button.click()
        assert "assigned 4 leads" in panel.status.value
        assert crm.leads.counts()["pool"] == panel.pool.total == 0
        loads = {row["rep"]: row["open_leads"] for row in panel.load_chart.rows}
        assert loads == {row["rep"]: row["open_leads"] for row in crm.leads.fairness()["reps"]}
        assert sum(loads.values()) == 4 and loads["ann"] <= 2 and loads["bo"] <= 3
        assert {lead.owner for lead in crm.leads.leads(status="assigned")} <= {"ann", "bo"}
        board.close()

    def test_bad_strategy_is_refused_in_the_panel(self, world):
        crm = world["crm"]
        board = dashboard(crm)
        panel = board.select("Leads")
        panel.dry_run.value = False
        panel.strategy.value = "fastest_first"
        before = audit_rows(crm)
        assert panel.allocate() is None
        assert "fastest_first" in panel.status.value and "crmkit-error" in panel.status.value
        assert crm.leads.counts()["pool"] == 4 and audit_rows(crm) == before
        assert not panel.allocate_button.disabled
        board.close()

    def test_claim_the_chosen_lead_then_recycle(self, world):
        crm, clock, ids = world["crm"], world["clock"], world["leads"]
        board = dashboard(crm)
        panel = board.select("Leads")
        panel.claim_button.click()
        assert "choose a lead" in panel.status.value
        panel.pool.select(ids["Lead C"])
        panel.rep.value = "bo"
        panel.claim_button.click()
        lead = crm.leads.get(ids["Lead C"])
        assert (lead.status, lead.owner) == ("assigned", "bo")
        assert panel.pool.total == 3 and ids["Lead C"] not in [r["id"] for r in panel.pool.rows]
        before = audit_rows(crm)
        panel.pool.select(ids["Lead C"])  # no longer in the pool
        panel.rep.value = "ann"
        assert panel.claim() is None and "crmkit-error" in panel.status.value
        assert crm.leads.get(ids["Lead C"]).owner == "bo" and audit_rows(crm) == before
        clock.advance(days=8)  # past the default 7-day recycle period without a follow-up
        panel.recycle_button.click()
        assert "recycled 1" in panel.status.value
        assert crm.leads.get(ids["Lead C"]).status == "pool"
        assert panel.pool.total == crm.leads.counts()["pool"] == 4
        board.close()


class TestLoyaltyPanel:
    def test_run_rfm_fills_the_grid_from_the_stored_run(self, world):
        crm = world["crm"]
        board = dashboard(crm)
        panel = board.select("Loyalty")
        assert "No RFM run" in panel.rfm_info.value and panel.grid_rows == []
        panel.rfm_button.click()
        runs = crm.loyalty.runs("rfm")
        assert len(runs) == 1 and panel.rfm_run == runs[0]
        cells = Counter((s.r, s.f) for s in crm.loyalty.rfm_scores(runs[0].id))
        expected = [{"R": f"R{r}", **{f"F{f}": cells[(r, f)] for f in range(1, 6)}} for r in (5, 4, 3, 2, 1)]
        assert panel.grid_rows == expected == rfm_grid(crm, runs[0].id)
        assert sum(v for row in panel.grid_rows for k, v in row.items() if k != "R") == 30  # all bought in the year
        assert panel.grid.rows == expected and panel.grid.kind == "heatmap"
        assert panel.grid.svg.count('aria-label="R: ') == 25  # a described cell per R x F score
        board.close()

    def test_clv_that_cannot_be_fitted_says_why_without_a_traceback(self, world):
        """Every customer of the shop bought once: no repeat buyers, so no CLV model."""
        crm = world["crm"]
        board = dashboard(crm)
        panel = board.select("Loyalty")
        assert "No CLV run as of 2025-01-01" in panel.clv_info.value
        panel.clv_button.click()
        assert "crmkit-error" in panel.status.value and "CLV needs at least 10 customers" in panel.status.value
        assert "Traceback" not in panel.status.value and crm.loyalty.runs("clv") == []
        assert "CLV could not be fitted as of 2025-01-01: CLV needs" in panel.clv_info.value
        panel.date_picker.value = datetime.date(2024, 12, 1)  # before the attempt
        assert "No CLV run as of 2024-12-01" in panel.clv_info.value
        board.close()

    def test_tiers_churn_and_the_date(self, world):
        crm = world["crm"]
        board = dashboard(crm)
        panel = board.select("Loyalty")
        assert panel.tier_chart.rows == [{"tier": "bronze", "customers": 30}]
        assert "1 upgrades" not in panel.movement.value and "30 upgrades" in panel.movement.value
        assert "No churn run" in panel.churn_info.value
        panel.churn_button.click()
        assert len(crm.loyalty.runs("churn")) == 1
        warned = crm.loyalty.churn_warnings(limit=5000)
        assert panel.warnings.total == len(warned)
        # names, not only ids: each row's name is the customer's own
        assert all(row["customer"] == crm.customers.get(row["customer_id"]).name for row in panel.warnings.source.rows)
        assert panel.level_chart.rows == [{"level": w, "customers": n} for w, n in Counter(w.level for w in warned).items() if n] or not warned
        panel.level.value = "high"
        assert panel.warnings.total == len(crm.loyalty.churn_warnings(min_level="high", limit=5000))
        panel.rfm_button.click()
        panel.date_picker.value = datetime.date(2024, 10, 1)  # before every stored run and purchase
        assert "No RFM run as of 2024-10-01" in panel.rfm_info.value
        assert "No churn run" in panel.churn_info.value
        assert panel.tier_chart.rows == [{"tier": "bronze", "customers": 0}]
        board.close()
