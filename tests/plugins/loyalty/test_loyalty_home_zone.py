"""The loyalty plugin counts days in the CRM's home zone.

Expected values are worked by hand and checked with zoneinfo in the test: Asia/Shanghai is
UTC+8 all year; Europe/Berlin is UTC+1, and UTC+2 from 2025-03-30 01:00 UTC to 2025-10-26
01:00 UTC, so its Sunday 30 March has 23 hours and Sunday 26 October 25. Whole days count on
the local wall clock (cut towards zero), as the core's ``last_purchase_days`` does.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

import crmkit
from crmkit.testing import FixedClock

UTC = timezone.utc


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def wall_days(zone: str, earlier: str, later: str) -> int:
    """Whole days between two instants on ``zone``'s wall clock, independently of crmkit."""
    tz = ZoneInfo(zone)
    gap = utc(later).astimezone(tz).replace(tzinfo=None) - utc(earlier).astimezone(tz).replace(tzinfo=None)
    return int(gap.total_seconds() // 86400)


def open_in(zone: str, clock=None):
    return crmkit.open(":memory:", plugins=["loyalty"], clock=clock or FixedClock("2025-01-01T09:00:00Z"), timezone=zone)


def test_a_cadence_task_falls_due_on_the_local_day():
    """A purchase at 20:00 on 1 July in Shanghai is 1 July 12:00 UTC. "Call 3 days after" is
    owed from 00:00 on 4 July in Shanghai, i.e. 3 July 16:00 UTC."""
    clock = FixedClock("2025-07-01T12:00:00Z")
    with open_in("Asia/Shanghai", clock) as crm:
        crm.loyalty.set_cadence_rules([{"name": "call", "kind": "purchase", "delay_days": 3, "task": "call", "lookback_days": 30}])
        customer = crm.customers.add(name="Li")
        crm.interactions.record(customer.id, "purchase", occurred_at="2025-07-01T20:00:00+08:00", amount="10")
        assert crm.loyalty.cadence(now="2025-07-03T15:59:59Z")["created"] == {"call": 0}  # 23:59:59 on 3 July
        result = crm.loyalty.cadence(now="2025-07-03T16:00:00Z")  # 00:00 on 4 July in Shanghai
        assert result["created"] == {"call": 1}
        (task,) = crm.tasks.open(kind="call")
        assert task.due_at == datetime(2025, 7, 3, 16, 0, tzinfo=UTC)


class TestRfm:
    @pytest.mark.parametrize("zone, purchase, as_of", [
        # 23:30 yesterday, seen at 23:45 today: one day on the wall clock
        ("Asia/Shanghai", "2025-07-01T23:30:00+08:00", "2025-07-02T23:45:00+08:00"),
        ("Europe/Berlin", "2025-07-01T23:30:00+02:00", "2025-07-02T23:45:00+02:00"),
        # across the spring-forward Sunday: 23 hours, one wall-clock day
        ("Europe/Berlin", "2025-03-29T23:30:00+01:00", "2025-03-30T23:45:00+02:00"),
        # across the fall-back Sunday: 25 hours, one wall-clock day
        ("Europe/Berlin", "2025-10-25T23:30:00+02:00", "2025-10-26T23:45:00+01:00"),
    ])
    def test_a_purchase_late_yesterday_is_one_day_old(self, zone, purchase, as_of):
        assert wall_days(zone, purchase, as_of) == 1
        with open_in(zone) as crm:
            cid = crm.customers.add(name="Li").id
            crm.interactions.record(cid, "purchase", occurred_at=purchase, amount="10")
            assert _recency(crm, as_of) == {cid: (1, 1)}

    def test_the_dst_sunday_is_one_day_in_berlin_and_23_hours_in_utc(self):
        """Saturday 12:00 to Sunday 12:00 in Berlin (29-30 March 2025) is 23 hours: one day in
        Berlin, no whole day in a UTC CRM, which keeps its answers."""
        purchase, as_of = "2025-03-29T11:00:00Z", "2025-03-30T10:00:00Z"
        assert (wall_days("Europe/Berlin", purchase, as_of), wall_days("UTC", purchase, as_of)) == (1, 0)
        for zone, expected in (("Europe/Berlin", 1), ("UTC", 0)):
            with open_in(zone) as crm:
                cid = crm.customers.add(name="Li").id
                crm.interactions.record(cid, "purchase", occurred_at=purchase, amount="10")
                assert _recency(crm, as_of) == {cid: (expected, 1)}
                # the core's whole-day field gives the same count
                assert crm.segments.evaluate(f"last_purchase_days = {expected}", as_of=as_of).count() == 1

    def test_the_window_reaches_back_whole_local_days(self):
        """A one-day window as of Sunday 12:00 in Berlin starts on Saturday at 12:00 Berlin time
        (11:00 UTC): a purchase at 11:30 Berlin time (10:30 UTC) is outside it; in a UTC CRM the
        window starts 24 hours back, at 10:00 UTC, and holds it."""
        purchase, as_of = "2025-03-29T10:30:00Z", "2025-03-30T10:00:00Z"
        for zone, frequency in (("Europe/Berlin", 0), ("UTC", 1)):
            with open_in(zone) as crm:
                cid = crm.customers.add(name="Li").id
                crm.interactions.record(cid, "purchase", occurred_at=purchase, amount="10")
                assert _recency(crm, as_of, window_days=1)[cid][1] == frequency


def _recency(crm, as_of: str, **options) -> dict[int, tuple[int, int]]:
    """Recency days and frequency per customer of an RFM run as of ``as_of``."""
    run = crm.loyalty.rfm(as_of, **options).run
    return {row.customer_id: (row.recency_days, row.frequency) for row in crm.loyalty.rfm_scores(run)}


class TestChurn:
    def test_days_since_purchase_count_the_dst_sunday_as_one_day(self):
        """Saturday 12:00 to Sunday 12:30 in Berlin (29-30 March 2025) is 23.5 hours: more than
        one wall-clock day, so with ``max_days=1`` the customer is inactive in Berlin; in a UTC
        CRM it is less than a day and there is no warning."""
        purchase, as_of = "2025-03-29T11:00:00Z", "2025-03-30T10:30:00Z"
        assert (wall_days("Europe/Berlin", purchase, as_of), wall_days("UTC", purchase, as_of)) == (1, 0)
        for zone, expected in (("Europe/Berlin", [(["inactive"], 1)]), ("UTC", [])):
            with open_in(zone) as crm:
                crm.loyalty.set_churn_classes([{"name": "all", "max_days": 1}])
                cid = crm.customers.add(name="Li").id
                crm.interactions.record(cid, "purchase", occurred_at=purchase, amount="10")
                warnings = crm.loyalty.churn(as_of)
                assert [(list(w.signals), w.evidence["days_since_purchase"]) for w in warnings] == expected
                assert all(w.customer_id == cid for w in warnings)

    def test_lifecycle_churned_after_whole_local_days(self):
        """``churned_days=1``: churned once more than one wall-clock day passed since the last purchase."""
        purchase, as_of = "2025-03-29T11:00:00Z", "2025-03-30T10:30:00Z"
        for zone, stage in (("Europe/Berlin", "churned"), ("UTC", "new")):
            with open_in(zone) as crm:
                crm.loyalty.set_lifecycle_rules(new_days=1, churned_days=1)
                cid = crm.customers.add(name="Li").id
                crm.interactions.record(cid, "purchase", occurred_at=purchase, amount="10")
                assert crm.loyalty.lifecycle_of(cid, as_of) == stage


class TestPoints:
    @pytest.mark.parametrize("zone, purchase, lock_days, expiry_days, expiry_end, available, expires", [
        # 07:00 on 1 July in Shanghai: unlocked 2 days later at 07:00, expiring at the end of 11 July
        ("Asia/Shanghai", (2025, 7, 1, 7), 2, 10, "day", (2025, 7, 3, 7), (2025, 7, 12, 0)),
        # 07:00 on 20 March in Berlin: 10 days later is across the spring-forward Sunday
        ("Europe/Berlin", (2025, 3, 20, 7), 10, 10, "day", (2025, 3, 30, 7), (2025, 3, 31, 0)),
        ("Europe/Berlin", (2025, 3, 20, 7), 10, 10, "month", (2025, 3, 30, 7), (2025, 4, 1, 0)),
        ("Europe/Berlin", (2025, 10, 20, 7), 6, 6, "day", (2025, 10, 26, 7), (2025, 10, 27, 0)),
        ("Europe/Berlin", (2025, 10, 20, 7), 6, 6, "exact", (2025, 10, 26, 7), (2025, 10, 26, 7)),
        # a purchase at local midnight expires at the midnight N days later, as before
        ("Europe/Berlin", (2025, 3, 20, 0), 0, 10, "day", (2025, 3, 20, 0), (2025, 3, 30, 0)),
        ("Asia/Shanghai", (2025, 1, 1, 0), 0, 31, "month", (2025, 1, 1, 0), (2025, 2, 1, 0)),
        ("UTC", (2024, 1, 1, 7), 14, 100, "exact", (2024, 1, 15, 7), (2024, 4, 10, 7)),
        ("UTC", (2024, 1, 1, 7), 14, 100, "day", (2024, 1, 15, 7), (2024, 4, 11, 0)),
        ("UTC", (2024, 1, 1, 0), 0, 100, "day", (2024, 1, 1, 0), (2024, 4, 10, 0)),
        ("UTC", (2024, 2, 28, 23), 0, 1, "day", (2024, 2, 28, 23), (2024, 3, 1, 0)),
        ("UTC", (2024, 1, 31, 7), 0, 30, "month", (2024, 1, 31, 7), (2024, 4, 1, 0)),
    ])
    def test_lock_and_expiry_follow_the_local_calendar(self, zone, purchase, lock_days, expiry_days, expiry_end, available, expires):
        tz = ZoneInfo(zone)
        earned_at = datetime(*purchase, tzinfo=tz)
        want = (datetime(*available, tzinfo=tz).astimezone(UTC), datetime(*expires, tzinfo=tz).astimezone(UTC))
        with open_in(zone) as crm:
            crm.loyalty.points.set_policy(lock_days=lock_days, expiry_days=expiry_days, expiry_end=expiry_end)
            cid = crm.customers.add(name="Li").id
            crm.interactions.record(cid, "purchase", occurred_at=earned_at.isoformat(), amount="10")
            crm.loyalty.points.award(cid, 5, key="welcome", reason="welcome", at=earned_at.isoformat())
            got = {b["points"]: (b["available_at"], b["expires_at"]) for b in crm.loyalty.points.batches(cid)}
            assert got == {10: want, 5: want}  # earned in SQL and awarded in Python alike
            last_second = want[1] - timedelta(seconds=1)
            if want[0] <= last_second:
                assert crm.loyalty.points.balance(cid, last_second.isoformat()) == 15
            assert crm.loyalty.points.balance(cid, want[1].isoformat()) == 0
            crm.run_due(want[1].isoformat())
            assert sorted(e.points for e in crm.loyalty.points.entries(cid) if e.kind == "expire") == [-10, -5]

    def test_a_bad_expiry_end_is_refused_and_nothing_is_stored(self):
        with open_in("Europe/Berlin") as crm:
            before = crm.loyalty.points.policy()
            with pytest.raises(crmkit.ValidationError, match="expiry_end"):
                crm.loyalty.points.set_policy(expiry_end="week")
            assert crm.loyalty.points.policy() == before


class TestFieldsAndTiers:
    def test_points_earned_n_days_reach_back_whole_local_days(self):
        """``points_earned_1d`` as of Sunday 12:00 in Berlin counts from Saturday 12:00 Berlin time
        (11:00 UTC); a UTC CRM counts 24 hours back (from 10:00 UTC)."""
        earned, as_of = "2025-03-29T10:30:00Z", "2025-03-30T10:00:00Z"
        for zone, expected in (("Europe/Berlin", 0), ("UTC", 1)):
            with open_in(zone) as crm:
                cid = crm.customers.add(name="Li").id
                crm.interactions.record(cid, "purchase", occurred_at=earned, amount="10")
                assert crm.segments.evaluate("points_earned_1d = 10", as_of=as_of).count() == expected


class TestClvPurchaseDays:
    @pytest.mark.parametrize("zone, frequency, recency_days, age_days, repeat_value", [
        # 1 July (07:00 and 20:00) and 8 July: two local days, 7 days apart, 9 days to 10 July
        ("Asia/Shanghai", 1, 7, 9, 30.0),
        # the same instants in UTC: 30 June, 1 July and 7 July 23:00 UTC; as_of 9 July 16:00 UTC
        ("UTC", 2, 7, 9, 50.0),
    ])
    def test_a_purchase_day_is_a_local_day(self, zone, frequency, recency_days, age_days, repeat_value):
        """Purchases of 10.00, 20.00 and 30.00 at 07:00 and 20:00 on 1 July and at 07:00 on 8 July
        in Shanghai. In a Shanghai CRM the first day holds 10.00 + 20.00, the repeat day 30.00
        (mean 30.00 over one repeat day); in a UTC CRM the first day (30 June) holds 10.00 and the
        repeat days 20.00 + 30.00 (mean 25.00)."""
        from crmkit_loyalty.value import summary

        times = ["2025-07-01T07:00:00+08:00", "2025-07-01T20:00:00+08:00", "2025-07-08T07:00:00+08:00"]
        as_of = "2025-07-10T00:00:00+08:00"
        tz = ZoneInfo(zone)
        days = sorted({utc(t).astimezone(tz).date() for t in times})
        assert len(days) - 1 == frequency
        assert ((days[-1] - days[0]).days, (utc(as_of).astimezone(tz).date() - days[0]).days) == (recency_days, age_days)
        with open_in(zone) as crm:
            cid = crm.customers.add(name="Li").id
            for amount, at in zip(("10", "20", "30"), times):
                crm.interactions.record(cid, "purchase", occurred_at=at, amount=amount)
            got = summary(crm, as_of)
            assert list(got["customer_id"]) == [cid]
            assert got["frequency"][0] == frequency
            assert got["recency"][0] * 7 == pytest.approx(recency_days)
            assert got["T"][0] * 7 == pytest.approx(age_days)
            assert got["monetary"][0] * frequency == pytest.approx(repeat_value)


class TestScore:
    def test_tenure_counts_wall_clock_days(self):
        """A first purchase on Saturday 12:00 in Berlin, scored as of Sunday 12:00 (23 hours
        later): one whole day of tenure in Berlin (1/730 of full tenure), none yet in UTC."""
        purchase, as_of = "2025-03-29T11:00:00Z", "2025-03-30T10:00:00Z"
        assert (wall_days("Europe/Berlin", purchase, as_of), wall_days("UTC", purchase, as_of)) == (1, 0)
        for zone, tenure_days in (("Europe/Berlin", 1), ("UTC", 0)):
            with open_in(zone) as crm:
                cid = crm.customers.add(name="Li").id
                crm.interactions.record(cid, "purchase", occurred_at=purchase, amount="10")
                (score,) = crm.loyalty.score(as_of, store=False)
                assert (score.customer_id, score.parts["tenure"]) == (cid, round(tenure_days / 730, 4))


class TestTierReview:
    def test_the_review_period_counts_wall_clock_days(self):
        """Gold for one purchase in the last day, reviewed after one day. Upgraded on Saturday
        29 March at 11:30 UTC (12:30 in Berlin); on Sunday at 11:15 UTC the purchase (Saturday
        11:00 UTC) is out of the one-day window in both zones. Berlin: 24 h 45 min on the wall
        clock, a whole day: down. UTC: 23 h 45 min, not yet a day: kept."""
        purchase, upgraded, reviewed = "2025-03-29T11:00:00Z", "2025-03-29T11:30:00Z", "2025-03-30T11:15:00Z"
        assert (wall_days("Europe/Berlin", upgraded, reviewed), wall_days("UTC", upgraded, reviewed)) == (1, 0)
        for zone, downgrades in (("Europe/Berlin", 1), ("UTC", 0)):
            with open_in(zone) as crm:
                crm.loyalty.tiers.define([{"name": "gold", "rule": "purchases_1d >= 1"}])
                crm.loyalty.tiers.set_downgrade_policy("review", days=1)
                cid = crm.customers.add(name="Li").id
                crm.interactions.record(cid, "purchase", occurred_at=purchase, amount="10")
                assert crm.loyalty.tiers.evaluate(upgraded).upgrades == 1
                assert crm.segments.evaluate("purchases_1d >= 1", as_of=reviewed).count() == 0
                assert crm.loyalty.tiers.evaluate(reviewed).downgrades == downgrades
