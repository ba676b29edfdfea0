"""A complaint's clocks count in the business calendar it was opened under: setting, changing or
removing the calendar later moves no running clock (SLA board, escalation, pauses, reopening)."""

from __future__ import annotations

import pytest

import crmkit
from crmkit.testing import FixedClock
from crmkit.timeutil import to_iso

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
BERLIN_WEEK = {"timezone": "Europe/Berlin", "hours": {d: "09:00-17:00" for d in WEEKDAYS}}
UTC_MORNINGS = {"timezone": "UTC", "hours": {d: "08:00-12:00" for d in WEEKDAYS}}
WARN_AT_HALF = [{"level": 1, "name": "warn", "target": "resolve", "trigger": "share", "share": 0.5, "action": "task"}]


@pytest.fixture
def monday():
    """2025-01-06 09:00 UTC, a Monday (10:00 in Berlin)."""
    return FixedClock("2025-01-06T09:00:00Z")


@pytest.fixture
def desk(monday):
    """A complaints CRM on the Monday clock with sam (supervisor) over bob."""
    crm = crmkit.open(":memory:", plugins=["complaints"], clock=monday)
    crm.complaints.add_handler("sam", role="supervisor")
    crm.complaints.add_handler("bob", supervisor="sam")
    crm.settings.set("complaints.escalation", WARN_AT_HALF)
    yield crm
    crm.close()


@pytest.fixture
def alice(desk):
    return desk.customers.add(name="Alice").id


def board(crm) -> dict[int, tuple]:
    """Complaint id -> (clock, seconds left, state) from the SLA board."""
    return {row["id"]: (row["clock"], row["left_s"], row["state"]) for row in crm.complaints.sla()}


class TestCalendarSetLater:
    def test_open_tickets_keep_counting_round_the_clock(self, desk, alice, monday):
        """The QA case: 24 h to acknowledge, 5 h gone round the clock, 19 h left; no warning."""
        desk.complaints.open(alice, category="delivery", severity="normal")
        desk.complaints.set_calendar(BERLIN_WEEK)
        monday.advance(hours=5)
        assert board(desk) == {1: ("acknowledge", 19 * 3600, "ok")}
        assert desk.run_due().results["complaints"] == {"escalated": {}, "tasks_created": 0}

    def test_tickets_opened_after_it_count_working_time(self, desk, alice, monday):
        """Opened at 10:00 Berlin under a 09-17 calendar: 5 clock hours are 5 working hours."""
        desk.complaints.open(alice, severity="normal")
        desk.complaints.set_calendar(BERLIN_WEEK)
        second = desk.complaints.open(alice, severity="normal")
        assert to_iso(second.ack_due_at) == "2025-01-09T09:00:00Z"  # 24 working hours: three days
        monday.advance(hours=5)
        assert board(desk) == {1: ("acknowledge", 19 * 3600, "ok"), 2: ("acknowledge", 19 * 3600, "ok")}
        monday.advance(hours=16)  # Tuesday 07:00 Berlin: 21 hours gone, 7 of them working hours
        assert board(desk) == {1: ("acknowledge", 3 * 3600, "at_risk"), 2: ("acknowledge", 17 * 3600, "ok")}

    def test_escalation_counts_each_ticket_in_its_own_calendar(self, desk, alice, monday):
        """Half of 5 days round the clock is 60 h; half of 5 × 24 working hours is a week later."""
        first = desk.complaints.open(alice, severity="normal")
        desk.complaints.set_calendar(BERLIN_WEEK)
        second = desk.complaints.open(alice, severity="normal")
        monday.advance(hours=60)
        assert desk.run_due().results["complaints"]["escalated"] == {"warn": 1}
        assert [e["complaint_id"] for e in desk.complaints.escalations(first.id)] == [first.id]
        assert desk.complaints.escalations(second.id) == []


class TestCalendarRemovedOrChanged:
    @pytest.fixture
    def ticket(self, desk, alice):
        """A normal complaint opened under the Berlin working week, acknowledged at once."""
        desk.complaints.set_calendar(BERLIN_WEEK)
        opened = desk.complaints.open(alice, severity="normal")
        desk.complaints.acknowledge(opened.id)
        return opened

    def test_removing_the_calendar_leaves_open_tickets_on_it(self, desk, ticket, monday):
        desk.complaints.set_calendar(None)
        monday.advance(hours=24)  # Tuesday 10:00 Berlin: 8 working hours gone of 120
        assert board(desk) == {ticket.id: ("resolve", 112 * 3600, "ok")}
        assert desk.run_due().results["complaints"]["escalated"] == {}
        assert to_iso(desk.complaints.open(ticket.customer_id).ack_due_at) == "2025-01-08T09:00:00Z"

    def test_another_calendar_leaves_open_tickets_on_theirs(self, desk, ticket, monday):
        desk.complaints.set_calendar(UTC_MORNINGS)
        monday.advance(hours=24)
        assert board(desk)[ticket.id] == ("resolve", 112 * 3600, "ok")
        later = desk.complaints.open(ticket.customer_id, severity="normal")
        assert to_iso(later.ack_due_at) == "2025-01-15T09:00:00Z"  # 3 h on Tuesday, then 4 h a morning

    def test_a_pause_moves_the_deadline_by_the_tickets_working_time(self, desk, ticket, monday):
        desk.complaints.pause(ticket.id, "a photo")
        desk.complaints.set_calendar(None)
        monday.advance(hours=10)  # 10:00 to 20:00 Berlin: 7 working hours of waiting
        resumed = desk.complaints.resume(ticket.id)
        assert to_iso(ticket.resolve_due_at) == "2025-01-27T09:00:00Z"  # three working weeks
        assert to_iso(resumed.resolve_due_at) == "2025-01-27T16:00:00Z"  # 7 working hours later

    def test_reopening_starts_a_deadline_in_the_tickets_calendar(self, desk, ticket, monday):
        desk.complaints.assess(ticket.id)
        desk.complaints.reject(ticket.id, "not ours")
        desk.complaints.set_calendar(None)
        reopened = desk.complaints.reopen(ticket.id, "it was ours")
        assert to_iso(reopened.resolve_due_at) == to_iso(ticket.resolve_due_at)  # 120 working hours, same start

    def test_the_public_helpers_use_the_calendar_in_force(self, desk, ticket):
        desk.complaints.set_calendar(None)
        assert desk.complaints.working_seconds("2025-01-06T09:00:00Z", "2025-01-07T09:00:00Z") == 86400


class TestFilesFromBefore:
    def test_open_tickets_of_an_older_file_keep_the_calendar_set_then(self, tmp_path, monday):
        """A file made before tickets kept their calendar: its tickets get the calendar set when
        it is opened by this version, the one their clocks were measured in so far."""
        path = tmp_path / "old.db"
        with crmkit.open(path, plugins=["complaints"], clock=monday) as crm:
            crm.complaints.add_handler("bob")
            crm.complaints.set_calendar(BERLIN_WEEK)
            crm.complaints.open(crm.customers.add(name="Alice").id, severity="normal")
            _as_before_kept_calendars(crm)
        monday.advance(hours=10)  # 10:00 to 20:00 Berlin: 7 working hours
        with crmkit.open(path, plugins=["complaints"], clock=monday) as crm:
            crm.complaints.set_calendar(None)
            assert board(crm) == {1: ("acknowledge", 17 * 3600, "ok")}
            assert crm.db.execute("SELECT calendar_id FROM complaints_complaints").fetchall() == [(1,)]


def _as_before_kept_calendars(crm) -> None:
    """Put the file back in the shape it had before migration m004: one calendar layout, no
    calendar per ticket."""
    db = crm.db
    db.execute("ALTER TABLE complaints_complaints DROP COLUMN calendar_id")
    db.execute("DROP TABLE complaints_calendar")
    db["complaints_calendar"].create(
        {"start_s": int, "end_s": int, "cum_start": int, "cum_end": int}, pk="start_s",
        not_null={"end_s", "cum_start", "cum_end"},
    )
    db.execute("DELETE FROM complaints_calendar_meta")
    db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm004_calendar_per_ticket'")
