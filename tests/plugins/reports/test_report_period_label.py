"""The period label names the days the figures count.

A date as ``as_of`` means its local midnight, and a period ending there closes the day before:
as of 2025-07-10 the month to date is July 1 to 9 (the label says "Jul 1, 2025 – Jul 9, 2025"),
and a sale at 00:00:00 on July 10 belongs to the next day, like every other sale of July 10.

Hand-worked figures (the purchases below, local times of the CRM's zone):
- as of 2025-07-10: July 3 ($10) + July 9 23:59:59 ($1) = $11; before: June 9 ($2) = $2.
- as of 2025-07-10 10:00: also July 10 00:00:00 ($7) and 10:00:00 ($500) = $518.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

import crmkit
from crmkit.cli import make_cli
from crmkit.testing import FixedClock

SALES = [  # (local wall-clock time, amount)
    ("2025-06-09T12:00:00", "2.00"),
    ("2025-06-10T08:00:00", "40.00"),  # the previous period stops before June 10 too
    ("2025-07-03T10:00:00", "10.00"),
    ("2025-07-09T23:59:59", "1.00"),
    ("2025-07-10T00:00:00", "7.00"),
    ("2025-07-10T10:00:00", "500.00"),
]


def _shop(path, zone: str):
    crm = crmkit.open(path, plugins=["reports"], clock=FixedClock("2025-07-20T00:00:00Z"), timezone=zone)
    customer = crm.customers.add(name="A")
    for local, amount in SALES:
        moment = datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(zone)).astimezone(timezone.utc)
        crm.interactions.record(customer.id, "purchase", moment.strftime("%Y-%m-%dT%H:%M:%SZ"), amount=amount)
    return crm


@pytest.mark.parametrize("zone", ["UTC", "Asia/Shanghai"])
def test_a_date_as_of_counts_up_to_the_day_before_and_the_label_says_so(crm_path, zone):
    with _shop(crm_path, zone) as crm:
        report = crm.reports.build(as_of="2025-07-10")
        value = report.section("reports.value")
        assert value.figures["net_revenue"] == Decimal("11.00")
        assert value.previous["net_revenue"] == Decimal("2.00")
        midnight = datetime(2025, 7, 10, tzinfo=ZoneInfo(zone)).astimezone(timezone.utc)
        assert report.period.end == midnight  # nothing of July 10 is counted
        text = report.to_text(max_rows=1)
        assert "period Jul 1, 2025 – Jul 9, 2025  (compared with Jun 1, 2025 – Jun 9, 2025)" in text.splitlines()[0]
        assert "Period: Jul 1, 2025 – Jul 9, 2025 &middot; compared with Jun 1, 2025 – Jun 9, 2025" in report.to_html()


@pytest.mark.parametrize("zone", ["UTC", "Asia/Shanghai"])
def test_an_as_of_time_counts_up_to_and_including_it(crm_path, zone):
    with _shop(crm_path, zone) as crm:
        report = crm.reports.build(as_of="2025-07-10T10:00:00")  # local wall-clock time
        assert report.section("reports.value").figures["net_revenue"] == Decimal("518.00")
        assert "period Jul 1, 2025 – Jul 10, 2025" in report.to_text(max_rows=1).splitlines()[0]


def test_the_command_line_label_and_figures_agree(crm_path):
    """The QA case: `crmkit report DB --as-of 2025-07-10` with sales on July 3 and July 10."""
    _shop(crm_path, "UTC").close()
    result = CliRunner().invoke(make_cli(), ["report", str(crm_path), "--as-of", "2025-07-10"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    first = result.output.splitlines()[0]
    assert first == ("Report as of 2025-07-10 00:00 UTC  period Jul 1, 2025 – Jul 9, 2025  "
                     "(compared with Jun 1, 2025 – Jun 9, 2025)")
    assert any(line.split()[:3] == ["Net", "revenue", "$11.00"] for line in result.output.splitlines())


def test_a_day_boundary_as_of_for_every_period_kind(crm_path):
    """As of a date, day, week, month, quarter and year all end at that midnight."""
    with _shop(crm_path, "Asia/Shanghai") as crm:
        midnight = datetime(2025, 7, 10, tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(timezone.utc)
        for kind in ("day", "week", "month", "quarter", "year"):
            assert crm.reports.scope(as_of="2025-07-10", period=kind).period.end == midnight, kind
