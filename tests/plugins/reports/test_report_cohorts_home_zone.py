"""Cohort months are the home zone's: a first purchase at 07:00 on 1 July in Shanghai (UTC+8) is
in the July cohort, and a purchase at 01:00 on 1 August there is the cohort's month 1.

Hand-worked from the purchases below; in a UTC CRM the same times fall a month earlier where
they are before 08:00 local (the UTC figures, unchanged).
"""

from __future__ import annotations

import pytest

import crmkit
from crmkit.testing import FixedClock

PURCHASES = [  # (customer, local time in Shanghai)
    ("A", "2025-07-01T07:00:00+08:00"),  # 30 June 23:00 UTC
    ("A", "2025-08-01T01:00:00+08:00"),  # 31 July 17:00 UTC
    ("B", "2025-07-10T10:00:00+08:00"),
    ("B", "2025-08-01T01:00:00+08:00"),  # 31 July 17:00 UTC
]


def _cohorts(timezone: str | None) -> dict[str, dict]:
    options = {"timezone": timezone} if timezone else {}
    with crmkit.open(":memory:", plugins=["reports"], clock=FixedClock("2025-10-02T00:00:00Z"), **options) as crm:
        ids = {name: crm.customers.add(name=name).id for name in ("A", "B")}
        for name, at in PURCHASES:
            crm.interactions.record(ids[name], "purchase", occurred_at=at, amount="10")
        result = crm.reports.kpi("cohorts", as_of="2025-10-01", period="month")
    return {row["cohort"]: row for row in result.rows}


def test_cohorts_follow_the_home_zone():
    rows = _cohorts("Asia/Shanghai")
    assert list(rows) == ["2025-07"]
    july = rows["2025-07"]
    assert (july["customers"], july["m0"], july["m1"], july["m2"]) == (2, 1, 1, 0)


def test_a_utc_crm_keeps_utc_cohorts():
    rows = _cohorts(None)
    assert list(rows) == ["2025-06", "2025-07"]
    june, july = rows["2025-06"], rows["2025-07"]
    assert (june["customers"], june["m0"], june["m1"], june["m2"]) == (1, 1, 1, 0)  # A: June, then July
    assert (july["customers"], july["m0"], july["m1"]) == (1, 1, 0)  # B: both purchases in July UTC


@pytest.mark.parametrize("zone", ["Asia/Shanghai", None])
def test_cohort_rows_start_no_later_than_the_period(zone):
    """Months not yet begun by the period's end are None, not 0."""
    rows = _cohorts(zone)
    last = rows["2025-07"]
    assert last["m2"] is not None and last.get("m3") is None
