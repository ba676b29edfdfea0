"""An SLA calendar without a zone of its own counts working hours in the CRM's home zone."""

from __future__ import annotations

import crmkit
from crmkit.testing import FixedClock


def test_a_calendar_without_a_zone_keeps_the_home_zone():
    # Working hours 09:00-17:00 Shanghai (01:00-09:00 UTC). Mon 2025-01-06 16:00 Shanghai (08:00Z)
    # + 2 working hours: 1 h on Monday, 1 h on Tuesday from 09:00 -> Tue 10:00 Shanghai = 02:00Z.
    clock = FixedClock("2025-01-06T08:00:00Z")
    with crmkit.open(":memory:", plugins=["complaints"], clock=clock, timezone="Asia/Shanghai") as crm:
        crm.complaints.set_calendar({"hours": {day: "09:00-17:00" for day in ("mon", "tue", "wed", "thu", "fri")}})
        deadline = crm.complaints.deadline("2025-01-06T08:00:00Z", "2h")
        assert deadline.isoformat() == "2025-01-07T02:00:00+00:00"
        # a team in another zone says so, and keeps its own
        crm.complaints.set_calendar({"timezone": "UTC", "hours": {day: "09:00-17:00" for day in ("mon", "tue")}})
        assert crm.complaints.deadline("2025-01-06T08:00:00Z", "2h").isoformat() == "2025-01-06T11:00:00+00:00"
