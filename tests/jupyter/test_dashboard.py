"""The dashboard and its two core panels, on a real CRM file, driven through their widgets."""

from __future__ import annotations

from decimal import Decimal

import ipywidgets
import pytest
from ipywidgets.widgets import widget as widget_module

import crmkit
from crmkit import Panel, hookimpl
from crmkit_jupyter import collect_panels, customer_facts, dashboard
from jupyter_helpers import FactsPlugin, admin_count, fill


class CountingPanels:
    """Panels that count how often their factory runs; one raises; one returns no widget."""

    name = "counting"

    def __init__(self):
        self.calls = []

    def make(self, title):
        def factory(crm):
            self.calls.append(title)
            return ipywidgets.HTML(title)

        return factory

    @hookimpl
    def crmkit_panels(self, crm):
        def broken(crm):
            raise RuntimeError("no data for the board")

        return [
            Panel("zeta", "Zeta", self.make("Zeta"), order=30),
            Panel("alpha", "Alpha", self.make("Alpha"), order=30),
            Panel("early", "Early", self.make("Early"), order=5),
            Panel("broken", "Broken", broken, order=40),
            Panel("text", "Not a widget", lambda crm: "just text", order=41),
        ]


class BrokenHook:
    name = "brokenhook"

    @hookimpl
    def crmkit_panels(self, crm):
        raise ValueError("panel list unavailable")


@pytest.fixture
def plugged(crm_path, clock):
    panels = CountingPanels()
    crm = fill(crmkit.open(crm_path, plugins=[panels, BrokenHook(), FactsPlugin()], clock=clock))
    yield crm, panels
    crm.close()


class TestDashboard:
    def test_tabs_in_order_then_title_and_built_lazily(self, plugged):
        crm, panels = plugged
        board = dashboard(crm)
        assert board.titles == ["Early", "Customers", "Segments", "Alpha", "Zeta", "Broken", "Not a widget", "Facts",
                                "brokenhook (failed)"]
        assert board.tabs.titles == tuple(board.titles)
        assert panels.calls == ["Early"]  # only the first tab is built
        board.tabs.selected_index = board.titles.index("Zeta")
        assert panels.calls == ["Early", "Zeta"]
        board.tabs.selected_index = 0
        board.tabs.selected_index = board.titles.index("Zeta")
        assert panels.calls == ["Early", "Zeta"]  # built once
        assert board.containers[board.titles.index("Zeta")].children[0].value == "Zeta"
        assert "crmkit-panel-zeta" in board.containers[board.titles.index("Zeta")]._dom_classes

    def test_a_failing_factory_shows_its_error_in_its_tab_only(self, plugged):
        crm, _ = plugged
        board = dashboard(crm)
        assert board.select("Broken") is None
        shown = board.containers[board.titles.index("Broken")].children[0]
        assert "crmkit-panel-error" in shown._dom_classes
        assert "RuntimeError: no data for the board" in shown.value and "plugin counting" in shown.value
        board.select("text")
        assert "returned str, not an ipywidgets widget" in board.errors["text"]
        board.select("brokenhook (failed)")
        assert "ValueError: panel list unavailable" in board.errors["brokenhook-failed"]
        assert isinstance(board.select("Alpha"), ipywidgets.HTML)  # the others still work

    def test_unknown_panel_names_the_known_ones(self, plugged):
        crm, _ = plugged
        with pytest.raises(KeyError, match="panels: early, customers"):
            dashboard(crm).select("Loyalty")

    def test_collect_panels_marks_the_plugin(self, plugged):
        crm, _ = plugged
        panels, failures = collect_panels(crm)
        owners = {p.name: p.plugin for p in panels}
        assert owners["customers"] == "crmkit_jupyter" and owners["zeta"] == "counting" and owners["facts"] == "facts"
        assert [(plugin, str(error)) for plugin, error in failures] == [("brokenhook", "panel list unavailable")]

    def test_close_frees_every_model(self, shop):
        board = dashboard(shop)
        board.select("Segments")
        before = len(widget_module._instances)
        assert before > 40
        board.close()
        assert len(widget_module._instances) < before - 40
        assert board.built["segments"].editor.comm is None


class TestCustomersPanel:
    def test_pages_searches_and_orders(self, shop):
        panel = dashboard(shop).panel("customers")
        assert [r["id"] for r in panel.table.rows] == list(range(1, 21))
        assert "rows 1–20 of 30" in panel.table.status.value
        panel.search.value = "acme"
        assert [r["id"] for r in panel.table.rows] == [5, 10, 15, 20, 25, 30]
        panel.table.body.click_header("id")  # ascending, then the other way
        panel.table.body.click_header("id")
        assert [r["id"] for r in panel.table.rows] == [30, 25, 20, 15, 10, 5]
        panel.search.value = "c7@example"
        assert [r["id"] for r in panel.table.rows] == [7]

    def test_sorts_by_lifetime_value_and_last_purchase_with_the_missing_last(self, crm_path, clock):
        """Customers 1-12: every third has no purchase; spends tie in pairs (one goes below zero
        after a refund) and purchase dates fall on two days.

        The expected order is worked out here from the recorded rows (net spend = purchases -
        refunds), not read from the summary: by value, ties by id, customers without a purchase
        last by id, in both directions; paged forward, and backward from the last page.
        """
        crm = crmkit.open(crm_path, plugins=[], clock=clock)
        crm.customers.add_many([{"name": f"Customer {i:02d}"} for i in range(1, 13)])
        buyers = [i for i in range(1, 13) if i % 3]
        purchases = [{"customer_id": i, "kind": "purchase", "amount": f"{10 * ((i + 1) // 2)}.00",
                      "occurred_at": f"2024-0{1 + i % 3}-15T10:00:00Z"} for i in buyers]
        refunds = [{"customer_id": 8, "kind": "refund", "amount": "45.00", "occurred_at": "2024-01-20T10:00:00Z"}]
        crm.interactions.record_many(purchases + refunds)
        spend = {p["customer_id"]: int(p["amount"].split(".")[0]) * 100 for p in purchases}
        spend[8] -= 4500
        last = {p["customer_id"]: p["occurred_at"][:10] for p in purchases}
        missing = [i for i in range(1, 13) if i not in spend]
        panel = dashboard(crm).panel("customers")
        panel.table.page_size = 5
        assert {"lifetime_value", "last_purchase"} <= set(panel.table.source.sortable)
        for column, values in (("lifetime_value", spend), ("last_purchase", last)):
            for descending in (False, True):
                present = sorted(values, key=lambda i: (values[i], i), reverse=descending)
                expected = present + sorted(missing, reverse=descending)
                panel.table.sort(column, descending=descending)
                seen = [r["id"] for r in panel.table.rows]
                while not panel.table.next_button.disabled:
                    panel.table.next_button.click()
                    seen += [r["id"] for r in panel.table.rows]
                assert seen == expected, (column, descending)
                panel.table.last_button.click()
                backwards = [r["id"] for r in panel.table.rows]
                while not panel.table.prev_button.disabled:
                    panel.table.prev_button.click()
                    backwards = [r["id"] for r in panel.table.rows] + backwards
                assert backwards == expected, (column, descending)
        crm.close()

    def test_360_view_of_a_customer_with_plugin_facts(self, crm_path, clock):
        crm = fill(crmkit.open(crm_path, plugins=[FactsPlugin()], clock=clock))
        crm.tasks.create("call back", 21, owner="rep1", reason="asked for a quote", due_at="2025-01-03")
        panel = dashboard(crm).panel("customers")
        panel.table.next_button.click()  # customers 21-30
        panel.table.body.click_row(0)  # a click on the first shown row
        assert panel.customer_id == 21
        assert panel.view.layout.display is None
        assert "Customer 21" in panel.profile.value
        assert [row[1:3] for row in panel.timeline.body.rows] == [["Purchase", "$210.00"]]  # the kind in words
        assert "asked for a quote" in panel.tasks.value and "Jan 3, 2025" in panel.tasks.value
        # customer 21: EU, net spend 210.00 -> big spender yes, doubled 420.00, tier gold
        cards = {card.title: card.show(card.figure) for card in panel.cards.children}
        assert cards["Lifetime value"] == "$210.00" and cards["Last purchase"] == "Nov 1, 2024"
        assert cards["Tier"] == "–" and cards["Owner"] == "rep1"  # the test plugin's field is tier_name, not tier
        assert "Big spender" in panel.facts.value and "yes" in panel.facts.value
        assert "$420.00" in panel.facts.value and "gold" in panel.facts.value
        crm.close()

    def test_customer_facts_values(self, crm_path, clock):
        """Customer 20: US, 200.00 - 5.00 = 195.00 net: not a big spender, doubled 390.00, silver."""
        crm = fill(crmkit.open(crm_path, plugins=[FactsPlugin()], clock=clock))
        facts = {f["name"]: f["value"] for f in customer_facts(crm, 20)}
        assert facts == {"big_spender": False, "spend_doubled": Decimal("390.00"), "tier_name": "silver"}
        with pytest.raises(crmkit.NotFound):
            customer_facts(crm, 999)
        crm.close()

    def test_add_note_writes_through_the_api(self, shop):
        panel = dashboard(shop).panel("customers")
        panel.show(3)
        before = shop.interactions.count(3)
        panel.note.value = "prefers email"
        panel.note_button.click()
        notes = shop.interactions.history(3, kinds=["note"])
        assert shop.interactions.count(3) == before + 1 and notes[0].notes == "prefers email"
        assert panel.timeline.rows[0]["notes"] == "prefers email" and panel.note.value == ""  # newest first

    def test_errors_show_and_write_nothing(self, shop):
        panel = dashboard(shop).panel("customers")
        before = admin_count(shop, "interactions"), admin_count(shop, "audit_log")
        panel.note.value = "orphan"
        panel.note_button.click()  # no customer open
        assert "open a customer" in panel.note_status.value
        panel.show(3)
        panel.show(999)
        assert "no customer with id 999" in panel.profile.value
        assert panel.customer_id is None and panel.cards.children == ()
        assert panel.timeline.layout.display == "none"  # customer 3's timeline is not left under the error
        assert (admin_count(shop, "interactions"), admin_count(shop, "audit_log")) == before


class TestSegmentsPanel:
    def test_save_list_snapshot_and_diff(self, shop, clock):
        panel = dashboard(shop).panel("segments")
        assert "No segment saved yet" in panel.table.value
        panel.editor.input.value = "ltv >= 200"
        panel.editor.name_input.value = "big"
        panel.editor.save_button.click()
        # ltv >= 200: customers 21..30 except 20 (195): 10 customers (21-29 and 30 at 295)
        assert panel.chooser.options == ("big",) and panel.chooser.value == "big"
        assert "overflow-wrap:anywhere'>10</td>" in panel.table.value  # the member count, right-aligned
        panel.snapshot_button.click()
        shop.interactions.record(1, "purchase", "2024-12-01", amount="500.00")  # customer 1 joins: 510.00
        clock.advance(days=1)
        panel.snapshot_button.click()
        snapshots = shop.segments.snapshots("big")
        assert [s.members for s in snapshots] == [10, 11]
        assert "1 joined, 0 left, 10 stayed" in panel.snapshots.value

    def test_edit_loads_a_segment_for_replacing(self, shop):
        shop.segments.define("eu", "region = 'EU'", description="Europe")
        panel = dashboard(shop).panel("segments")
        panel.chooser.value = "eu"
        panel.edit_button.click()
        assert panel.editor.input.value == "region = 'EU'" and panel.editor.count == 10
        assert panel.editor.replace_box.value and panel.editor.description_input.value == "Europe"
        panel.editor.input.value = "region = 'EU' and ltv >= 100"
        panel.editor.save_button.click()
        # EU with ltv >= 100: 12, 15, ..., 30 -> 7 customers (12, 15, 18, 21, 24, 27, 30)
        assert shop.segments["eu"].count() == 7

    def test_snapshot_without_choice_writes_nothing(self, shop):
        panel = dashboard(shop).panel("segments")
        before = admin_count(shop, "segment_snapshots")
        panel.snapshot_button.click()
        assert "choose a saved segment first" in panel.snapshots.value
        assert admin_count(shop, "segment_snapshots") == before

    def test_fields_reference_lists_plugin_fields(self, crm_path, clock):
        crm = fill(crmkit.open(crm_path, plugins=[FactsPlugin()], clock=clock))
        panel = dashboard(crm).panel("segments")
        assert "tier_name" in panel.fields.value and "spend_365d" in panel.fields.value
        crm.close()
