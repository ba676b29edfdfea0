"""The monthly trend's months are the home zone's, as the KPIs' and the cohorts' are.

The expected figures are computed here from the purchases themselves, with ``zoneinfo`` and
plain Python (not with crmkit): each purchase's month is the month of its local date; new
customers are those whose first purchase falls in the month; buyers those with a purchase in
it; net revenue = purchases - refunds in it; active at a month's end = a purchase in the churn
window before that end (local midnight on the 1st of the next month, or the report's end).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

import crmkit
from crmkit.testing import FixedClock

UTC = timezone.utc

# (customer, kind, UTC time, amount): chosen on the edges of local months.
MOVES = [
    ("A", "purchase", "2025-06-10T10:00:00Z", "10.00"),
    ("B", "purchase", "2025-06-30T23:00:00Z", "500.00"),  # 07:00 on 1 July in Shanghai
    ("C", "purchase", "2025-05-31T16:30:00Z", "7.00"),  # 00:30 on 1 June in Shanghai, 18:30 in Berlin
    ("C", "purchase", "2025-07-31T15:59:59Z", "30.00"),  # 23:59:59 on 31 July in Shanghai
    ("C", "refund", "2025-07-31T16:00:00Z", "4.00"),  # 00:00 on 1 August in Shanghai
    ("A", "purchase", "2025-08-31T22:30:00Z", "60.00"),  # 1 September in Shanghai and Berlin (00:30 CEST)
    ("D", "purchase", "2025-04-30T22:15:00Z", "1.00"),  # 1 May in Berlin (00:15 CEST), 06:15 in Shanghai
    ("D", "purchase", "2025-08-01T02:00:00Z", "2.00"),  # 22:00 on 31 July in New York
]
CHURN_DAYS = 40
AS_OF = "2025-09-02"  # a date: its local midnight


def _expected(zone_name: str, months: int) -> list[dict]:
    zone = ZoneInfo(zone_name)
    as_of = datetime(2025, 9, 2, tzinfo=zone).astimezone(UTC)
    moves = [(who, kind, datetime.fromisoformat(at.replace("Z", "+00:00")), Decimal(amount)) for who, kind, at, amount in MOVES]

    def month_of(moment: datetime) -> str:
        return moment.astimezone(zone).strftime("%Y-%m")

    labels = []
    year, month = 2025, 9
    for _ in range(months):
        labels.insert(0, f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    first = {}
    for who, kind, at, _ in sorted(moves, key=lambda m: m[2]):
        if kind == "purchase":
            first.setdefault(who, at)
    rows = []
    for label in labels:
        y, m = int(label[:4]), int(label[5:])
        following = datetime(y + (m == 12), m % 12 + 1, 1, tzinfo=zone).astimezone(UTC)
        end = min(following, as_of)
        bought = [mv for mv in moves if mv[1] == "purchase" and month_of(mv[2]) == label and mv[2] < end]
        refunded = [mv for mv in moves if mv[1] == "refund" and month_of(mv[2]) == label and mv[2] < end]
        active = {who for who, kind, at, _ in moves if kind == "purchase" and end - timedelta(days=CHURN_DAYS) <= at < end}
        rows.append({
            "month": label,
            "new_customers": sum(1 for at in first.values() if month_of(at) == label and at < end),
            "active_customers": len(active),
            "buyers": len({mv[0] for mv in bought}),
            "net_revenue": sum((mv[3] for mv in bought), Decimal(0)) - sum((mv[3] for mv in refunded), Decimal(0)),
        })
    return rows


def _crm(zone_name: str):
    crm = crmkit.open(":memory:", plugins=["reports"], clock=FixedClock("2025-09-05T00:00:00Z"), timezone=zone_name)
    crm.reports.configure(churn_days=CHURN_DAYS)
    ids = {name: crm.customers.add(name=name).id for name in "ABCD"}
    for who, kind, at, amount in MOVES:
        crm.interactions.record(ids[who], kind, at, amount=amount)
    return crm


@pytest.mark.parametrize("zone_name", ["Asia/Shanghai", "Europe/Berlin", "America/New_York", "UTC"])
def test_the_trend_counts_each_purchase_in_its_local_month(zone_name):
    with _crm(zone_name) as crm:
        got = crm.reports.trend(as_of=AS_OF, months=6)
    assert got == _expected(zone_name, 6)


def test_the_qa_case_july_sale_at_seven_in_shanghai_is_julys():
    """Hand-worked: 23:00 UTC on 30 June is 07:00 on 1 July in Shanghai, so June has A's $10 and
    July B's $500, one new customer and one buyer each; as the KPIs of the same months say."""
    crm = crmkit.open(":memory:", plugins=["reports"], clock=FixedClock("2025-08-05T00:00:00Z"), timezone="Asia/Shanghai")
    with crm:
        a, b = crm.customers.add(name="A"), crm.customers.add(name="B")
        crm.interactions.record(a.id, "purchase", "2025-06-10T10:00:00Z", amount="10.00")
        crm.interactions.record(b.id, "purchase", "2025-06-30T23:00:00Z", amount="500.00")
        june, july = crm.reports.trend(as_of="2025-08-01", months=2)
        assert (june["month"], june["new_customers"], june["buyers"], june["net_revenue"]) == ("2025-06", 1, 1, Decimal("10.00"))
        assert (july["month"], july["new_customers"], july["buyers"], july["net_revenue"]) == ("2025-07", 1, 1, Decimal("500.00"))
        kpi = crm.reports.value(as_of="2025-08-01")
        assert kpi["net_revenue"] == july["net_revenue"] and kpi["buyers"] == july["buyers"]
        assert crm.reports.acquisition(as_of="2025-08-01")["new_customers"] == july["new_customers"]


@pytest.mark.parametrize("zone_name", ["Asia/Shanghai", "Europe/Berlin"])
def test_the_reports_trend_section_and_its_charts_use_the_same_months(zone_name):
    """The report's "Monthly trend" section (the table, and the dashboard's per-month charts fed
    by its rows) holds the same local months as the trend."""
    with _crm(zone_name) as crm:
        section = crm.reports.build(as_of=AS_OF).section("reports.trend")
    assert section.rows == _expected(zone_name, 12)


@pytest.mark.parametrize("zone_name", ["Asia/Shanghai", "Europe/Berlin", "UTC"])
def test_cohorts_use_the_same_local_months(zone_name):
    """The cohort table (first-purchase month, then month k) agrees with the local months above."""
    zone = ZoneInfo(zone_name)
    with _crm(zone_name) as crm:
        rows = {r["cohort"]: r for r in crm.reports.cohorts(as_of=AS_OF).rows}
    firsts: dict[str, datetime] = {}
    bought: dict[str, set[str]] = {}
    for who, kind, at, _ in MOVES:
        if kind != "purchase":
            continue
        moment = datetime.fromisoformat(at.replace("Z", "+00:00")).astimezone(zone)
        firsts[who] = min(firsts.get(who, moment), moment)
        bought.setdefault(who, set()).add(moment.strftime("%Y-%m"))
    expected: dict[str, list[str]] = {}
    for who, first in firsts.items():
        expected.setdefault(first.strftime("%Y-%m"), []).append(who)
    assert sorted(rows) == sorted(expected)
    for cohort, members in expected.items():
        assert rows[cohort]["customers"] == len(members)
        y, m = int(cohort[:4]), int(cohort[5:])
        for k in range(1, 4):
            index = y * 12 + m - 1 + k
            month = f"{index // 12:04d}-{index % 12 + 1:02d}"
            if month > "2025-09":
                assert rows[cohort][f"m{k}"] is None
                continue
            share = Decimal(sum(1 for who in members if month in bought[who])) / len(members)
            assert rows[cohort][f"m{k}"] == share.quantize(Decimal("0.0001")), (cohort, k)
