"""The leads plugin's days are the home zone's days: recycling, cooldowns, reminders, the daily
allocation quota and the backtest's days.

Expected values are worked by hand from the zones' rules: Asia/Shanghai is UTC+8 all year;
Europe/Berlin is UTC+1, and UTC+2 from 2025-03-30 01:00 UTC to 2025-10-26 01:00 UTC.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

import crmkit
from crmkit.testing import FixedClock


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def open_in(zone: str, clock: FixedClock):
    return crmkit.open(":memory:", plugins=["leads"], clock=clock, timezone=zone)


class TestRecycling:
    def test_a_shanghai_lead_is_recycled_three_local_days_later(self):
        """Claimed at 07:00 on 1 July in Shanghai (30 June 23:00 UTC): recycled at 07:00 on 4 July
        (3 July 23:00 UTC), and the assignment says "no follow-up by 2025-07-04", the local date."""
        clock = FixedClock("2025-06-30T23:00:00Z")
        with open_in("Asia/Shanghai", clock) as crm:
            crm.leads.add_rep("ann", "Ann Lee", capacity=10)
            crm.leads.configure(recycle_days={"default": 3}, reminder_days=0)
            lead = crm.leads.add("L1")
            assert crm.leads.claim(lead.id, "ann").recycle_at == utc("2025-07-03T23:00:00Z")
            assert crm.leads.recycle(now="2025-07-03T22:59:59Z")["recycled"] == 0
            assert crm.leads.recycle(now="2025-07-03T23:00:00Z")["recycled"] == 1
            assert crm.leads.history(lead.id)[-1].end_reason == "no follow-up by 2025-07-04"

    def test_a_lead_claimed_at_local_midnight_is_recycled_at_local_midnight(self):
        """Claimed at 00:00 on 2 July in Shanghai (1 July 16:00 UTC), 3 days: 00:00 on 5 July."""
        clock = FixedClock("2025-07-01T16:00:00Z")
        with open_in("Asia/Shanghai", clock) as crm:
            crm.leads.add_rep("ann", "Ann Lee", capacity=10)
            crm.leads.configure(recycle_days={"default": 3})
            lead = crm.leads.add("L1")
            recycle_at = crm.leads.claim(lead.id, "ann").recycle_at
            assert recycle_at == utc("2025-07-04T16:00:00Z")
            assert crm.calendar.local(recycle_at).strftime("%Y-%m-%d %H:%M") == "2025-07-05 00:00"
            # run_due reads a date as its local midnight too: the last second of 4 July is too early
            assert crm.run_due("2025-07-04T23:59:59").results["leads"]["recycled"] == 0
            assert crm.run_due("2025-07-05").results["leads"]["recycled"] == 1

    @pytest.mark.parametrize("claimed, expected, hours", [
        # Friday 28 March 10:00 CET (09:00 UTC) + 3 days = Monday 31 March 10:00 CEST (08:00 UTC)
        ("2025-03-28T09:00:00Z", "2025-03-31T08:00:00Z", 71),
        # Friday 24 October 10:00 CEST (08:00 UTC) + 3 days = Monday 27 October 10:00 CET (09:00 UTC)
        ("2025-10-24T08:00:00Z", "2025-10-27T09:00:00Z", 73),
    ])
    def test_across_the_berlin_change_three_days_are_three_calendar_days(self, claimed, expected, hours):
        clock = FixedClock(claimed)
        with open_in("Europe/Berlin", clock) as crm:
            crm.leads.add_rep("ann", "Ann Lee", capacity=10)
            crm.leads.configure(recycle_days={"default": 3})
            claimed_lead, allocated_lead = crm.leads.add("L1"), crm.leads.add("L2")
            assert crm.leads.claim(claimed_lead.id, "ann").recycle_at == utc(expected)
            crm.leads.allocate([allocated_lead.id])
            assert crm.leads.get(allocated_lead.id).recycle_at == utc(expected)
            assert (utc(expected) - utc(claimed)).total_seconds() == hours * 3600
            # changing the period recomputes from the same wall-clock time: 2 days, still 10:00
            crm.leads.configure(recycle_days={"default": 2})
            two_days = crm.calendar.local(crm.leads.get(claimed_lead.id).recycle_at)
            assert (two_days.day, two_days.hour) == (int(claimed[8:10]) + 2, 10)

    def test_a_follow_up_and_an_extension_count_local_days(self):
        """A call on Saturday 25 October 12:00 CEST (10:00 UTC), 3 days: Tuesday 28 October 12:00
        CET (11:00 UTC); a 7-day extension then gives Tuesday 4 November 12:00 CET (11:00 UTC)."""
        clock = FixedClock("2025-10-24T08:00:00Z")
        with open_in("Europe/Berlin", clock) as crm:
            crm.leads.add_rep("ann", "Ann Lee", capacity=10)
            crm.leads.configure(recycle_days={"default": 3}, extension_days=7)
            lead = crm.leads.add("L1")
            crm.leads.claim(lead.id, "ann")
            crm.interactions.record(lead.id, "call", occurred_at="2025-10-25T10:00:00Z", rep="ann")
            assert crm.leads.get(lead.id).recycle_at == utc("2025-10-28T11:00:00Z")
            assert crm.leads.extend(lead.id, "ann").recycle_at == utc("2025-11-04T11:00:00Z")

    def test_a_utc_crm_keeps_whole_24_hour_days(self):
        clock = FixedClock("2025-03-28T09:00:00Z")
        with open_in("UTC", clock) as crm:
            crm.leads.add_rep("ann", "Ann Lee", capacity=10)
            crm.leads.configure(recycle_days={"default": 3})
            lead = crm.leads.add("L1")
            assert crm.leads.claim(lead.id, "ann").recycle_at == utc("2025-03-31T09:00:00Z")


class TestCooldownAndReminders:
    def test_a_one_day_cooldown_over_the_spring_sunday_is_23_hours(self):
        """Released on Saturday 29 March 10:00 CET (09:00 UTC): free again on Sunday 10:00 CEST."""
        clock = FixedClock("2025-03-29T08:00:00Z")
        with open_in("Europe/Berlin", clock) as crm:
            crm.leads.add_rep("ann", "Ann Lee", capacity=10)
            crm.leads.configure(cooldown_days=1)
            lead = crm.leads.add("L1")
            crm.leads.claim(lead.id, "ann")
            released = crm.leads.release(lead.id, "ann", now="2025-03-29T09:00:00Z")
            assert released.cooldown_until == utc("2025-03-30T08:00:00Z")

    def test_the_reminder_horizon_is_two_local_days(self):
        """Claimed Friday 28 March 10:30 CET (09:30 UTC), recycled Monday 31 March 10:30 CEST
        (08:30 UTC). Two local days after Saturday 10:00 CET (09:00 UTC) is Monday 10:00 CEST
        (08:00 UTC), before the deadline: no reminder yet; after Saturday 10:30 CET it is due."""
        clock = FixedClock("2025-03-28T09:30:00Z")
        with open_in("Europe/Berlin", clock) as crm:
            crm.leads.add_rep("ann", "Ann Lee", capacity=10)
            crm.leads.configure(recycle_days={"default": 3}, reminder_days=2)
            lead = crm.leads.add("L1")
            assert crm.leads.claim(lead.id, "ann").recycle_at == utc("2025-03-31T08:30:00Z")
            assert crm.leads.recycle(now="2025-03-29T09:00:00Z")["reminders"] == 0
            assert crm.leads.recycle(now="2025-03-29T09:30:00Z")["reminders"] == 1
            [task] = crm.tasks.open(kind="lead_follow_up")
            assert task.due_at == utc("2025-03-31T08:30:00Z")
            assert "before 2025-03-31" in task.reason

    def test_a_shanghai_reminder_names_the_local_date(self):
        """Recycled at 07:00 on 4 July in Shanghai (3 July 23:00 UTC): "before 2025-07-04"."""
        clock = FixedClock("2025-06-30T23:00:00Z")
        with open_in("Asia/Shanghai", clock) as crm:
            crm.leads.add_rep("ann", "Ann Lee", capacity=10)
            crm.leads.configure(recycle_days={"default": 3}, reminder_days=2)
            lead = crm.leads.add("L1")
            crm.leads.claim(lead.id, "ann")
            assert crm.leads.recycle(now="2025-07-02T12:00:00Z")["reminders"] == 1
            [task] = crm.tasks.open(kind="lead_follow_up")
            assert task.reason == f"follow up lead {lead.id} before 2025-07-04 or it goes back to the pool"


class TestDailyQuota:
    @pytest.mark.parametrize("zone, before_midnight, after_midnight", [
        # Shanghai: local midnight of 2 July is 1 July 16:00 UTC
        ("Asia/Shanghai", "2025-07-01T15:59:00Z", "2025-07-01T16:00:00Z"),
        # Berlin in summer: local midnight of 2 July is 1 July 22:00 UTC
        ("Europe/Berlin", "2025-07-01T21:59:00Z", "2025-07-01T22:00:00Z"),
    ])
    def test_the_daily_allocation_quota_resets_at_local_midnight(self, zone, before_midnight, after_midnight):
        """Capacity 10 with a daily quota of 10 %: one allocated lead per local day."""
        clock = FixedClock("2025-07-01T01:00:00Z")
        with open_in(zone, clock) as crm:
            crm.leads.add_rep("ann", "Ann Lee", capacity=10)
            crm.leads.configure(daily_quota=0.1)
            ids = [crm.leads.add(f"L{i}").id for i in range(3)]
            assert crm.leads.allocate([ids[0]]).count == 1
            assert crm.leads.allocate([ids[1]], as_of=before_midnight).count == 0
            assert crm.leads.allocate([ids[1]], as_of=after_midnight).count == 1
            assert crm.leads.allocate([ids[2]], as_of=after_midnight).count == 0


class TestBacktestDays:
    def test_the_backtest_replays_local_days(self):
        """One rep of capacity 1. Lead A arrives at 22:00 on 1 July in Shanghai (14:00 UTC) and is
        lost at 23:30 (15:30 UTC); lead B arrives at 01:00 on 2 July (17:00 UTC). Both fall on
        1 July in UTC, but on two local days: on 2 July A is closed, so the rep has room for B."""
        clock = FixedClock("2025-07-01T14:00:00Z")
        with open_in("Asia/Shanghai", clock) as crm:
            crm.leads.add_rep("ann", "Ann Lee", capacity=1)
            first = crm.leads.add("A", created_at="2025-07-01T14:00:00Z")
            crm.leads.claim(first.id, "ann")
            crm.leads.lose(first.id, "no budget", now="2025-07-01T15:30:00Z")
            crm.leads.add("B", created_at="2025-07-01T17:00:00Z")
            result = crm.leads.backtest("least_loaded", "2025-07-01", "2025-07-03")
            assert (result["leads"], result["placed"], result["unplaced"]) == (2, 2, 0)
        with open_in("UTC", clock) as crm:
            crm.leads.add_rep("ann", "Ann Lee", capacity=1)
            first = crm.leads.add("A", created_at="2025-07-01T14:00:00Z")
            crm.leads.claim(first.id, "ann")
            crm.leads.lose(first.id, "no budget", now="2025-07-01T15:30:00Z")
            crm.leads.add("B", created_at="2025-07-01T17:00:00Z")
            result = crm.leads.backtest("least_loaded", "2025-07-01", "2025-07-03")
            assert (result["leads"], result["placed"], result["unplaced"]) == (2, 1, 1)


def test_the_extend_command_prints_the_recycle_time_on_the_home_clock(tmp_path, monkeypatch):
    """Claimed at 07:00 on 1 July in Shanghai with 3 days, extended by 7: recycled after 07:00
    on 11 July, Shanghai time (10 July 23:00 UTC)."""
    from click.testing import CliRunner

    from crmkit.cli import make_cli

    path = tmp_path / "pool.db"
    with crmkit.open(path, plugins=["leads"], clock=FixedClock("2025-06-30T23:00:00Z"), timezone="Asia/Shanghai") as crm:
        crm.leads.add_rep("ann", "Ann Lee", capacity=10)
        crm.leads.configure(recycle_days={"default": 3}, extension_days=7)
        lead = crm.leads.add("L1")
        crm.leads.claim(lead.id, "ann")
    monkeypatch.setenv("CRMKIT_PLUGINS", "leads")
    result = CliRunner().invoke(make_cli(), ["leads", "extend", str(path), str(lead.id), "ann"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"extended lead {lead.id}: recycled after 2025-07-11 07:00 CST (extension 1 of 2)"
