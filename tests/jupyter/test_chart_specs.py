"""The report and the dashboard draw the same Vega-Lite spec for the same chart.

Both take it from crmkit.charts; the dashboard adds only its pick parameter. Checked on a real
report of the 30-customer shop with every built-in plugin, for every chart the Reports tab shows.
"""

from __future__ import annotations

import datetime

import pytest

import crmkit
from crmkit import Chart, Section, charts
from crmkit.formatting import Formatter
from crmkit_jupyter import dashboard
from crmkit_jupyter.toolkit import ChartView
from crmkit_reports import charts as report_charts
from crmkit_reports.presentation import Presenter
from jupyter_helpers import fill

PLUGINS = ["leads", "loyalty", "complaints", "reports"]


@pytest.mark.parametrize("locale, currency", [("en_US", "USD"), ("zh_CN", "CNY")])
def test_reports_tab_draws_the_html_reports_spec_for_every_chart(crm_path, clock, locale, currency):
    crm = fill(crmkit.open(crm_path, plugins=PLUGINS, clock=clock))
    try:
        crm.settings.set("core.locale", locale)
        board = dashboard(crm)
        panel = board.select("Reports")
        panel.date_picker.value = datetime.date(2024, 12, 1)  # November: every customer's first purchase
        report = panel.report
        show = Presenter(Formatter.for_crm(crm))
        drawn = {chart.title: (chart, section) for section in report.sections if not section.error
                 for chart in section.charts if (chart.rows if chart.rows is not None else section.rows)}
        views = [view for view in panel.chart_box.children if view.spec is not None]
        assert len(views) == len(drawn) > 0
        for view in views:
            chart, section = drawn[view.title]
            assert charts.without_pick(view.spec) == report_charts.spec_of(chart, section, show), view.title
            assert view.spec != charts.without_pick(view.spec)  # the dashboard's marks can be picked
        board.close()
    finally:
        crm.close()


def test_a_chart_view_of_a_section_chart_matches_the_report():
    """Money in minor units, a rate, a month axis: titles, units and formats the same in both."""
    rows = [{"month": "2024-10", "net_revenue": 125_000, "churn_rate": 0.04},
            {"month": "2024-11", "net_revenue": 99_950, "churn_rate": None}]
    section = Section("t.s", "T", rows=rows, kinds={"net_revenue": "money"}, labels={"net_revenue": "Net revenue"})
    show = Presenter(Formatter("zh_CN", "CNY"))
    for chart in (Chart("bar", "Revenue", "month", ("net_revenue",)), Chart("line", "Churn", "month", ("churn_rate",)),
                  Chart("pareto", "Pareto", "month", ("net_revenue",)), Chart("heatmap", "Grid", "month", ("net_revenue", "churn_rate"))):
        report = report_charts.spec_of(chart, section, show)
        view = ChartView.from_spec(chart, rows, **report_charts.terms(chart, section, show.formatter))
        assert charts.without_pick(view.spec) == report
    assert ChartView.from_spec(Chart("bar", "R", "month", ("net_revenue",)), rows,
                               **report_charts.terms(Chart("bar", "R", "month", ("net_revenue",)), section, show.formatter)
                               ).spec["encoding"]["y"]["title"] == "Net revenue (CNY)"
