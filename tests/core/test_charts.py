"""The one chart spec builder (crmkit.charts) the report and the dashboard both draw.

Expected titles, formats and labels are written out here from the chart's definition and the
locale's conventions, not read back from the builder.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest

from crmkit import Chart
from crmkit import charts
from crmkit.formatting import Formatter

EN = Formatter("en_US", "USD")
ZH = Formatter("zh_CN", "CNY")
# revenue in integer minor units (money); orders a count; 2024-12 has no orders figure
ROWS = [
    {"month": "2024-10", "revenue": 10_000, "orders": 3},
    {"month": "2024-11", "revenue": 250_050, "orders": 12},
    {"month": "2024-12", "revenue": 4_000, "orders": None},
]
KINDS = {"revenue": "money"}


def units(vega_lite: dict) -> list[dict]:
    """The spec and its layers: every place an encoding can sit."""
    return [vega_lite, *vega_lite.get("layer", [])]


def channel(vega_lite: dict, name: str) -> list[dict]:
    return [u["encoding"][name] for u in units(vega_lite) if name in u.get("encoding", {})]


def records(vega_lite: dict) -> list[dict]:
    return vega_lite["data"]["values"]


@pytest.mark.parametrize("kind, value_channel", [("line", "y"), ("bar", "y"), ("hbar", "x"), ("funnel", "x"), ("pareto", "y")])
def test_value_axes_have_titles_with_units_and_round_money_ticks(kind, value_channel):
    vega_lite = charts.spec(Chart(kind, "Revenue", "month", ("revenue",)), ROWS, formatter=EN, kinds=KINDS)
    value = channel(vega_lite, value_channel)[0]
    assert value["title"] == "Revenue (USD)"
    assert value["axis"]["format"] == "$,~f"  # under ten thousand dollars: separators, no SI suffix
    category = "y" if value_channel == "x" else "x"
    assert channel(vega_lite, category)[0]["title"] == "Month"
    assert vega_lite["title"] == "Revenue"


def test_counts_tick_in_whole_numbers_and_large_values_in_si_units():
    counts = charts.spec(Chart("bar", "Orders", "month", ("orders",)), ROWS, formatter=EN)
    assert channel(counts, "y")[0]["axis"] == {"format": ",~f", "tickCount": 5, "tickMinStep": 1}  # 3 and 12 orders
    few = charts.spec(Chart("hbar", "New", "source", ("new",)), [{"source": "web", "new": 1}, {"source": "ads", "new": 3}])
    assert channel(few, "x")[0]["axis"] == {"format": ",~f", "values": [0, 1, 2, 3]}  # no 0.5 tick
    big = charts.spec(Chart("bar", "Visits", "m", ("visits",)), [{"m": "a", "visits": 2_500_000}, {"m": "b", "visits": 10}])
    assert channel(big, "y")[0]["axis"]["format"] == "~s"  # 2.5M, not 2,500,000 on the axis
    rates = charts.spec(Chart("hbar", "Churn", "tier", ("churn",)), [{"tier": "gold", "churn": 0.125}], kinds={"churn": "rate"})
    assert channel(rates, "x")[0] == {"field": "value", "type": "quantitative", "title": "Churn (%)",
                                      "axis": {"format": ".0%", "tickCount": 5}}


def test_several_series_get_a_legend_one_series_one_colour():
    two = charts.spec(Chart("line", "T", "month", ("revenue", "orders")), ROWS, kinds=KINDS)
    assert two["encoding"]["color"]["field"] == "series" and two["encoding"]["color"]["sort"] == ["Revenue", "Orders"]
    one = charts.spec(Chart("line", "T", "month", ("orders",)), ROWS)
    assert "field" not in one["encoding"]["color"]


def test_money_is_plotted_in_major_units_and_missing_values_are_left_out():
    vega_lite = charts.spec(Chart("bar", "T", "month", ("revenue", "orders")), ROWS, kinds=KINDS)
    plotted = [(r["key"], r["series"], r["value"]) for r in records(vega_lite)]
    assert plotted == [("2024-10", "Revenue", 100.0), ("2024-10", "Orders", 3.0), ("2024-11", "Revenue", 2500.5),
                       ("2024-11", "Orders", 12.0), ("2024-12", "Revenue", 40.0)]


def test_pareto_has_two_y_axes_and_its_cumulative_share():
    """Bars largest first (2500.50, 100.00, 40.00 of 2640.50); the line's shares on the right axis."""
    vega_lite = charts.spec(Chart("pareto", "Pareto", "month", ("revenue",)), ROWS, formatter=EN, kinds=KINDS)
    assert vega_lite["resolve"] == {"scale": {"y": "independent"}}
    bars, line = channel(vega_lite, "y")
    assert bars["field"] == "value" and bars["title"] == "Revenue (USD)" and bars["axis"].get("orient", "left") == "left"
    assert line["axis"]["orient"] == "right" and line["axis"]["format"] == ".0%" and line["scale"]["domain"] == [0, 1]
    assert line["title"] == "Cumulative share (%)"
    assert [r["key"] for r in records(vega_lite)] == ["2024-11", "2024-10", "2024-12"]
    assert [round(r["cumulative_share"], 6) for r in records(vega_lite)] == [
        round(2500.5 / 2640.5, 6), round(2600.5 / 2640.5, 6), 1.0]


def test_pareto_with_its_share_column_keeps_the_rows_order():
    rows = [{"band": "top 5%", "added": 0.4, "cumulative": 0.4}, {"band": "next 5%", "added": 0.2, "cumulative": 0.6}]
    vega_lite = charts.spec(Chart("pareto", "P", "band", ("added", "cumulative")), rows,
                            labels={"cumulative": "Cumulative share"}, kinds={"added": "rate", "cumulative": "rate"})
    bars, line = channel(vega_lite, "y")
    assert line["title"] == "Cumulative share (%)" and line["axis"]["orient"] == "right"
    assert [r["cumulative_share"] for r in records(vega_lite)] == [0.4, 0.6]


@pytest.mark.parametrize("formatter, texts", [
    (EN, ["1,234", "12.5%", "7", "50.0%"]),
    (ZH, ["1,234", "12.5%", "7", "50.0%"]),
    (Formatter("de_DE", "EUR"), ["1.234", "12,5%", "7", "50,0%"]),  # the formatter's one rate pattern
])
def test_heat_map_prints_its_values_as_text_marks(formatter, texts):
    rows = [{"r": 1, "customers": 1234, "share": 0.125}, {"r": 2, "customers": 7, "share": 0.5}]
    vega_lite = charts.spec(Chart("heatmap", "Grid", "r", ("customers", "share")), rows, formatter=formatter,
                            kinds={"share": "rate"})
    text_layers = [u for u in vega_lite["layer"] if isinstance(u["mark"], dict) and u["mark"]["type"] == "text"]
    assert len(text_layers) == 1 and text_layers[0]["encoding"]["text"] == {"field": "text"}
    assert [r["text"] for r in records(vega_lite)] == texts
    assert vega_lite["layer"][0]["encoding"]["color"]["legend"]["orient"] == "right"  # colour means the value


def test_categories_read_as_words_months_by_locale_and_missing_as_not_set():
    rows = [{"segment": "at_risk", "n": 1}, {"segment": None, "n": 2}, {"segment": "sla_breached", "n": 3}]
    vega_lite = charts.spec(Chart("hbar", "Segments", "segment", ("n",)), rows)
    assert [r["category"] for r in records(vega_lite)] == ["At risk", "(not set)", "SLA breached"]
    assert [r["key"] for r in records(vega_lite)] == ["at_risk", None, "sla_breached"]  # what a pick hands back
    assert "None" not in json.dumps(vega_lite) and "null" not in json.dumps(vega_lite["encoding"])
    months = [r["category"] for r in records(charts.spec(Chart("bar", "T", "month", ("orders",)), ROWS[:2], formatter=ZH))]
    assert months == ["2024年10月", "2024年11月"]
    months = [r["category"] for r in records(charts.spec(Chart("bar", "T", "month", ("orders",)), ROWS[:2], formatter=EN))]
    assert months == ["Oct 2024", "Nov 2024"]


def test_funnel_labels_each_step_with_its_share_of_the_first():
    rows = [{"status": "new", "leads": 200}, {"status": "qualified", "leads": 50}, {"status": "won", "leads": 5}]
    vega_lite = charts.spec(Chart("funnel", "Funnel", "status", ("leads",)), rows, formatter=EN)
    assert [r["text"] for r in records(vega_lite)] == ["200 (100.0%)", "50 (25.0%)", "5 (2.5%)"]
    assert [r["category"] for r in records(vega_lite)] == ["New", "Qualified", "Won"]


def test_pie_colours_mean_categories_with_a_legend_title():
    vega_lite = charts.spec(Chart("pie", "Share", "tier", ("members",)), [{"tier": "gold", "members": 3}, {"tier": "silver", "members": 0}])
    assert vega_lite["encoding"]["color"]["title"] == "Tier" and [r["category"] for r in records(vega_lite)] == ["Gold"]


def test_number_locale_follows_the_locale_and_the_crms_currency():
    assert charts.number_locale(EN) == {"decimal": ".", "thousands": ",", "grouping": [3], "currency": ["$", ""]}
    assert charts.number_locale(ZH) == {"decimal": ".", "thousands": ",", "grouping": [3], "currency": ["¥", ""]}
    assert charts.number_locale(Formatter("de_DE", "EUR"))["decimal"] == ","


def test_the_pick_parameter_is_all_the_dashboard_adds():
    chart = Chart("bar", "Revenue", "month", ("revenue",))
    plain = charts.spec(chart, ROWS, kinds=KINDS)
    picked = charts.spec(chart, ROWS, kinds=KINDS, pick=True)
    assert picked["params"][0]["name"] == "pick" and picked["params"][0]["select"]["fields"] == ["key"]
    assert picked["encoding"]["description"] == {"field": "description", "type": "nominal"}
    assert "params" not in plain and charts.without_pick(picked) == plain


@pytest.mark.parametrize("chart, rows, message", [
    (Chart("donut", "t", "month", ("orders",)), ROWS, "chart kind must be one of line, bar"),
    (Chart("bar", "t", "month", ("z",)), ROWS, "no column z"),
    (Chart("bar", "t", "month", ("orders",)), [], "no rows"),
])
def test_a_bad_chart_is_one_clear_error(chart, rows, message):
    with pytest.raises(ValueError, match=message):
        charts.spec(chart, rows)


@pytest.mark.skipif(not charts.available(), reason="needs the charts extra (vl-convert-python)")
class TestDrawn:
    @pytest.mark.parametrize("kind", charts.KINDS)
    def test_every_kind_draws_with_its_titles_and_no_none(self, kind):
        y = ("revenue", "orders") if kind in ("line", "bar", "heatmap") else ("revenue",)
        svg = charts.to_svg(charts.spec(Chart(kind, f"A {kind}", "month", y), ROWS, formatter=EN, kinds=KINDS), EN)
        assert svg.startswith("<svg") and f"A {kind}" in svg and "None" not in svg
        assert ("Month" if kind != "pie" else "Revenue") in svg

    @pytest.mark.parametrize("formatter, symbol", [(EN, "$"), (ZH, "¥")])
    def test_money_ticks_carry_the_crms_currency(self, formatter, symbol):
        svg = charts.to_svg(charts.spec(Chart("bar", "T", "month", ("revenue",)), ROWS, formatter=formatter, kinds=KINDS), formatter)
        ticks = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
        assert f"{symbol}1,000" in ticks and f"{symbol}2,000" in ticks  # round ticks up to 2,500.50

    def test_heat_map_values_are_drawn(self):
        rows = [{"r": 1, "customers": 1234, "share": 0.125}]
        svg = charts.to_svg(charts.spec(Chart("heatmap", "G", "r", ("customers", "share")), rows, kinds={"share": "rate"}))
        texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
        assert "1,234" in texts and "12.5%" in texts


def test_importing_the_builder_imports_no_chart_library():
    """crmkit.charts is plain dicts: no Altair or vl-convert until a chart is drawn."""
    import subprocess
    import sys

    code = "import sys, crmkit.charts; print(sorted(m for m in ('altair', 'vl_convert') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_series_sharing_a_word_are_titled_by_it():
    rows = [{"month": "2024-10", "new": 1, "active": 30, "buying": 12}]
    labels = {"new": "New customers", "active": "Active customers", "buying": "Buying customers"}
    shared = charts.spec(Chart("line", "T", "month", ("new", "active", "buying")), rows, labels=labels)
    assert shared["encoding"]["y"]["title"] == "Customers"  # the legend names each series
    two = charts.spec(Chart("line", "T", "month", ("new", "active")), rows, labels=labels)
    assert two["encoding"]["y"]["title"] == "New customers, Active customers"
