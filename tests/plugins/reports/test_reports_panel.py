"""The Reports tab of the Jupyter dashboard: it follows the shared dates and never sets them, its
default moment is `crmkit report`'s, its labels name the days counted and a failed section shows
its error.

Expected figures are hand-worked from the purchases below (a Shanghai CRM, UTC+8, no DST):
- June 2025 (as of the date 2025-07-01): B on June 10 ($10) + C's $40 and $900 on June 30 = $950.
- January 2024 (as of the date 2024-02-01): A on January 20 ($3) = $3.
- the demo-style default moment, 2025-06-30 12:00 UTC (20:00 local on June 30): June 1 to that
  moment inclusive = B's $10 + C's $40 at 19:00 local on June 30 = $50; C's $900 at 21:00 local
  on June 30 comes after it.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

pytest.importorskip("ipywidgets")

import crmkit  # noqa: E402
from crmkit.testing import FixedClock  # noqa: E402

UTC = timezone.utc
PURCHASES = [  # (customer, UTC time, amount)
    ("A", "2024-01-20T02:00:00Z", "3.00"),
    ("B", "2025-06-10T02:00:00Z", "10.00"),
    ("C", "2025-06-30T11:00:00Z", "40.00"),  # 19:00 on June 30 in Shanghai
    ("C", "2025-06-30T13:00:00Z", "900.00"),  # 21:00 on June 30 in Shanghai
]


class BrokenPlugin:
    name = "broken"

    @crmkit.hookimpl
    def crmkit_report_sections(self, crm, as_of):
        raise ValueError("section <b>kaboom</b> & more")


@pytest.fixture
def shop(crm_path):
    crm = crmkit.open(crm_path, plugins=["reports"], clock=FixedClock("2026-12-07T04:00:00Z"), timezone="Asia/Shanghai")
    ids = {name: crm.customers.add(name=name).id for name in "ABC"}
    for who, at, amount in PURCHASES:
        crm.interactions.record(ids[who], "purchase", at, amount=amount)
    # as `crmkit demo` leaves its file: reports (and the dashboard) default to the demo's "today"
    crm.settings.set("demo.today", "2025-06-30T12:00:00Z")
    yield crm
    crm.close()


def _net(panel) -> Decimal:
    return panel.report.section("reports.value").figures["net_revenue"]


def test_opening_the_reports_tab_keeps_the_dates_the_analyst_set(shop):
    from crmkit_jupyter import dashboard

    board = dashboard(shop)
    board.dates.set(date(2024, 1, 1), date(2024, 2, 1))
    changes = []
    board.dates.on_change(changes.append)
    panel = board.select("Reports")
    assert (board.dates.first_day, board.dates.as_of_day) == (date(2024, 1, 1), date(2024, 2, 1))
    assert changes == []  # no other tab was told the dates changed
    assert panel.report.as_of == datetime(2024, 1, 31, 16, tzinfo=UTC)  # midnight on Feb 1 in Shanghai
    assert panel.report.period.label == "2024-01"
    assert _net(panel) == Decimal("3.00")
    board.dates.set(as_of_day=date(2025, 7, 1))  # the panel still follows the range
    assert _net(panel) == Decimal("950.00") and panel.report.period.label == "2025-06"
    board.close()


def test_untouched_dates_give_the_same_report_as_crmkit_report_without_as_of(shop):
    from crmkit_jupyter import dashboard

    board = dashboard(shop)
    before = board.dates.as_of
    panel = board.select("Reports")
    assert board.dates.as_of == before  # opening the tab moved nothing
    cli_default = shop.reports.default_as_of()  # what `crmkit report DB` uses without --as-of
    assert panel.report.as_of == cli_default == datetime(2025, 6, 30, 12, tzinfo=UTC)
    assert _net(panel) == Decimal("50.00")
    assert panel.report.section("reports.overview").rows == shop.reports.build().section("reports.overview").rows
    board.close()


def test_a_panel_alone_starts_where_crmkit_report_does(shop):
    from crmkit_reports.panel import reports_panel

    panel = reports_panel(shop)
    assert panel.report.as_of == shop.reports.default_as_of()
    assert _net(panel) == Decimal("50.00")
    panel.close()


def test_the_status_line_names_the_days_counted(shop):
    """As of the date 2025-07-10 the month to date is July 1 to 9, compared with June 1 to 9
    (the cards keep naming the month: "Jul 2025 vs Jun 2025")."""
    from crmkit_jupyter import dashboard

    board = dashboard(shop)
    board.dates.set(as_of_day=date(2025, 7, 10))
    panel = board.select("Reports")
    assert "Jul 1, 2025 – Jul 9, 2025 compared with Jun 1, 2025 – Jun 9, 2025" in panel.status.value
    board.dates.set(as_of_day=date(2025, 7, 1))  # a whole month reads as the month
    assert "Jun 2025 compared with May 2025" in panel.status.value
    board.close()


def test_a_failed_section_shows_its_error_escaped(crm_path):
    from crmkit_reports.panel import reports_panel

    with crmkit.open(crm_path, plugins=["reports", BrokenPlugin()], clock=FixedClock("2025-07-01T00:00:00Z")) as crm:
        panel = reports_panel(crm)
        status = panel.status.value
        assert "broken.sections" in status
        assert "ValueError: section &lt;b&gt;kaboom&lt;/b&gt; &amp; more" in status
        assert "<b>kaboom" not in status
        panel.close()
