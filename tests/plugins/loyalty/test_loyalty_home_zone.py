"""Cadence tasks fall due at the start of the home zone's day, not at the trigger's hour.

Hand-worked: a purchase at 20:00 on 1 July in Shanghai (UTC+8) is 1 July 12:00 UTC. "Call
3 days after" is owed from 00:00 on 4 July in Shanghai, i.e. 3 July 16:00 UTC.
"""

from __future__ import annotations

from datetime import datetime, timezone

import crmkit
from crmkit.testing import FixedClock


def test_a_cadence_task_falls_due_on_the_local_day():
    clock = FixedClock("2025-07-01T12:00:00Z")
    with crmkit.open(":memory:", plugins=["loyalty"], clock=clock, timezone="Asia/Shanghai") as crm:
        crm.loyalty.set_cadence_rules([{"name": "call", "kind": "purchase", "delay_days": 3, "task": "call", "lookback_days": 30}])
        customer = crm.customers.add(name="Li")
        crm.interactions.record(customer.id, "purchase", occurred_at="2025-07-01T20:00:00+08:00", amount="10")
        assert crm.loyalty.cadence(now="2025-07-03T15:59:59Z")["created"] == {"call": 0}  # 23:59:59 on 3 July
        result = crm.loyalty.cadence(now="2025-07-03T16:00:00Z")  # 00:00 on 4 July in Shanghai
        assert result["created"] == {"call": 1}
        (task,) = crm.tasks.open(kind="call")
        assert task.due_at == datetime(2025, 7, 3, 16, 0, tzinfo=timezone.utc)
