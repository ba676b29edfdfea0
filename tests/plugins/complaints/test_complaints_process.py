"""The handling process: every transition allowed and refused, history, notes, assignment."""

from __future__ import annotations

from decimal import Decimal

import pytest

import crmkit
from crmkit_complaints.models import STATES, TRANSITIONS, TransitionRefused

# How to reach each state from a fresh complaint, and how to take each step.
PATHS = {
    "received": [],
    "acknowledged": ["acknowledged"],
    "assessing": ["acknowledged", "assessing"],
    "resolved": ["acknowledged", "assessing", "resolved"],
    "rejected": ["acknowledged", "assessing", "rejected"],
    "followed_up": ["acknowledged", "assessing", "resolved", "followed_up"],
    "closed": ["acknowledged", "assessing", "resolved", "followed_up", "closed"],
    "reopened": ["acknowledged", "assessing", "rejected", "reopened"],
}


def step(crm, complaint_id, to):
    service = crm.complaints
    return {
        "acknowledged": lambda: service.acknowledge(complaint_id),
        "assessing": lambda: service.assess(complaint_id),
        "resolved": lambda: service.resolve(complaint_id, "refund", amount="19.99"),
        "rejected": lambda: service.reject(complaint_id, "outside the warranty"),
        "followed_up": lambda: service.follow_up(complaint_id, score=4, accepted=True),
        "closed": lambda: service.close(complaint_id),
        "reopened": lambda: service.reopen(complaint_id, "customer sent new evidence"),
    }[to]()


def reach(crm, customer, state):
    complaint = crm.complaints.open(customer.id, category="billing")
    for to in PATHS[state]:
        step(crm, complaint.id, to)
    assert crm.complaints.get(complaint.id).status == state
    return complaint.id


ALLOWED = [(s, t) for s in STATES for t in TRANSITIONS[s]]
REFUSED = [(s, t) for s in STATES for t in STATES if t != "received" and t not in TRANSITIONS[s]]


class TestTransitions:
    @pytest.mark.parametrize("start,to", ALLOWED)
    def test_allowed_transition(self, team, customer, start, to):
        """Every allowed step succeeds and writes one history entry and one audit entry."""
        crm = team
        complaint_id = reach(crm, customer, start)
        history_before = len(crm.complaints.history(complaint_id))
        audit_before = len(crm.audit.query(entity="complaint", entity_id=complaint_id, action=f"complaint.{to}"))
        after = step(crm, complaint_id, to)
        assert after.status == to
        history = crm.complaints.history(complaint_id)
        assert len(history) == history_before + 1
        assert (history[-1].status_from, history[-1].status_to) == (start, to)
        assert history[-1].message
        entries = crm.audit.query(entity="complaint", entity_id=complaint_id, action=f"complaint.{to}")
        assert len(entries) == audit_before + 1
        assert entries[0].before == {"status": start} and entries[0].source == "complaints"

    @pytest.mark.parametrize("start,to", REFUSED)
    def test_refused_transition(self, team, customer, start, to, snapshot):
        """A wrong step names the current state and the allowed ones, and writes nothing."""
        crm = team
        complaint_id = reach(crm, customer, start)
        before = snapshot(crm)
        with pytest.raises(TransitionRefused) as caught:
            step(crm, complaint_id, to)
        message = str(caught.value)
        assert f"is {start}" in message and f"cannot move to {to}" in message
        assert "Allowed next: " + ", ".join(TRANSITIONS[start]) in message
        assert snapshot(crm) == before

    def test_refusal_is_a_conflict_error(self, team, customer):
        complaint_id = reach(crm := team, customer, "received")
        with pytest.raises(crmkit.ConflictError, match="complaint 1 is received; it cannot move to resolved. Allowed next: acknowledged"):
            crm.complaints.resolve(complaint_id, "refund")


class TestSteps:
    def test_resolution_is_exact_money_and_told_to_the_customer(self, team, customer):
        crm = team
        complaint_id = reach(crm, customer, "assessing")
        done = crm.complaints.resolve(complaint_id, "refund", amount="19.99", detail="card refund")
        assert done.resolution_amount == Decimal("19.99") and done.decision == "valid"
        assert crm.db.execute("SELECT resolution_amount FROM complaints_complaints").fetchone()[0] == 1999
        assert crm.complaints.history(complaint_id)[-1].message == "We have resolved your complaint: refund of 19.99 USD."

    def test_float_amount_is_refused_and_nothing_written(self, team, customer, snapshot):
        crm = team
        complaint_id = reach(crm, customer, "assessing")
        before = snapshot(crm)
        with pytest.raises(crmkit.ValidationError, match="float"):
            crm.complaints.resolve(complaint_id, "refund", amount=19.99)
        with pytest.raises(crmkit.ValidationError, match="resolution"):
            crm.complaints.resolve(complaint_id, "magic")
        with pytest.raises(crmkit.ValidationError, match="reason"):
            crm.complaints.reject(complaint_id, "  ")
        assert snapshot(crm) == before

    def test_follow_up_records_a_core_survey(self, team, customer):
        crm = team
        complaint_id = reach(crm, customer, "resolved")
        after = crm.complaints.follow_up(complaint_id, score=2, accepted=False)
        assert (after.satisfaction, after.accepted) == (2, False)
        surveys = crm.interactions.history(customer.id, kinds=["survey"])
        assert [s.data for s in surveys] == [{"score": 2, "topic": "complaint", "complaint_id": complaint_id, "accepted": False}]

    def test_follow_up_refuses_bad_score(self, team, customer, snapshot):
        crm = team
        complaint_id = reach(crm, customer, "resolved")
        before = snapshot(crm)
        for bad in (0, 6, "4", 4.0, True):
            with pytest.raises(crmkit.ValidationError, match="score"):
                crm.complaints.follow_up(complaint_id, score=bad)
        assert snapshot(crm) == before

    def test_reopen_counts_and_restarts_the_resolve_clock(self, team, customer, clock):
        crm = team
        complaint_id = reach(crm, customer, "closed")
        clock.advance(days=2)
        again = crm.complaints.reopen(complaint_id, "the replacement broke")
        assert again.reopen_count == 1 and again.answered_at is None
        # normal severity: 5 days (120 h) round the clock from the reopening at 2025-01-03 09:00
        assert crmkit.timeutil.to_iso(again.resolve_due_at) == "2025-01-08T09:00:00Z"
        assert crm.complaints.history(complaint_id)[-1].message == "Your complaint has been reopened: the replacement broke."
        # the first answer's SLA facts stay as they were
        assert again.first_answered_at is not None and again.first_resolve_due_at is not None

    def test_step_times_must_be_in_order_and_not_ahead(self, team, customer, clock, snapshot):
        crm = team
        complaint_id = reach(crm, customer, "received")
        before = snapshot(crm)
        with pytest.raises(crmkit.ValidationError, match="not after now"):
            crm.complaints.acknowledge(complaint_id, at="2025-01-02T00:00:00Z")
        with pytest.raises(crmkit.ValidationError, match="not before the complaint's last step"):
            crm.complaints.acknowledge(complaint_id, at="2024-12-31T00:00:00Z")
        assert snapshot(crm) == before
        done = crm.complaints.acknowledge(complaint_id, at="2025-01-01T09:00:00Z")
        assert done.acknowledged_at == clock.current

    def test_unknown_complaint(self, crm):
        with pytest.raises(crmkit.NotFound, match="no complaint with id 99"):
            crm.complaints.acknowledge(99)


class TestHistoryAndNotes:
    def test_customer_history_is_apart_from_internal_notes(self, team, customer):
        crm = team
        complaint_id = reach(crm, customer, "assessing")
        crm.complaints.add_note(complaint_id, "customer was rude on the phone; check the recording")
        history = crm.complaints.history(complaint_id)
        assert [h.event for h in history] == ["received", "acknowledged", "assessing"]
        assert all("rude" not in (h.message or "") for h in history)
        notes = crm.complaints.notes(complaint_id)
        assert [n.text for n in notes] == ["customer was rude on the phone; check the recording"]
        assert history[1].message == "Your complaint has been acknowledged; ann is handling it."

    def test_custom_message(self, team, customer):
        crm = team
        complaint_id = reach(crm, customer, "received")
        crm.complaints.acknowledge(complaint_id, message="Thanks, Alice - we are on it.")
        assert crm.complaints.history(complaint_id)[-1].message == "Thanks, Alice - we are on it."

    def test_empty_note_refused(self, team, customer, snapshot):
        crm = team
        complaint_id = reach(crm, customer, "received")
        before = snapshot(crm)
        with pytest.raises(crmkit.ValidationError, match="non-empty note"):
            crm.complaints.add_note(complaint_id, "   ")
        assert snapshot(crm) == before


class TestAssignment:
    def test_skill_then_least_loaded(self, team, customer):
        crm = team
        owners = [crm.complaints.open(customer.id, category=c).owner for c in ("billing", "billing", "delivery", "delivery", None)]
        # billing -> ann (skill) twice; then least loaded: bob (0) twice; then bob 2 vs ann 2 -> name order: ann
        assert owners == ["ann", "ann", "bob", "bob", "ann"]

    def test_without_handlers_complaints_wait_unassigned(self, crm, customer):
        assert crm.complaints.open(customer.id).owner is None

    def test_assign_and_refusals(self, team, customer, snapshot):
        crm = team
        complaint_id = crm.complaints.open(customer.id).id
        assert crm.complaints.assign(complaint_id, "sam").owner == "sam"
        assert crm.complaints.history(complaint_id)[-1].message == "sam is now handling your complaint."
        crm.complaints.add_handler("gone", active=False)
        before = snapshot(crm)
        with pytest.raises(crmkit.NotFound, match="no handler named 'nobody'"):
            crm.complaints.assign(complaint_id, "nobody")
        with pytest.raises(crmkit.ConflictError, match="not active"):
            crm.complaints.assign(complaint_id, "gone")
        assert snapshot(crm) == before

    def test_handler_validation(self, crm):
        with pytest.raises(crmkit.ValidationError, match="role"):
            crm.complaints.add_handler("x", role="boss")
        with pytest.raises(crmkit.NotFound, match="add the supervisor first"):
            crm.complaints.add_handler("x", supervisor="y")
        crm.complaints.add_handler("a")
        crm.complaints.add_handler("b", supervisor="a")
        with pytest.raises(crmkit.ValidationError, match="without loops"):
            crm.complaints.add_handler("a", supervisor="b")
        assert crm.complaints.handler("a").supervisor is None

    def test_open_refuses_bad_input_and_writes_nothing(self, team, customer, clock, snapshot):
        crm = team
        before = snapshot(crm)
        with pytest.raises(crmkit.ValidationError, match="severity"):
            crm.complaints.open(customer.id, severity="apocalyptic")
        with pytest.raises(crmkit.NotFound, match="no customer"):
            crm.complaints.open(999)
        with pytest.raises(crmkit.ValidationError, match="not after now"):
            crm.complaints.open(customer.id, received_at="2025-02-01")
        with pytest.raises(crmkit.NotFound, match="no handler"):
            crm.complaints.open(customer.id, owner="zed")
        assert snapshot(crm) == before

    def test_list_filters(self, team, customer):
        crm = team
        first = crm.complaints.open(customer.id, category="billing", severity="high").id
        crm.complaints.open(customer.id, category="delivery")
        crm.complaints.acknowledge(first)
        assert [c.id for c in crm.complaints.list(status="acknowledged")] == [first]
        assert [c.id for c in crm.complaints.list(severity="high")] == [first]
        assert len(crm.complaints.list(open=True)) == 2
        with pytest.raises(crmkit.ValidationError, match="status"):
            crm.complaints.list(status="lost")
