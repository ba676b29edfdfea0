"""The daily claim limit counts the home zone's day: it resets at local midnight, not UTC's."""

from __future__ import annotations

import pytest

import crmkit
from crmkit import ConflictError
from crmkit.testing import FixedClock


@pytest.mark.parametrize("zone, before_midnight, after_midnight", [
    # Shanghai is UTC+8: local midnight of 2 July is 1 July 16:00 UTC
    ("Asia/Shanghai", "2025-07-01T15:59:00Z", "2025-07-01T16:00:00Z"),
    # Berlin in summer is UTC+2: local midnight of 2 July is 1 July 22:00 UTC
    ("Europe/Berlin", "2025-07-01T21:59:00Z", "2025-07-01T22:00:00Z"),
])
def test_the_claim_limit_resets_at_local_midnight(zone, before_midnight, after_midnight):
    clock = FixedClock("2025-07-01T01:00:00Z")  # 09:00 in Shanghai, 03:00 in Berlin, on 1 July
    with crmkit.open(":memory:", plugins=["leads"], clock=clock, timezone=zone) as crm:
        crm.leads.add_rep("ann", "Ann Lee", capacity=10)
        crm.leads.configure(daily_claim_cap=1)
        ids = [crm.leads.add(f"L{i}").id for i in range(3)]
        crm.leads.claim(ids[0], "ann")
        clock.set(before_midnight)  # 23:59 on 1 July locally
        with pytest.raises(ConflictError, match=r"daily claim limit \(1 of 1 today\)"):
            crm.leads.claim(ids[1], "ann")
        clock.set(after_midnight)  # 00:00 on 2 July locally, still 1 July in UTC
        assert crm.leads.claim(ids[1], "ann").owner == "ann"
