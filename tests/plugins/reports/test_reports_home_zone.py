"""Report months are the home zone's: a purchase at 07:00 local on the 1st is that month's.

Hand-worked: 07:00 on 1 July in Shanghai (UTC+8) is 30 June 23:00 UTC; in Berlin (summer,
UTC+2) it is 1 July 05:00 UTC. 23:30 on 31 July locally is in July in both zones.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

import crmkit
from crmkit.testing import FixedClock


@pytest.mark.parametrize("zone, offset", [("Asia/Shanghai", "+08:00"), ("Europe/Berlin", "+02:00")])
def test_a_purchase_at_seven_on_the_first_lands_in_that_month(zone, offset):
    clock = FixedClock("2025-09-01T12:00:00Z")
    with crmkit.open(":memory:", plugins=["reports"], clock=clock, timezone=zone) as crm:
        customer = crm.customers.add(name="Li")
        crm.interactions.record(customer.id, "purchase", occurred_at=f"2025-06-30T23:30:00{offset}", amount="1")
        crm.interactions.record(customer.id, "purchase", occurred_at=f"2025-07-01T07:00:00{offset}", amount="20")
        crm.interactions.record(customer.id, "purchase", occurred_at=f"2025-07-31T23:30:00{offset}", amount="300")
        july = crm.reports.kpi("value", as_of="2025-08-01", period="month")
        assert july.period.label == "2025-07"
        assert july["gross_revenue"] == Decimal("320")
        assert july.previous is not None and july.previous.label == "2025-06"
        assert july.measure("gross_revenue").previous == Decimal("1")


def test_the_same_purchases_give_utc_months_in_a_utc_crm():
    """07:00 on 1 July at +08:00 is 30 June 23:00 UTC: June's in a UTC CRM, as before; 23:30 on
    31 July at +08:00 is 15:30 UTC, July's in both."""
    clock = FixedClock("2025-09-01T12:00:00Z")
    with crmkit.open(":memory:", plugins=["reports"], clock=clock) as crm:
        customer = crm.customers.add(name="Li")
        crm.interactions.record(customer.id, "purchase", occurred_at="2025-07-01T07:00:00+08:00", amount="20")
        crm.interactions.record(customer.id, "purchase", occurred_at="2025-07-31T23:30:00+08:00", amount="300")
        july = crm.reports.kpi("value", as_of="2025-08-01", period="month")
        assert july["gross_revenue"] == Decimal("300")
        assert july.measure("gross_revenue").previous == Decimal("20")


def test_a_week_starts_on_the_crms_first_weekday():
    clock = FixedClock("2025-09-01T12:00:00Z")
    with crmkit.open(":memory:", plugins=["reports"], clock=clock, timezone="Asia/Shanghai", first_weekday="sunday") as crm:
        week = crm.reports.scope(as_of="2025-07-10", period="week").period  # a Thursday
        assert week.start.isoformat() == "2025-07-05T16:00:00+00:00"  # Sunday 6 July, 00:00 in Shanghai
        # week to date: the date 10 July (its local midnight) closes the day before, Wednesday 9 July
        assert week.end.isoformat() == "2025-07-09T16:00:00+00:00"


@pytest.mark.parametrize("zone, june, july", [("Asia/Shanghai", "1", "320"), ("UTC", "21", "300")])
def test_purchases_imported_with_offsets_give_the_home_zones_months(tmp_path, zone, june, july):
    """The issue's check, through `crmkit import` of a CSV written with +08:00 offsets: Shanghai
    months in a Shanghai CRM, UTC months (07:00 on 1 July at +08:00 is June's) in a UTC CRM."""
    from crmkit.cli import main

    path = tmp_path / "shop.db"
    (tmp_path / "orders.csv").write_text(
        "customer_email,kind,occurred_at,amount\n"
        "li@example.com,purchase,2025-06-30T23:30:00+08:00,1\n"
        "li@example.com,purchase,2025-07-01T07:00:00+08:00,20\n"
        "li@example.com,purchase,2025-07-31T23:30:00+08:00,300\n",
        encoding="utf-8",
    )
    for args in (["init", str(path), "--plugins", "reports", "--timezone", zone],
                 ["customers", "add", str(path), "--name", "Li", "--email", "li@example.com"],
                 ["import", str(path), str(tmp_path / "orders.csv"), "--kind", "interactions"]):
        with pytest.raises(SystemExit) as done:
            main(args)
        assert done.value.code in (0, None), args
    with crmkit.open(path, clock=FixedClock("2025-09-01T12:00:00Z")) as crm:
        figures = crm.reports.kpi("value", as_of="2025-08-01", period="month")
        assert figures["gross_revenue"] == Decimal(july)
        assert figures.measure("gross_revenue").previous == Decimal(june)
