"""Report assembly and output: plugin sections (good and failing), text, CSV, JSON and HTML."""

from __future__ import annotations

import csv
import json
import re
from decimal import Decimal

import pytest
from reports_shop import AS_OF, load_shop

import crmkit
from crmkit import Chart, Section
from crmkit_reports import charts
from crmkit_reports.presentation import Presenter
from crmkit.formatting import Formatter

KPI_KEYS = ["acquisition", "churn", "retention", "upgrades", "value", "repeat_purchase", "cross_sell",
            "concentration", "cohorts", "satisfaction"]


class GoodPlugin:
    """Contributes a section with a funnel chart, as the leads plugin would."""

    name = "goodplugin"

    @crmkit.hookimpl
    def crmkit_report_sections(self, crm, as_of):
        rows = [{"stage": "lead", "count": 40}, {"stage": "qualified", "count": 22}, {"stage": "won", "count": Decimal("9")}]
        return [Section("goodplugin.funnel", "Lead funnel", figures={"as_of": as_of}, rows=rows,
                        charts=[Chart("funnel", "Funnel", "stage", ["count"]), Chart("pie", "Share", "stage", ["count"]),
                                Chart("radar", "Unknown kind", "stage", ["count"])])]


class FailingPlugin:
    name = "failingplugin"

    @crmkit.hookimpl
    def crmkit_report_sections(self, crm, as_of):
        raise RuntimeError("the SLA table is missing")


class WrongTypePlugin:
    name = "wrongtype"

    @crmkit.hookimpl
    def crmkit_report_sections(self, crm, as_of):
        return {"not": "a list"}


@pytest.fixture
def full(crm_path, clock):
    """The shop with the reports plugin and three small plugins contributing sections."""
    clock.set("2024-08-15T09:00:00Z")
    crm = crmkit.open(crm_path, plugins=["reports", GoodPlugin(), FailingPlugin(), WrongTypePlugin()], clock=clock)
    load_shop(crm)
    yield crm
    crm.close()


def test_report_holds_every_kpi_and_every_plugin_section(full):
    report = full.reports.build(as_of=AS_OF)
    keys = [s.key for s in report.sections]
    assert keys[:2] == ["reports.overview", "reports.trend"]
    assert keys[2:12] == [f"reports.{k}" for k in KPI_KEYS]
    assert keys[12:] == ["goodplugin.funnel", "failingplugin.sections", "wrongtype.sections"]
    assert [s.key for s in report.failed] == ["failingplugin.sections", "wrongtype.sections"]
    assert report.section("failingplugin.sections").error == "RuntimeError: the SLA table is missing"
    assert "not a list of crmkit.Section" in report.section("wrongtype.sections").error
    assert report.section("goodplugin.funnel").plugin == "goodplugin"
    overview = report.section("reports.overview")
    assert {"kpi": "churn", "kpi_title": "Churn", "measure": "churn_rate", "label": "Churn rate", "unit": "rate", "value": Decimal("0.2500"),
            "previous": Decimal("0.3333"), "change": Decimal("-0.0833")} in overview.rows
    assert overview.figures["net_revenue"] == Decimal("155.00")


def test_only_the_reports_plugin(shop):
    """With no other plugin the report has exactly the KPI sections and none failed."""
    report = shop.reports.build(as_of=AS_OF, period="quarter", segment="region = 'EU'")
    assert len(report.sections) == 12 and report.failed == []
    assert report.header() == {
        "as_of": "2024-07-01T00:00:00Z", "currency": "USD", "segment": "region = 'EU'",
        "period": {"kind": "quarter", "label": "2024-Q2", "start": "2024-04-01T00:00:00Z", "end": "2024-07-01T00:00:00Z"},
        "previous": {"kind": "quarter", "label": "2024-Q1", "start": "2024-01-01T00:00:00Z", "end": "2024-04-01T00:00:00Z"},
    }


def test_text_output(full):
    text = full.reports.build(as_of=AS_OF).to_text(max_rows=3)
    assert text.startswith(
        "Report as of 2024-07-01 00:00 UTC  period Jun 1, 2024 – Jun 30, 2024  (compared with May 1, 2024 – May 31, 2024)"
    )
    assert re.search(r"\n  Churn rate\s+25\.0%  \(-8\.3 pp vs previous\)\n", text)  # the KPI card, with its change
    assert re.search(r"\nChurn rate\s+25\.0%\s+33\.3%\s+-8\.3 pp\n", text)  # the KPI's table
    assert "churn_rate" not in text and "None" not in text
    assert "FAILED: RuntimeError: the SLA table is missing" in text
    assert "more rows (all of them are in the CSV, JSON and HTML output)" in text


def test_csv_and_json_are_byte_identical_for_the_same_data_and_as_of(full, crm_path, clock, tmp_path):
    first = full.reports.build(as_of=AS_OF)
    paths = first.write_csv(tmp_path / "a") + first.write_json(tmp_path / "a")
    clock.advance(days=40)  # another day, another process: same as_of, same bytes
    again = crmkit.open(crm_path, plugins=["reports", GoodPlugin(), FailingPlugin(), WrongTypePlugin()], clock=clock)
    second = again.reports.build(as_of=AS_OF)
    second.write_csv(tmp_path / "b")
    second.write_json(tmp_path / "b")
    again.close()
    assert len(paths) == 2 * 15
    for path in paths:
        assert path.read_bytes() == (tmp_path / "b" / path.name).read_bytes(), path.name
    assert first.to_html() == second.to_html()


def test_csv_content(full, tmp_path):
    report = full.reports.build(as_of=AS_OF)
    report.write_csv(tmp_path)
    with open(tmp_path / "reports.value.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows == [
        ["category", "buyers", "purchases", "revenue"],
        ["music", "2", "2", "120.00"], ["toys", "1", "2", "50.00"], ["books", "2", "2", "25.00"],
    ]
    churn = (tmp_path / "reports.churn.csv").read_text().splitlines()
    assert churn[0] == "measure,label,unit,value,previous,change"
    assert churn[3] == "churn_rate,Churn rate,rate,0.2500,0.3333,-0.0833"
    upgrades = (tmp_path / "reports.upgrades.csv").read_text().splitlines()
    assert upgrades[1] == "upgraded_customers,Upgraded customers,count,,,"  # loyalty not active: empty cells
    assert (tmp_path / "failingplugin.sections.csv").read_text() == "error\nRuntimeError: the SLA table is missing\n"


def test_json_content(full, tmp_path):
    full.reports.build(as_of=AS_OF, segment="region = 'EU'").write_json(tmp_path)
    data = json.loads((tmp_path / "reports.acquisition.json").read_text())
    assert data["report"]["segment"] == "region = 'EU'" and data["report"]["period"]["label"] == "2024-06"
    section = data["section"]
    assert section["figures"] == {"new_customers": 1, "active_start": 2, "acquisition_rate": "0.5000"}
    assert section["rows"] == [{"source": "web", "new_customers": 1}]
    assert section["charts"] == [{"kind": "hbar", "title": "New customers by source", "x": "source", "y": ["new_customers"], "rows": None}]
    funnel = json.loads((tmp_path / "goodplugin.funnel.json").read_text())["section"]
    assert funnel["figures"] == {"as_of": "2024-07-01T00:00:00Z"} and funnel["rows"][2] == {"stage": "won", "count": "9"}


def test_html_is_self_contained_and_draws_every_chart(full, tmp_path):
    report = full.reports.build(as_of=AS_OF)
    path = report.write_html(tmp_path / "report.html")
    html = path.read_text()
    assert html.startswith("<!DOCTYPE html>") and html.count("<section ") == len(report.sections)
    assert not re.search(r"(src|href)=\"(https?:)?//", html) and "<script" not in html
    assert "@import" not in html and not re.search(r"url\((?!#)", html)  # only references inside the page
    for key in ("reports.trend", "reports.cohorts", "reports.concentration", "goodplugin.funnel"):
        block = html.split(f'data-key="{key}"')[1].split("</section>")[0]
        assert "<svg" in block, key
    assert 'class="chart chart-heatmap"' in html and 'class="chart chart-pareto"' in html
    assert 'class="chart chart-funnel"' in html and 'class="chart chart-pie"' in html
    assert 'Chart "Unknown kind" could not be drawn: unknown chart kind' in html
    assert 'data-key="failingplugin.sections" data-status="failed"' in html
    assert "This section failed: RuntimeError: the SLA table is missing" in html


def test_output_errors_write_nothing(full, tmp_path):
    report = full.reports.build(as_of=AS_OF)
    with pytest.raises(crmkit.CrmError, match="does not exist"):
        report.write_html(tmp_path / "missing" / "report.html")
    (tmp_path / "plain").write_text("x")
    with pytest.raises(crmkit.CrmError, match="is a file, not a folder"):
        report.write_csv(tmp_path / "plain")
    # Only the CRM's own files (the database, and on SQLite its WAL files) and the plain file.
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("crm.db")) == ["plain"]


class TestCharts:
    ROWS = [{"m": "2024-01", "a": 3, "b": Decimal("1.5")}, {"m": "2024-02", "a": 5, "b": None}, {"m": None, "a": -2, "b": 4}]

    def render(self, chart, rows=None):
        section = Section("t.s", "T", rows=self.ROWS if rows is None else rows, labels={"a": "Orders"}, kinds={"b": "money"})
        return charts.render(chart, section, Presenter(Formatter("en_US", "USD")))

    @pytest.mark.parametrize("kind", charts.KINDS)
    def test_every_kind_draws_marks_with_titles(self, kind):
        chart = Chart(kind, f"A {kind} chart", "m", ["a", "b"] if kind in ("line", "bar", "heatmap", "pareto") else ["a"])
        text = self.render(chart)
        assert text.startswith(f'<figure class="chart chart-{kind}"') and text.endswith("</svg></figure>")
        assert re.search(r"<path [^>]*fill=\"(#|rgb)", text)
        assert f"A {kind} chart" in text and "None" not in text
        if kind != "pie":
            assert "Orders" in text  # the column's title, not its key
        assert self.render(chart) == text  # deterministic

    def test_axes_carry_units_and_missing_categories_a_label(self):
        text = self.render(Chart("bar", "Money", "m", ["b"]))
        assert "B (USD)" in text and "(not set)" in text and "Jan 2024" in text

    def test_bad_specs_are_explained(self):
        with pytest.raises(ValueError, match="no column z"):
            self.render(Chart("bar", "t", "m", ["z"]))
        with pytest.raises(ValueError, match="no rows"):
            self.render(Chart("bar", "t", "m", ["a"]), [])

    def test_text_is_escaped(self):
        text = self.render(Chart("hbar", "<b>&", "m", ["a"]), [{"m": "<script>", "a": 1}])
        assert "<script>" not in text and "&lt;script&gt;" in text and "&lt;b&gt;&amp;" in text


OTHER_PLUGINS = sorted(set(__import__("crmkit.plugins", fromlist=["x"]).installed_entry_points()) - {"reports"})


@pytest.mark.parametrize("other", OTHER_PLUGINS)
def test_report_with_another_installed_plugin(other, tmp_path, clock):
    """With each other installed plugin the KPI sections still build and the HTML renders;
    the plugin's own sections appear (built, or failed with their error)."""
    try:
        crm = crmkit.open(tmp_path / "crm.db", plugins=["reports", other], clock=clock)
    except crmkit.CrmError as error:
        pytest.skip(f"plugin {other!r} does not open yet: {error}")
    try:
        load_shop(crm)
        report = crm.reports.build(as_of=AS_OF)
        ours = [s for s in report.sections if s.plugin == "reports"]
        assert len(ours) == 12 and not any(s.error for s in ours)
        assert report.section("reports.value").figures["net_revenue"] == Decimal("155.00")
        if "tier_upgrade" in crm.kinds:
            assert isinstance(report.section("reports.upgrades").figures["upgrades"], int)  # counted, not "n/a"
        html = report.to_html()
        assert html.count("<section ") == len(report.sections)
        assert all(s.plugin in ("reports", other) for s in report.sections)
    finally:
        crm.close()


def test_empty_crm_gives_a_whole_report(clock):
    """No customers at all: every section builds, rates are '-' and no chart fails."""
    crm = crmkit.open(":memory:", plugins=["reports"], clock=clock)
    report = crm.reports.build()
    assert report.failed == [] and report.header()["as_of"] == "2025-01-01T09:00:00Z"
    assert report.section("reports.churn").figures == {"active_start": 0, "churned": 0, "churn_rate": None}
    html = report.to_html()
    assert "could not be drawn" not in html and html.count('data-status="ok"') == 12
    crm.close()
