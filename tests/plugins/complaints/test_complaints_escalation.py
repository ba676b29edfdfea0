"""Escalation through crmkit_due: each level once, idempotent for the same now, at its trigger."""

from __future__ import annotations

import pytest

import crmkit


@pytest.fixture
def ticket(team, customer, clock):
    """A normal complaint for ann, received 2025-01-01 09:00: ack due 01-02 09:00, resolve due 01-06 09:00."""
    return team.complaints.open(customer.id, category="billing")


def levels_reached(crm, complaint_id):
    return [(e["cycle"], e["level"]) for e in crm.complaints.escalations(complaint_id)]


class TestTriggers:
    def test_acknowledge_breach_fires_one_second_after_the_deadline(self, team, ticket):
        crm = team
        assert crm.run_due("2025-01-02T09:00:00Z").results["complaints"]["tasks_created"] == 0
        report = crm.run_due("2025-01-02T09:00:01Z")
        assert report.results["complaints"] == {"escalated": {"acknowledge overdue": 1}, "tasks_created": 1}
        [task] = crm.tasks.open(kind="complaint_sla")
        assert (task.owner, task.customer_id, task.source) == ("ann", ticket.customer_id, "complaints")
        assert task.key == f"complaints:{ticket.id}:0:1"

    def test_about_to_breach_at_three_quarters_of_the_target(self, team, ticket):
        crm = team
        crm.complaints.acknowledge(ticket.id)
        # 120 h target; a quarter left = 30 h before 2025-01-06 09:00 = 2025-01-05 03:00
        crm.run_due("2025-01-05T02:59:59Z")
        assert levels_reached(crm, ticket.id) == []
        crm.run_due("2025-01-05T03:00:00Z")
        assert levels_reached(crm, ticket.id) == [(0, 2)]
        assert crm.complaints.get(ticket.id).owner == "ann"

    def test_breach_moves_to_the_supervisor_then_the_manager(self, team, ticket):
        crm = team
        crm.complaints.acknowledge(ticket.id)
        crm.run_due("2025-01-06T09:00:01Z")
        after = crm.complaints.get(ticket.id)
        assert (after.owner, after.escalation_level) == ("sam", 3)
        assert crm.complaints.history(ticket.id)[-1].message == "Your complaint has been passed to a senior colleague."
        assert [t.owner for t in crm.tasks.open(kind="complaint_escalation")] == ["sam"]
        entry = crm.audit.query(action="complaint.escalate", entity_id=ticket.id)[0]
        assert entry.before == {"owner": "ann"} and entry.after["owner"] == "sam"
        crm.run_due("2025-01-07T09:00:00Z")  # 24 h after the breach, to the second
        assert crm.complaints.get(ticket.id).owner == "mara"
        assert levels_reached(crm, ticket.id) == [(0, 2), (0, 3), (0, 4)]

    def test_long_overdue_passes_every_level_in_one_run(self, team, ticket):
        crm = team
        crm.run_due("2025-02-01T00:00:00Z")
        assert levels_reached(crm, ticket.id) == [(0, 1), (0, 2), (0, 3), (0, 4)]
        assert crm.complaints.get(ticket.id).owner == "mara"

    def test_paused_and_answered_complaints_do_not_escalate(self, team, ticket, customer):
        crm = team
        crm.complaints.acknowledge(ticket.id)
        crm.complaints.pause(ticket.id, "receipt")
        other = crm.complaints.open(customer.id)
        crm.complaints.acknowledge(other.id)
        crm.complaints.assess(other.id)
        crm.complaints.resolve(other.id, "apology")
        crm.run_due("2025-02-01T00:00:00Z")
        assert levels_reached(crm, ticket.id) == [] and levels_reached(crm, other.id) == []


class TestOnceAndIdempotent:
    def test_same_now_twice_changes_nothing(self, team, ticket, snapshot):
        crm = team
        crm.run_due("2025-02-01T00:00:00Z")
        before = snapshot(crm)
        audit_before = crm.db.execute("SELECT count(*) FROM audit_log WHERE action != 'due.run'").fetchone()[0]
        second = crm.run_due("2025-02-01T00:00:00Z")
        assert second.results["complaints"] == {"escalated": {}, "tasks_created": 0}
        counts, rows = snapshot(crm)
        assert rows == before[1]
        assert {k: v for k, v in counts.items() if k != "audit_log"} == {k: v for k, v in before[0].items() if k != "audit_log"}
        assert crm.db.execute("SELECT count(*) FROM audit_log WHERE action != 'due.run'").fetchone()[0] == audit_before

    def test_a_later_run_does_not_repeat_a_level(self, team, ticket):
        crm = team
        crm.run_due("2025-01-02T10:00:00Z")
        crm.run_due("2025-01-02T11:00:00Z")
        assert levels_reached(crm, ticket.id) == [(0, 1)]
        assert len(crm.tasks.open(kind="complaint_sla")) == 1

    def test_a_reopened_complaint_can_escalate_again(self, team, ticket, clock):
        crm = team
        crm.run_due("2025-02-01T00:00:00Z")
        clock.set("2025-02-01T00:00:00Z")
        for step in ("acknowledge", "assess"):
            getattr(crm.complaints, step)(ticket.id)
        crm.complaints.reject(ticket.id, "not our product")
        crm.complaints.reopen(ticket.id, "it was our product after all")
        crm.run_due("2025-03-01T00:00:00Z")
        assert (1, 3) in levels_reached(crm, ticket.id)

    def test_custom_levels_and_bad_settings(self, team, ticket, snapshot):
        crm = team
        crm.settings.set("complaints.escalation", [{"level": 1, "name": "x", "trigger": "share", "share": 2}])
        before = snapshot(crm)
        report = crm.run_due("2025-02-01T00:00:00Z")
        assert "share of the target" in report.errors["complaints"]
        assert snapshot(crm)[0]["complaints_escalations"] == before[0]["complaints_escalations"]
        crm.settings.set("complaints.escalation", [{"level": 1, "name": "straight up", "trigger": "breach", "action": "escalate"}])
        crm.run_due("2025-02-01T00:00:00Z")
        assert crm.complaints.get(ticket.id).owner == "sam"
