"""The dashboard's one date range: home-zone dates shared by its panels.

A shop in Shanghai (UTC+8) sells at 07:00 local on 1 July, which is 23:00 UTC on 30 June; the
range's dates are Shanghai dates, so that sale is in July's figures and in a range starting on
1 July. Expected values are worked by hand from the purchases below.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

import crmkit
from crmkit.testing import FixedClock
from crmkit_jupyter import dashboard
from crmkit_jupyter.report_view import report_output
from crmkit_jupyter.toolkit import DateRange, RuleEditor, shared_range
from crmkit_reports.panel import reports_panel

# (UTC time, amount): Shanghai dates in the comments
PURCHASES = [
    ("2025-06-15T02:00:00Z", "100.00"),  # 15 June 10:00
    ("2025-06-30T15:59:59Z", "20.00"),   # 30 June 23:59:59, the last second of June
    ("2025-06-30T23:00:00Z", "7.00"),    # 1 July 07:00: July's, though 30 June in UTC
    ("2025-07-01T12:00:00Z", "3.00"),    # 1 July 20:00
]


@pytest.fixture
def shanghai(crm_path):
    """A reports CRM in Asia/Shanghai whose clock reads 20:00 UTC on 1 July (04:00 on 2 July there)."""
    crm = crmkit.open(crm_path, plugins=["reports"], clock=FixedClock("2025-07-01T20:00:00Z"), timezone="Asia/Shanghai")
    crm.customers.add(name="Li Wei")
    crm.interactions.record_many(
        [{"customer_id": 1, "kind": "purchase", "occurred_at": at, "amount": amount} for at, amount in PURCHASES]
    )
    yield crm
    crm.close()


def test_dates_are_local_and_turn_into_local_midnights(shanghai):
    dates = DateRange(shanghai)
    assert dates.as_of_day == date(2025, 7, 2)  # already 2 July in Shanghai (1 July in UTC)
    assert dates.first_day == date(2025, 7, 1)  # the month the figures as of now cover
    seen = []
    dates.on_change(seen.append)
    dates.set(date(2025, 6, 1), date(2025, 7, 1))
    # midnight in Shanghai is 16:00 UTC the day before
    assert dates.bounds() == (datetime(2025, 5, 31, 16, tzinfo=timezone.utc), datetime(2025, 6, 30, 16, tzinfo=timezone.utc))
    assert dates.as_of == shanghai.as_of("2025-07-01") and seen == [dates]  # one notice per change
    assert dates.describe() == "2025-06-01 to 2025-06-30 (Asia/Shanghai)"
    dates.as_of_picker.value = date(2025, 5, 20)  # before From: From moves to the day before
    assert (dates.first_day, dates.as_of_day, len(seen)) == (date(2025, 5, 19), date(2025, 5, 20), 2)
    dates.close()


def test_the_dashboard_shares_one_range_and_the_reports_panel_follows_it(shanghai):
    board = dashboard(shanghai)
    panel = board.select("Reports")
    assert panel.dates is board.dates and shared_range(shanghai) is board.dates
    assert board.dates not in panel.children  # shown once, above the tabs
    board.dates.set(as_of_day=date(2025, 7, 1))  # the whole of June, Shanghai time
    assert panel.report.period.label == "2025-06"
    assert panel.cards["net_revenue"].figure == Decimal("120.00")  # 100 + 20; the 7.00 is July's
    board.dates.set(date(2025, 7, 1), date(2025, 7, 2))
    panel.period_choice.value = "range"  # the range itself: 1 July, local
    assert panel.cards["net_revenue"].figure == Decimal("10.00")  # 7 + 3
    assert "07-01" in panel.report.period.label
    board.close()
    alone = reports_panel(shanghai, as_of="2025-07-01")  # no dashboard open: a range of its own, shown
    assert alone.dates is not board.dates and alone.dates in alone.children
    assert alone.report.period.label == "2025-06"
    alone.close()


def test_status_lines_show_local_times_with_the_zone(shanghai):
    panel = reports_panel(shanghai, as_of="2025-07-01")
    assert "Report as of 2025-07-01 00:00 CST" in panel.status.value
    panel.close()
    editor = RuleEditor(shanghai, "ltv > 0")  # as of the clock: 20:00 UTC is 04:00 next day there
    assert "(as of 2025-07-02 04:00 CST)" in editor.count_html.value
    editor.close()
    assert "as of 2025-07-01 00:00 CST" in report_output(shanghai, "2025-07-01").text or "2025-07-01 00:00 CST" in report_output(shanghai, "2025-07-01").html


def test_the_loyalty_panel_follows_the_shared_range(crm_path):
    """Churn warnings and tiers are read as of the range's As of, a Shanghai midnight."""
    crm = crmkit.open(crm_path, plugins=["loyalty"], clock=FixedClock("2025-07-01T20:00:00Z"), timezone="Asia/Shanghai")
    board = dashboard(crm)
    panel = board.select("Loyalty")
    assert panel.dates is board.dates and board.dates not in panel.children
    board.dates.set(as_of_day=date(2025, 6, 1))
    assert panel.as_of == datetime(2025, 5, 31, 16, tzinfo=timezone.utc)  # 1 June 00:00 in Shanghai
    assert "No RFM run as of 2025-06-01 00:00 CST" in panel.rfm_info.value
    board.close()
    crm.close()


def test_the_note_says_what_as_of_means_before_and_after_a_date_is_picked(shanghai):
    dates = DateRange(shanghai)
    # Until a date is picked the figures are as of the clock: 04:00 on 2 July in Shanghai.
    assert "as of = 04:00 on that day" in dates.zone_note.value
    assert "start of that day" not in dates.zone_note.value
    dates.set(as_of_day=date(2025, 7, 1))
    assert "as of = the start of that day" in dates.zone_note.value
    assert dates.as_of == datetime(2025, 6, 30, 16, 0, tzinfo=timezone.utc)
