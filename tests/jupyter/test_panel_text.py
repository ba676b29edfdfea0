"""What the dashboard shows of stored text and values: customer text stays text in every HTML
widget, columns sort by what they mean, filters find what the table shows, the churn drill-down
lists the warnings behind the clicked bar, and times read on the home zone's clock."""

from __future__ import annotations

import re

import ipywidgets as widgets
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

import crmkit
import crmkit_loyalty.panel as loyalty_panel_module
from crmkit.formatting import LOCALE_SETTING
from crmkit_jupyter import dashboard, formatting
from crmkit_jupyter.toolkit import ChartView, ListSource, PagedTable
from jupyter_helpers import fill

PLUGINS = ["leads", "loyalty", "complaints", "reports"]
IMG = '<img src=x onerror="alert(1)">'
SCRIPT = "<script>alert(2)</script>"
RAW_TAG = re.compile(r"<\s*(script|img)\b", re.IGNORECASE)


def planted(field: str) -> str:
    """A payload naming the field it was planted in, so a failure says where it came from."""
    return f"{field} {IMG} {SCRIPT}"


def live_widgets() -> list:
    from ipywidgets.widgets.widget import _instances

    return list(_instances.values())


def html_values() -> list[str]:
    """Every HTML a live widget sends to the browser as markup: HTML widgets (KPI cards
    included) and charts' SVG."""
    values = [w.value for w in live_widgets() if isinstance(w, widgets.HTML)]
    values += [w.svg for w in live_widgets() if isinstance(w, ChartView)]
    return values


@pytest.fixture
def hostile(crm_path, clock):
    """A CRM whose every customer-supplied text carries <img onerror> and <script>."""
    crm = crmkit.open(crm_path, plugins=PLUGINS, clock=clock)
    customer = crm.customers.add(name=planted("name"), company=planted("company"), region=planted("region"),
                                 source=planted("source"), tags=[planted("tag")], owner="rep1")
    crm.interactions.record(customer.id, "purchase", amount="25.00", occurred_at="2024-11-01", category=planted("category"))
    crm.interactions.record(customer.id, "note", notes=planted("note"))
    crm.complaints.add_handler("sam")
    crm.interactions.record(customer.id, "complaint", notes=planted("complaint notes"),
                            data={"severity": "high", "category": "billing"})
    complaint = crm.complaints.open(customer.id, category="delivery", severity="low", description=planted("description"))
    crm.segments.define("buyers", "ltv > 0", description=planted("segment description"))
    crm.segments["buyers"].snapshot()
    crm.leads.add_rep("ann", planted("rep name"), capacity=2)
    crm.leads.add(planted("lead name"), industry=planted("industry"), source=planted("lead source"), priority=1)
    yield {"crm": crm, "customer": customer.id, "complaint": complaint.id}
    crm.close()


class TestCustomerTextStaysText:
    def test_no_planted_tag_reaches_any_html_widget(self, hostile):
        crm = hostile["crm"]
        board = dashboard(crm)
        customers = board.select("Customers")
        customers.table.select(hostile["customer"])  # the customer page: profile, timeline, facts
        segments = board.select("Segments")
        segments.chooser.value = "buyers"  # its snapshots, under the segment's name
        leads = board.select("Leads")
        leads.allocate_button.click()  # the dry-run plan names the lead and the rep
        board.select("Loyalty")
        board.select("Reports")
        complaints = board.select("Complaints")
        for complaint in crm.complaints.list(limit=10):
            complaints.show(complaint.id)
            assert RAW_TAG.search(complaints.detail.value) is None, complaints.detail.value
        assert "&lt;img src=x onerror=" in complaints.detail.value  # shown, as text
        offending = [value for value in html_values() if RAW_TAG.search(value)]
        assert offending == []
        board.close()

    def test_the_text_helper_escapes_and_plain_does_not(self):
        assert formatting.text(IMG) == "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;"
        assert formatting.plain(IMG) == IMG


@pytest.fixture
def world(crm_path, clock):
    crm = fill(crmkit.open(crm_path, plugins=PLUGINS, clock=clock))
    crm.complaints.add_handler("sam")
    yield crm
    crm.close()


def open_complaints(crm) -> None:
    """Complaints due in 24 h, 8 h, 4 days and one two weeks overdue (received at the clock's
    2025-01-01 09:00 unless said)."""
    crm.complaints.open(1, category="billing", severity="normal")
    crm.complaints.open(2, category="billing", severity="high")
    crm.complaints.open(3, category="billing", severity="low")
    crm.complaints.open(4, category="billing", severity="critical", received_at="2024-12-10T09:00:00Z")


class TestSortingByMeaning:
    def test_time_left_sorts_by_the_seconds_left_and_severity_by_rank(self, world):
        open_complaints(world)
        board = dashboard(world)
        table = board.select("Complaints").table
        table.sort("left", descending=False)
        seconds = [row["left_s"] for row in table.rows]
        assert seconds == sorted(seconds) and seconds[0] < 0
        table.sort("left", descending=True)
        assert [row["left_s"] for row in table.rows] == sorted(seconds, reverse=True)
        table.sort("severity", descending=False)
        assert [row["severity"] for row in table.rows] == ["low", "normal", "high", "critical"]
        board.close()

    def test_a_list_source_sorts_by_its_sort_key_with_missing_last(self):
        rows = [{"id": 1, "level": "high"}, {"id": 2, "level": "low"}, {"id": 3, "level": None}, {"id": 4, "level": "medium"}]
        source = ListSource(rows, key="id", sort_keys=loyalty_panel_module.WARNING_SORT_KEYS)
        assert [r["id"] for r in source.with_order("level").page(10)] == [2, 4, 1, 3]
        assert [r["id"] for r in source.with_order("level", True).page(10)] == [1, 4, 2, 3]


class TestFilterFindsWhatIsShown:
    def test_shown_dates_and_words_are_found_as_well_as_stored_keys(self, world):
        open_complaints(world)
        world.interactions.record(5, "purchase", amount="1.00")
        board = dashboard(world)
        panel = board.select("Complaints")
        table = panel.table
        shown_due = table.text(table.rows[0], "due_at")
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", shown_due)  # the home zone's clock, zone named
        for typed in (shown_due[:10], "at risk" if any(r["state"] == "at_risk" for r in table.rows) else "Ok", "ok"):
            table.apply_filter(typed)
            assert table.total >= 1, typed
        table.apply_filter("Dec 10")  # a text the table does not show
        assert table.total == 0
        board.close()

    def test_words_columns_match_their_words(self):
        table = PagedTable(ListSource([{"id": 1, "signals": "inactive, spend_drop"}, {"id": 2, "signals": "rhythm"}], key="id"),
                           kinds={"signals": "words"})
        table.apply_filter("spend drop")
        assert [r["id"] for r in table.rows] == [1]
        table.apply_filter("spend_drop")
        assert [r["id"] for r in table.rows] == [1]
        table.close()


class TestChurnDrillDown:
    def test_a_bar_lists_every_warning_of_its_level_not_only_the_first_listed(self, world, clock, monkeypatch):
        clock.advance(days=400)  # everyone has been idle long enough to be warned
        board = dashboard(world)
        panel = board.select("Loyalty")
        panel.churn_button.click()
        run = panel.churn_run
        levels = loyalty_panel_module.churn_levels(world, run.id)
        assert sum(levels.values()) > 2
        monkeypatch.setattr(loyalty_panel_module, "WARNINGS_LIMIT", 2)  # the list holds the top 2 only
        panel.show_churn()
        lowest = next(level for level in ("low", "medium", "high") if levels[level])
        listed_before = {row["customer_id"] for row in panel.warnings.source.rows}
        panel.level_chart.pick(lowest)
        expected = [w.customer_id for w in world.loyalty.churn_warnings(limit=None) if w.level == lowest][:2]
        assert [row["customer_id"] for row in panel.warnings.source.rows] == expected
        assert all(row["level"] == lowest for row in panel.warnings.source.rows)
        if levels[lowest] > 2:
            assert f"the first 2 of {levels[lowest]:,} {lowest} warnings" in panel.churn_info.value
        assert panel.warnings.total == len(expected) and panel.clear_drill_button.layout.display is None
        panel.clear_drill_button.click()
        assert panel.drilled_level is None and panel.clear_drill_button.layout.display == "none"
        assert {row["customer_id"] for row in panel.warnings.source.rows} == listed_before
        board.close()


@pytest.fixture
def ip():
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "crmkit_jupyter")
    yield shell
    InteractiveShell.clear_instance()


class TestMagicArguments:
    @pytest.mark.parametrize("line, message", [
        ("segment --limit -3 buyers", "--limit needs a whole number from 0"),
        ("segment --limit", "--limit needs a value"),
        ("segment --as-of", "--as-of needs a value"),
        ("segment --limits 3 buyers", "unknown option --limits"),
        ("open 'unclosed", "no closing quotation"),
        ("report --as-of '2025", "no closing quotation"),
    ])
    def test_bad_arguments_are_one_usage_line(self, ip, world, line, message):
        ip.user_ns["crm"] = world
        world.segments.define("buyers", "ltv > 0")
        with pytest.raises(UsageError, match=re.escape(message)):
            ip.run_line_magic("crm", line)

    def test_report_reads_as_the_terminal_report(self, ip, world):
        ip.user_ns["crm"] = world
        out = ip.run_line_magic("crm", "report --as-of 2024-12-01")
        shown = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", re.sub(r"<svg.*?</svg>", "", out.html, flags=re.S)))
        assert "Report as of 2024-12-01 00:00 UTC · Nov 2024 (compared with Oct 2024)" in shown
        # titles in words, money with its currency and its change signed (three refunds of 5.00)
        assert "New customers 30 +30" in shown and "Net revenue $4,635.00 +$4,635.00" in shown
        assert "Average customer value $154.50" in shown
        assert "churn_rate" not in shown and "new_customers" not in shown and "T00:00:00" not in shown


class TestPagerCountsInTheLocale:
    """The pager's counts are grouped as the table's numbers are (1.234 in German)."""

    @pytest.mark.parametrize("locale, shown", [("en_US", "rows 1–20 of 1,234"), ("de_DE", "rows 1–20 of 1.234")])
    def test_the_status_groups_digits_by_the_crms_locale(self, locale, shown):
        crm = crmkit.open(":memory:", plugins=[])
        crm.settings.set(LOCALE_SETTING, locale)
        table = PagedTable(ListSource([{"id": n} for n in range(1, 1235)], key="id"), page_size=20, crm=crm)
        assert shown in table.status.value
        crm.close()

    def test_without_a_crm_it_groups_as_before(self):
        table = PagedTable(ListSource([{"id": n} for n in range(1, 1235)], key="id"), page_size=20)
        assert "rows 1–20 of 1,234" in table.status.value
