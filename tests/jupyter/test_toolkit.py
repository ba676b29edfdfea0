"""The widget toolkit, driven as a notebook user would: clicks, typed values, then the state."""

from __future__ import annotations

import re
from decimal import Decimal

import ipywidgets
import pytest
from ipywidgets.widgets import widget as widget_module

from crmkit import Chart
from crmkit_jupyter import queries
from crmkit_jupyter.toolkit import ChartView, KpiCard, ListSource, PagedTable, RuleEditor, SqlSource
from jupyter_helpers import admin_count


def customer_source(crm, **options):
    sql, params = queries.customer_list(options.pop("search", None))
    return SqlSource(crm.db, sql, params, **options)


def ids(table):
    return [row["id"] for row in table.rows]


class TestPagedTableOverSql:
    def test_pages_forward_and_back_with_positions(self, shop):
        """30 customers in pages of 7: 1-7, 8-14, ... last page 29-30 via next, 24-30 via last."""
        table = PagedTable(customer_source(shop), page_size=7)
        assert ids(table) == [1, 2, 3, 4, 5, 6, 7]
        assert "rows 1–7 of 30" in table.status.value
        assert table.prev_button.disabled and table.first_button.disabled
        for _ in range(4):
            table.next_button.click()
        assert ids(table) == [29, 30]  # 4 pages of 7 = 28 rows before
        assert "rows 29–30 of 30" in table.status.value
        assert table.next_button.disabled
        table.prev_button.click()
        assert ids(table) == [22, 23, 24, 25, 26, 27, 28]
        table.last_button.click()
        assert ids(table) == [24, 25, 26, 27, 28, 29, 30]  # the last 7: 30 - 7 + 1 = 24
        assert "rows 24–30 of 30" in table.status.value
        table.first_button.click()
        assert ids(table) == [1, 2, 3, 4, 5, 6, 7]

    def test_order_by_another_column_and_descending(self, shop):
        """Sorted by name descending: Customer 30, 29, ... (names are zero-padded)."""
        table = PagedTable(customer_source(shop, order="name", descending=True), page_size=4)
        assert ids(table) == [30, 29, 28, 27]
        table.next_button.click()
        assert ids(table) == [26, 25, 24, 23]
        table.last_button.click()
        assert ids(table) == [4, 3, 2, 1]

    def test_keyset_paging_is_stable_with_ties_in_the_order_column(self, shop):
        """Region has only two values; region then id visits every row exactly once."""
        table = PagedTable(customer_source(shop, order="region"), page_size=4)
        seen = ids(table)
        while not table.next_button.disabled:
            table.next_button.click()
            seen += ids(table)
        eu = [i for i in range(1, 31) if i % 3 == 0]
        us = [i for i in range(1, 31) if i % 3 != 0]
        assert seen == eu + us

    def test_search_with_a_capped_count(self, shop):
        """'Acme' matches customers 5, 10, ..., 30 = 6 rows; a cap of 4 reports "4+"."""
        table = PagedTable(customer_source(shop, search="acme"), page_size=10)
        assert ids(table) == [5, 10, 15, 20, 25, 30]
        assert table.total == 6 and table.exact
        capped = PagedTable(customer_source(shop, search="acme", count_cap=4), page_size=2)
        assert (capped.total, capped.exact) == (4, False)
        assert "of 4+" in capped.status.value
        capped.last_button.click()
        assert ids(capped) == [25, 30]
        assert "2 rows of 4+" in capped.status.value

    def test_search_escapes_like_wildcards(self, shop):
        """'%' is searched for literally: no customer name holds one."""
        table = PagedTable(customer_source(shop, search="%"))
        assert table.rows == [] and table.total == 0
        assert table.body.rows == [] and table.body.empty == "No rows."

    def test_values_reach_the_browser_as_text(self, shop):
        """Cells travel as text and are put into the page with textContent: markup stays text."""
        shop.customers.update(1, name="<script>alert(1)</script>")
        table = PagedTable(customer_source(shop), page_size=1)
        assert table.body.rows[0][table.columns.index("name")] == "<script>alert(1)</script>"
        assert "td.textContent = text" in table.body._esm and "innerHTML" not in table.body._esm

    def test_page_size_change_reloads_from_the_first_page(self, shop):
        table = PagedTable(customer_source(shop), page_size=5)
        table.next_button.click()
        table.page_size = 3
        assert ids(table) == [1, 2, 3]

    def test_clicking_a_row_fires_callbacks(self, shop):
        chosen = []
        table = PagedTable(customer_source(shop), page_size=3, selectable=True)
        table.on_select(chosen.append)
        table.body._message(table.body, {"event": "row", "index": 1}, [])  # what the browser sends
        assert chosen == [2] and table.selected == 2
        table.body.click_row(7)  # no such row on the page: nothing
        table.on_select(chosen.append, remove=True)
        table.body.click_row(2)
        assert chosen == [2]

    def test_rows_do_not_open_unless_selectable(self, shop):
        chosen = []
        table = PagedTable(customer_source(shop), page_size=3)
        table.on_select(chosen.append)
        table.body.click_row(0)
        assert chosen == [] and not table.body.clickable

    def test_a_failing_query_is_shown_not_raised(self, shop):
        """A source over a table that does not exist shows the database's message in the table."""
        source = SqlSource(shop.db, "SELECT id FROM customers", columns=("id",))
        table = PagedTable(source)
        source.sql = "SELECT id FROM no_such_table"
        table.refresh()
        assert table.error and "no_such_table" in table.error
        assert "no_such_table" in table.body.error
        assert table.rows == []

    def test_unsafe_column_names_are_refused(self, shop):
        with pytest.raises(ValueError, match="plain column name"):
            customer_source(shop, order="name; DROP TABLE customers")


class TestSortFilterExport:
    def test_a_header_click_sorts_in_sql_and_a_second_click_reverses(self, shop):
        """Names are zero-padded, so name order is id order: ascending 1.., descending 30.."""
        table = PagedTable(customer_source(shop, sortable=("id", "name")), page_size=3)
        assert [c["key"] for c in table.body.columns if c["sortable"]] == ["id", "name"]
        table.body._message(table.body, {"event": "sort", "column": "name"}, [])  # what the browser sends
        assert ids(table) == [1, 2, 3] and table.body.sort_by == "name" and not table.body.descending
        table.body.click_header("name")
        assert ids(table) == [30, 29, 28]
        table.next_button.click()
        assert ids(table) == [27, 26, 25]  # paging keeps the order

    def test_a_column_the_source_cannot_sort_by_is_not_sortable(self, shop):
        table = PagedTable(customer_source(shop), page_size=3)
        table.body.click_header("email")  # not offered: no index behind it
        assert ids(table) == [1, 2, 3] and table.body.sort_by == ""
        with pytest.raises(ValueError, match="cannot sort by 'email'"):
            table.source.with_order("email")

    def test_the_filter_narrows_the_rows_and_keeps_the_sort(self, shop):
        """'acme' is the company of multiples of 5; sorted by id descending: 30, 25, 20, ..."""
        sql, params = queries.customer_list()
        table = PagedTable(SqlSource(shop.db, sql, params, sortable=("id",), search=("name", "email", "company")), page_size=4)
        assert table.filter.layout.display is None  # offered: the source can search
        table.sort("id", descending=True)
        table.apply_filter("ACME")
        assert ids(table) == [30, 25, 20, 15] and table.total == 6
        table.apply_filter("50%")  # LIKE's wildcard is searched for literally
        assert ids(table) == [] and table.total == 0
        table.apply_filter("")
        assert ids(table)[0] == 30 and table.total == 30

    def test_a_list_source_sorts_missing_values_last_and_filters(self):
        rows = [{"rep": "b", "load": 2}, {"rep": "a", "load": None}, {"rep": "c", "load": 7}]
        table = PagedTable(ListSource(rows, key="rep"), page_size=5)
        table.sort("load")
        assert [r["rep"] for r in table.rows] == ["b", "c", "a"]
        table.sort("load")
        assert [r["rep"] for r in table.rows] == ["c", "b", "a"]
        table.apply_filter("C")
        assert [r["rep"] for r in table.rows] == ["c"]

    def test_a_chart_click_drills_into_the_table(self):
        rows = [{"id": i, "level": "high" if i % 3 == 0 else "low"} for i in range(1, 10)]
        table = PagedTable(ListSource(rows, key="id"), page_size=10)
        chart = ChartView("bar", [{"level": "high", "customers": 3}, {"level": "low", "customers": 6}], "level", "customers")
        chart.on_pick(lambda level: table.drill("level", level))
        chart._message(chart, {"event": "pick", "category": "high"}, [])
        assert ids(table) == [3, 6, 9] and "Level = high" in table.status.value
        chart.pick(None)
        assert len(table.rows) == 9

    def test_csv_export_of_what_the_table_shows(self, shop):
        """Filtered and sorted rows, labels as headers, money in major units, formulas neutralised."""
        shop.customers.update(5, name="=HYPERLINK(\"x\")")
        sql, params = queries.customer_list(extra={"lifetime_value": "s.net_spend"})
        source = SqlSource(shop.db, sql, params, sortable=("id",), search=("company",), columns=("id", "name", "lifetime_value"))
        table = PagedTable(source, page_size=2, crm=shop, kinds={"lifetime_value": "money"})
        table.apply_filter("acme")
        table.sort("id", descending=True)
        text = table.export()
        lines = text.splitlines()
        assert lines[0] == "#,Name,Lifetime value"
        # multiples of 5, newest first; 10 * i spent, 5.00 back for multiples of 10
        assert lines[1:] == ["30,Customer 30,295.00", "25,Customer 25,250.00", "20,Customer 20,195.00",
                             "15,Customer 15,150.00", "10,Customer 10,95.00", "5,\"'=HYPERLINK(\"\"x\"\")\",50.00"]
        assert "download table.csv" in table.download.value and "6 rows" in table.download.value

    def test_cells_ids_plain_money_and_dates_formatted(self, shop):
        rows = [{"id": 1234, "customer_id": 5678, "spent": 123456, "visits": 1234, "last_at": "2024-11-01T09:30:00Z"}]
        table = PagedTable(ListSource(rows, key="id"), crm=shop, kinds={"spent": "money"})
        assert table.body.rows == [["1234", "5678", "$1,234.56", "1,234", "2024-11-01 09:30 UTC"]]  # times as crmkit.formatting.local_time
        assert [c["label"] for c in table.body.columns] == ["#", "Customer", "Spent", "Visits", "Last"]
        assert [c["align"] for c in table.body.columns] == ["left", "left", "right", "right", "left"]


class TestListSource:
    def test_pages_a_short_list(self):
        rows = [{"rep": f"r{i}", "load": i * 2} for i in range(1, 8)]
        table = PagedTable(ListSource(rows), page_size=3)
        assert [r["rep"] for r in table.rows] == ["r1", "r2", "r3"]
        table.next_button.click()
        table.next_button.click()
        assert [r["rep"] for r in table.rows] == ["r7"]
        table.prev_button.click()
        assert [r["rep"] for r in table.rows] == ["r4", "r5", "r6"]
        assert table.columns == ("rep", "load")


class TestKpiCard:
    def test_figure_and_exact_change(self):
        """120.50 against 100.25: +20.25, which is +20.2% of 100.25 (20.25 / 100.25 = 0.20199...)."""
        card = KpiCard("Average value", Decimal("120.50"), previous=Decimal("100.25"), note="per customer")
        assert card.change == Decimal("20.25")
        assert "120.5" in card.value and "+20.25 (+20.2%)" in card.value
        assert "#1a7f37" in card.value  # up is good by default
        assert "crmkit-kpi" in card._dom_classes

    def test_down_is_good_and_redraws_on_change(self):
        card = KpiCard("Open complaints", 12, previous=9, good="down")
        assert card.change == 3 and "#a40000" in card.value  # more complaints: bad
        card.figure = 7
        assert card.change == -2 and "#1a7f37" in card.value and "-2" in card.value

    def test_percent_and_missing_values(self):
        card = KpiCard("Churn rate", 0.125, previous=0.1, fmt="percent")
        assert "12.5%" in card.value and "+2.5 pp" in card.value  # 0.125 - 0.1 = 0.025 = 2.5 points
        empty = KpiCard("Retention", None)
        assert empty.change is None and "–" in empty.value


class TestChartView:
    ROWS = [{"month": "2024-10", "revenue": Decimal("100.00"), "refunds": 5}, {"month": "2024-11", "revenue": Decimal("250.50"), "refunds": 0},
            {"month": "2024-12", "revenue": Decimal("80.00"), "refunds": 10}]

    @staticmethod
    def marks(chart):
        """The drawn marks of the data (bars, points, lines, cells, slices), by their accessible labels."""
        return re.findall(r'aria-label="Month: ', chart.svg)

    # line: two lines and a point per month on each (2 + 2 * 3)
    @pytest.mark.parametrize("kind, marks", [("bar", 6), ("line", 8), ("hbar", 3), ("heatmap", 6), ("pie", 3), ("funnel", 3)])
    def test_each_kind_draws_one_mark_per_value_or_series(self, kind, marks):
        chart = ChartView(kind, self.ROWS, "month", ("revenue", "refunds") if kind in ("bar", "line", "heatmap") else "revenue")
        assert chart.svg.startswith("<svg")
        assert len(self.marks(chart)) == marks

    def test_axes_have_titles_and_columns_read_as_words(self):
        chart = ChartView("bar", self.ROWS, "month", ("revenue", "refunds"), labels={"revenue": "Revenue (USD)"})
        titles = {axis["title"] for axis in chart.spec["encoding"].values() if isinstance(axis, dict) and "title" in axis}
        assert {"Month", "Revenue (USD), Refunds"} <= titles
        assert ">refunds<" not in chart.svg and ">Refunds<" in chart.svg  # the legend names the series in words

    def test_pareto_has_a_second_axis_for_the_cumulative_share(self):
        """Bars sorted by revenue (250.50, 100.00, 80.00); the line's shares 250.5/430.5, 350.5/430.5, 1."""
        chart = ChartView("pareto", self.ROWS, "month", "revenue")
        assert chart.spec["resolve"]["scale"]["y"] == "independent"
        values = chart.spec["layer"][0]["data"]["values"] if "data" in chart.spec["layer"][0] else chart.spec["data"]["values"]
        assert [row["key"] for row in values] == ["2024-11", "2024-10", "2024-12"]
        assert [round(row["cumulative_share"], 4) for row in values] == [round(250.5 / 430.5, 4), round(350.5 / 430.5, 4), 1.0]
        assert "Cumulative share" in chart.svg and "100%" in chart.svg

    def test_heat_map_prints_its_values(self):
        chart = ChartView("heatmap", self.ROWS, "month", ("revenue", "refunds"))
        texts = re.findall(r"<text[^>]*>([^<]*)</text>", chart.svg)
        assert {"100", "250.5", "80", "5", "0", "10"} <= set(texts)

    def test_a_missing_category_reads_not_set(self):
        chart = ChartView("bar", [{"tier": None, "customers": 3}, {"tier": "gold", "customers": 1}], "tier", "customers")
        assert "not set" in chart.svg and "None" not in chart.svg and "null" not in chart.svg

    def test_clicking_a_mark_picks_its_category(self):
        picked = []
        chart = ChartView("bar", self.ROWS, "month", "revenue")
        chart.on_pick(picked.append)
        assert 'aria-label="Month: 2024-11; Revenue: 250.5"' in chart.svg  # what the browser's click handler reads
        chart._message(chart, {"event": "pick", "category": "2024-11"}, [])
        assert picked == ["2024-11"] and chart.picked == "2024-11"
        chart.on_pick(picked.append, remove=True)
        chart.pick("2024-10")
        assert picked == ["2024-11"]

    def test_from_a_report_chart_spec_and_redraw(self):
        spec = Chart("bar", "Revenue", "month", ("revenue",), rows=self.ROWS[:1])
        chart = ChartView.from_spec(spec)
        assert len(self.marks(chart)) == 1 and ">Revenue<" in chart.svg
        chart.rows = self.ROWS
        assert len(self.marks(chart)) == 3

    def test_unknown_kind_and_no_data(self):
        assert "chart kind must be one of" in ChartView("donut", self.ROWS, "month", "revenue").svg
        assert "No data to chart yet" in ChartView("bar", [], "month", "revenue").svg


class TestRuleEditor:
    def test_live_validation_count_and_preview(self, shop):
        """ltv >= 200 and region = 'EU': EU is i % 3 == 0; ltv is 10*i, minus 5 for multiples of 10.
        i = 21, 24, 27 (210, 240, 270) and 30 (300 - 5 = 295) match; 18 (180) does not: 4 members."""
        editor = RuleEditor(shop)
        assert not editor.valid and editor.count is None
        editor.input.value = "ltv >= 200 and region = 'EU'"
        assert editor.valid and editor.count == 4
        assert "data-count='4'" in editor.count_html.value
        assert [r["id"] for r in editor.preview.rows] == [21, 24, 27, 30]
        editor.input.value = "ltv >= 200 and regon = 'EU'"
        assert not editor.valid and editor.count is None
        assert "did you mean 'region'" in editor.message and "position 15" in editor.message
        assert "crmkit-rule-invalid" in editor.message_html.value
        assert editor.preview.layout.display == "none"  # the last valid rule's members are not shown
        editor.input.value = "region = 'EU'"
        assert editor.preview.layout.display is None and editor.count == 10

    def test_boundary_uses_money_exactly(self, shop):
        """ltv = 195.00 exactly for customer 20 (200 - 5): >= 195 includes it, > 195 does not."""
        editor = RuleEditor(shop, "ltv >= 195 and ltv < 200")
        assert [r["id"] for r in editor.preview.rows] == [20]
        editor.input.value = "ltv > 195 and ltv < 200"
        assert editor.count == 0

    def test_the_count_is_not_recomputed_for_the_same_rule(self, shop):
        editor = RuleEditor(shop, "region = 'EU'")
        calls = []
        editor.observe(lambda change: calls.append(change["new"]), "count")
        editor.input.value = "region  =  'EU'"  # same rule, other spacing
        assert calls == [] and editor.count == 10  # 3, 6, ..., 30

    def test_save_defines_a_segment_through_the_api(self, shop):
        editor = RuleEditor(shop, "region = 'EU'")
        saved = []
        editor.on_save(saved.append)
        editor.name_input.value = "eu"
        editor.save_button.click()
        assert shop.segments.get("eu").rule == "region = 'EU'"
        assert saved[0].name == "eu" and "10 customers" in editor.status_html.value
        assert shop.audit.query(action="segment.define")[0].entity_id == "eu"

    def test_save_errors_write_nothing(self, shop):
        shop.segments.define("eu", "region = 'EU'")
        before = (admin_count(shop, "segments"), admin_count(shop, "audit_log"))
        editor = RuleEditor(shop, "region = 'US'")
        editor.save_button.click()  # no name
        assert "give the segment a name" in editor.status_html.value
        editor.name_input.value = "eu"
        editor.save_button.click()  # taken name, replace not ticked
        assert "exists" in editor.status_html.value
        editor.input.value = "region = "
        editor.name_input.value = "broken"
        editor.save_button.click()  # invalid rule
        assert "fix the rule first" in editor.status_html.value
        assert (admin_count(shop, "segments"), admin_count(shop, "audit_log")) == before
        assert shop.segments.get("eu").rule == "region = 'EU'"

    def test_replace_updates_an_existing_segment(self, shop):
        shop.segments.define("eu", "region = 'EU'")
        editor = RuleEditor(shop, "region = 'US'", name="eu")
        editor.replace_box.value = True
        editor.save_button.click()
        assert shop.segments.get("eu").rule == "region = 'US'"
        assert "updated: 20 customers" in editor.status_html.value  # 30 - 10 EU

    def test_counts_as_of_a_past_date(self, shop):
        """Before 2024-11-01 nobody had bought: ltv > 0 has no member as of 2024-10-01."""
        assert RuleEditor(shop, "ltv > 0", as_of="2024-10-01").count == 0
        assert RuleEditor(shop, "ltv > 0").count == 30


class TestClose:
    def test_closing_a_composite_closes_everything_it_made(self, shop):
        editor = RuleEditor(shop, "region = 'EU'")
        made = [w for w in editor._owned]
        made += [w for w in editor.preview._owned]
        model_ids = [w.model_id for w in made] + [editor.model_id]
        assert all(m in widget_module._instances for m in model_ids)
        typed = editor.input
        editor.close()
        assert not any(m in widget_module._instances for m in model_ids)
        assert editor._observers == [] and editor.preview._observers == []
        # the text area no longer drives the (closed) editor
        typed.value = "region = 'US'"
        assert editor.count == 10

    def test_button_callbacks_are_removed(self, shop):
        table = PagedTable(customer_source(shop), page_size=5)
        button = table.next_button
        table.close()
        assert button._click_handlers.callbacks == []
        assert isinstance(button, ipywidgets.Button)
