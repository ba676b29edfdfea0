"""SLA clocks: targets, the business calendar at its boundaries, pauses, met/breached by timestamps."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import crmkit
from crmkit.timeutil import to_iso

UTC = timezone.utc
BERLIN_WEEK = {
    "timezone": "Europe/Berlin",
    "hours": {d: "09:00-17:00" for d in ("mon", "tue", "wed", "thu", "fri")},
    "holidays": ["2025-01-06"],
}
UTC_WEEK = {"timezone": "UTC", "hours": {d: "09:00-17:00" for d in ("mon", "tue", "wed", "thu", "fri")}}


def iso(value) -> str:
    return to_iso(value)


def reference_working_seconds(calendar: dict, start: datetime, end: datetime) -> int:
    """Independent reference: walk the local days and add the overlap with each working span."""
    zone = ZoneInfo(calendar["timezone"])
    holidays = {date.fromisoformat(d) for d in calendar.get("holidays", [])}
    names = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    total = 0
    day = start.astimezone(zone).date() - timedelta(days=1)
    while datetime.combine(day, time(0), zone) < end:
        spans = calendar["hours"].get(names[day.weekday()])
        if spans and day not in holidays:
            for span in spans.split(","):
                a, b = span.split("-")
                begin = datetime.combine(day, time.fromisoformat(a), zone)
                finish = (datetime.combine(day + timedelta(days=1), time(0), zone) if b == "24:00"
                          else datetime.combine(day, time.fromisoformat(b), zone))
                lo, hi = max(begin, start), min(finish, end)
                if hi > lo:
                    total += int((hi - lo).total_seconds())
        day += timedelta(days=1)
    return total


class TestRoundTheClock:
    def test_default_targets(self, crm, customer):
        """Defaults: critical acknowledged within 2 h and resolved within 24 h, round the clock."""
        c = crm.complaints.open(customer.id, severity="critical")
        assert (c.ack_target_seconds, c.resolve_target_seconds) == (2 * 3600, 24 * 3600)
        assert (iso(c.ack_due_at), iso(c.resolve_due_at)) == ("2025-01-01T11:00:00Z", "2025-01-02T09:00:00Z")
        normal = crm.complaints.open(customer.id)
        assert (iso(normal.ack_due_at), iso(normal.resolve_due_at)) == ("2025-01-02T09:00:00Z", "2025-01-06T09:00:00Z")

    def test_custom_targets_and_segment_override(self, crm, customer):
        vip = crm.customers.add(name="Vera", tags=["vip"])
        crm.segments.define("vip", "tags contains 'vip'")
        crm.complaints.set_targets({"resolve": {"normal": "48h"}}, segments=[{"segment": "vip", "resolve": {"normal": "8h"}}])
        assert crm.complaints.open(customer.id).resolve_target_seconds == 48 * 3600
        special = crm.complaints.open(vip.id)
        assert special.resolve_target_seconds == 8 * 3600
        assert special.ack_target_seconds == 24 * 3600  # not overridden: the base target
        assert iso(special.resolve_due_at) == "2025-01-01T17:00:00Z"

    def test_bad_targets_are_refused_before_anything_is_written(self, crm, snapshot):
        before = snapshot(crm)
        with pytest.raises(crmkit.ValidationError, match="a duration like"):
            crm.complaints.set_targets({"resolve": {"normal": "5 days"}})
        with pytest.raises(crmkit.ValidationError, match="severity"):
            crm.complaints.set_targets({"resolve": {"urgent": "5d"}})
        with pytest.raises(crmkit.RuleError, match="unknown field 'gold'"):
            crm.complaints.set_targets({}, segments=[{"segment": "gold"}])
        with pytest.raises(crmkit.ValidationError, match="a dict with a segment"):
            crm.complaints.set_targets({}, segments=[{"resolve": {"low": "1h"}}])
        assert snapshot(crm) == before


class TestBusinessCalendar:
    @pytest.fixture
    def berlin(self, crm):
        crm.complaints.set_calendar(BERLIN_WEEK)
        return crm

    def test_deadline_runs_over_the_weekend_and_a_holiday(self, berlin):
        # Fri 2025-01-03 16:00 Berlin (15:00Z) + 2 working hours: 1 h on Friday; Mon 6th is a
        # holiday; 1 h on Tuesday -> Tue 10:00 Berlin = 09:00Z.
        assert iso(berlin.complaints.deadline("2025-01-03T15:00:00Z", "2h")) == "2025-01-07T09:00:00Z"

    def test_deadline_landing_on_closing_time_stays_that_day(self, berlin):
        # Tue 09:00 Berlin + 8 h = Tue 17:00 Berlin (16:00Z), not Wednesday 09:00.
        assert iso(berlin.complaints.deadline("2025-01-07T08:00:00Z", "8h")) == "2025-01-07T16:00:00Z"
        # Received exactly at Friday's closing time: the clock starts on the next working day.
        assert iso(berlin.complaints.deadline("2025-01-03T16:00:00Z", "8h")) == "2025-01-07T16:00:00Z"

    def test_received_on_a_saturday_starts_on_the_next_working_morning(self, berlin):
        # Sat 2025-01-11 -> Mon 13th 09:00 Berlin + 1 h = 10:00 Berlin = 09:00Z
        assert iso(berlin.complaints.deadline("2025-01-11T12:00:00Z", "1h")) == "2025-01-13T09:00:00Z"
        assert berlin.complaints.working_seconds("2025-01-11T00:00:00Z", "2025-01-13T08:00:01Z") == 1

    def test_one_second_before_opening(self, berlin):
        # 08:59:59 Berlin Tuesday + 1 s = 09:00:01 Berlin
        assert iso(berlin.complaints.deadline("2025-01-07T07:59:59Z", 1)) == "2025-01-07T08:00:01Z"

    def test_summer_time_shift(self, crm):
        # Berlin moves clocks forward on Sun 2025-03-30: that local day has 23 hours.
        crm.complaints.set_calendar({"timezone": "Europe/Berlin", "hours": {d: "00:00-24:00" for d in ("sat", "sun", "mon")}})
        assert crm.complaints.working_seconds("2025-03-29T23:00:00Z", "2025-03-30T22:00:00Z") == 23 * 3600
        # and the working day in summer starts at 07:00Z, in winter at 08:00Z
        crm.complaints.set_calendar(UTC_WEEK | {"timezone": "Europe/Berlin"})
        assert iso(crm.complaints.deadline("2025-03-31T00:00:00Z", "1h")) == "2025-03-31T08:00:00Z"
        assert iso(crm.complaints.deadline("2025-03-28T00:00:00Z", "1h")) == "2025-03-28T09:00:00Z"

    def test_split_days(self, crm):
        crm.complaints.set_calendar({"timezone": "UTC", "hours": {"mon": "09:00-12:00,13:00-17:00"}})
        # Mon 2025-01-06 11:00 + 2 h: 1 h until 12:00, lunch, 1 h from 13:00 -> 14:00
        assert iso(crm.complaints.deadline("2025-01-06T11:00:00Z", "2h")) == "2025-01-06T14:00:00Z"
        # 7 h = the whole Monday; 8 h runs into next Monday
        assert iso(crm.complaints.deadline("2025-01-06T09:00:00Z", "7h")) == "2025-01-06T17:00:00Z"
        assert iso(crm.complaints.deadline("2025-01-06T09:00:00Z", "8h")) == "2025-01-13T10:00:00Z"

    def test_complaint_deadlines_use_the_calendar(self, berlin, customer, clock):
        clock.set("2025-01-10T15:30:00Z")  # Fri 16:30 Berlin
        c = berlin.complaints.open(customer.id, severity="high")  # ack 8 h, resolve 3 d = 72 working hours
        # ack: 30 min Friday + 7.5 h Monday 13th -> Mon 16:30 Berlin = 15:30Z
        assert iso(c.ack_due_at) == "2025-01-13T15:30:00Z"
        # resolve: 72 working hours = 0.5 h Friday + 8 full days Mon 13th..Wed 22nd (64 h) + 7.5 h
        # on Thu 23rd -> Thu 16:30 Berlin = 15:30Z; the independent reference agrees.
        assert iso(c.resolve_due_at) == "2025-01-23T15:30:00Z"
        expected = reference_deadline(BERLIN_WEEK, datetime(2025, 1, 10, 15, 30, tzinfo=UTC), 72 * 3600)
        assert c.resolve_due_at == expected

    @settings(max_examples=20, deadline=None)
    @given(
        start=st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2025, 12, 31)),
        length=st.integers(min_value=0, max_value=40 * 86400),
    )
    def test_sql_matches_an_independent_reference(self, start, length):
        crm = crmkit.open(":memory:", plugins=["complaints"])
        try:
            crm.complaints.set_calendar(BERLIN_WEEK | {"holidays": ["2025-04-18", "2025-12-25"]})
            begin = start.replace(tzinfo=UTC, microsecond=0)
            end = begin + timedelta(seconds=length)
            calendar = BERLIN_WEEK | {"holidays": ["2025-04-18", "2025-12-25"]}
            assert crm.complaints.working_seconds(begin, end) == reference_working_seconds(calendar, begin, end)
        finally:
            crm.close()

    def test_bad_calendars_are_refused(self, crm, snapshot):
        before = snapshot(crm)
        for bad, message in (
            ({"timezone": "Mars/Olympus", "hours": {"mon": "09:00-17:00"}}, "IANA time zone"),
            ({"hours": {"mon": "17:00-09:00"}}, "end is after its start"),
            ({"hours": {"mon": "9-5"}}, "working hours like"),
            ({"hours": {"funday": "09:00-17:00"}}, "weekdays"),
            ({"hours": {}}, "at least one weekday"),
            ({"hours": {"mon": "09:00-13:00,12:00-17:00"}}, "do not overlap"),
            ({"hours": {"mon": "09:00-17:00"}, "holidays": ["25/12/2025"]}, "dates like"),
        ):
            with pytest.raises(crmkit.ValidationError, match=message):
                crm.complaints.set_calendar(bad)
        assert snapshot(crm) == before


def reference_deadline(calendar: dict, start: datetime, seconds: int) -> datetime:
    """The first moment at which ``seconds`` working seconds have passed (bisection on the reference)."""
    lo, hi = start, start + timedelta(days=400)
    while (hi - lo).total_seconds() > 1:
        mid = lo + (hi - lo) / 2
        mid = mid.replace(microsecond=0)
        if reference_working_seconds(calendar, start, mid) >= seconds:
            hi = mid
        else:
            lo = mid
    return hi if reference_working_seconds(calendar, start, lo) < seconds else lo


class TestPauses:
    @pytest.fixture
    def team_in(self, crm):
        crm.complaints.set_calendar(UTC_WEEK)
        crm.complaints.set_targets({"resolve": {"normal": "16h"}})
        crm.complaints.add_handler("ann")
        return crm

    def test_waiting_on_the_customer_moves_the_deadline_by_working_time(self, team_in, customer, clock):
        crm = team_in
        clock.set("2025-01-06T09:00:00Z")  # Monday
        c = crm.complaints.open(customer.id)
        assert iso(c.resolve_due_at) == "2025-01-07T17:00:00Z"  # 16 working hours
        crm.complaints.acknowledge(c.id)
        clock.set("2025-01-06T15:00:00Z")
        paused = crm.complaints.pause(c.id, "photo of the receipt")
        assert paused.paused_at == clock.current
        assert crm.complaints.history(c.id)[-1].message == "We are waiting for information from you: photo of the receipt."
        clock.set("2025-01-07T10:00:00Z")
        resumed = crm.complaints.resume(c.id)
        # paused 2 working hours on Monday (15-17) + 1 on Tuesday (9-10) = 3 h: Tue 17:00 -> Wed 12:00
        assert iso(resumed.resolve_due_at) == "2025-01-08T12:00:00Z"
        [pause] = crm.complaints.pauses(c.id)
        assert (pause["due_before"], pause["due_after"]) == ("2025-01-07T17:00:00Z", "2025-01-08T12:00:00Z")

    def test_a_pause_after_the_breach_does_not_hide_it(self, team_in, customer, clock):
        crm = team_in
        clock.set("2025-01-06T09:00:00Z")
        c = crm.complaints.open(customer.id)
        crm.complaints.acknowledge(c.id)
        clock.set("2025-01-08T09:00:00Z")  # past Tue 17:00
        crm.complaints.pause(c.id, "late question")
        clock.set("2025-01-09T09:00:00Z")
        assert iso(crm.complaints.resume(c.id).resolve_due_at) == "2025-01-07T17:00:00Z"

    def test_answering_while_paused_ends_the_pause(self, team_in, customer, clock):
        crm = team_in
        clock.set("2025-01-06T09:00:00Z")
        c = crm.complaints.open(customer.id)
        crm.complaints.acknowledge(c.id)
        crm.complaints.assess(c.id)
        crm.complaints.pause(c.id, "details")
        clock.set("2025-01-06T13:00:00Z")
        done = crm.complaints.resolve(c.id, "apology")
        assert done.paused_at is None
        assert iso(done.first_resolve_due_at) == "2025-01-08T13:00:00Z"  # moved by the 4 h paused

    def test_pause_refusals(self, team_in, customer, snapshot):
        crm = team_in
        c = crm.complaints.open(customer.id)
        before = snapshot(crm)
        with pytest.raises(crmkit.ConflictError, match="complaint 1 is received; only a complaint that is acknowledged"):
            crm.complaints.pause(c.id, "x")
        with pytest.raises(crmkit.ConflictError, match="not waiting"):
            crm.complaints.resume(c.id)
        crm.complaints.acknowledge(c.id)
        crm.complaints.pause(c.id, "x")
        before = snapshot(crm)
        with pytest.raises(crmkit.ConflictError, match="already waiting"):
            crm.complaints.pause(c.id, "y")
        with pytest.raises(crmkit.ValidationError, match="reason"):
            crm.complaints.pause(c.id, "")
        assert snapshot(crm) == before


class TestMetOrBreached:
    """Met when the answer's timestamp is at or before the deadline; breached one second later."""

    def _answered_at(self, crm, customer, clock, answer_at: str):
        clock.set("2025-01-01T09:00:00Z")
        c = crm.complaints.open(customer.id, severity="critical")  # ack 2 h, resolve 24 h
        clock.set(answer_at)
        crm.complaints.acknowledge(c.id, at="2025-01-01T11:00:00Z")  # exactly at the ack deadline
        crm.complaints.assess(c.id, at="2025-01-01T11:00:00Z")
        crm.complaints.resolve(c.id, "replacement")
        return c.id

    def test_answer_exactly_at_the_deadline_is_met(self, crm, customer, clock):
        self._answered_at(crm, customer, clock, "2025-01-02T09:00:00Z")
        [row] = crm.complaints.stats()
        assert (row["acknowledged_within_sla"], row["resolved_within_sla"]) == (1.0, 1.0)

    def test_one_second_late_is_breached(self, crm, customer, clock):
        self._answered_at(crm, customer, clock, "2025-01-02T09:00:01Z")
        [row] = crm.complaints.stats()
        assert row["resolved_within_sla"] == 0.0
        assert row["median_hours_to_resolve"] == round(86401 / 3600, 2)

    def test_as_of_a_past_date_the_running_clock_decides(self, crm, customer, clock):
        self._answered_at(crm, customer, clock, "2025-01-03T09:00:00Z")
        # as of the deadline itself: not yet decided; one second later: breached (still open then)
        [at_deadline] = crm.complaints.stats("2025-01-02T09:00:00Z")
        assert at_deadline["resolved_within_sla"] is None and at_deadline["open"] == 1
        [after] = crm.complaints.stats("2025-01-02T09:00:01Z")
        assert after["resolved_within_sla"] == 0.0 and after["open"] == 1 and after["resolved"] == 0

    def test_a_pause_holds_the_clock_in_past_figures(self, crm, customer, clock):
        clock.set("2025-01-01T09:00:00Z")
        c = crm.complaints.open(customer.id, severity="critical")  # resolve due 2025-01-02 09:00
        crm.complaints.acknowledge(c.id)
        clock.set("2025-01-01T21:00:00Z")
        crm.complaints.pause(c.id, "waiting for the serial number")
        clock.set("2025-01-03T21:00:00Z")
        resumed = crm.complaints.resume(c.id)  # paused 48 h -> due 2025-01-04 09:00
        assert iso(resumed.resolve_due_at) == "2025-01-04T09:00:00Z"
        # On 2025-01-02 12:00 the old deadline had passed, but the complaint was waiting: not breached.
        assert crm.complaints.stats("2025-01-02T12:00:00Z")[0]["resolved_within_sla"] is None
        # On 2025-01-04 09:00:01 the moved deadline has passed: breached.
        clock.set("2025-01-05T00:00:00Z")
        assert crm.complaints.stats("2025-01-04T09:00:01Z")[0]["resolved_within_sla"] == 0.0
        assert crm.complaints.stats("2025-01-04T09:00:00Z")[0]["resolved_within_sla"] is None
