"""A reminder to follow up a lead is owed only while its lead is owned with that deadline: it is
cancelled when the lead is converted, lost, released or passed on, or when its deadline moves."""

from __future__ import annotations

import pytest

import crmkit
from crmkit.testing import FixedClock


@pytest.fixture
def crm(crm_path):
    clock = FixedClock("2025-06-02T09:00:00Z")
    with crmkit.open(crm_path, plugins=["leads"], clock=clock) as crm:
        crm.leads.add_rep("ann", "Ann Lee", capacity=10)
        crm.leads.add_rep("bob", "Bob Roy", capacity=10)
        crm.leads.configure(recycle_days={"default": 5}, reminder_days=2)
        yield crm


def _reminded(crm, rep: str = "ann") -> tuple[int, int]:
    """Claim a new lead on 2 June (deadline 7 June) and run the sweep on 5 June: one reminder."""
    lead = crm.leads.add(f"Lead {rep}")
    crm.leads.claim(lead.id, rep)
    assert crm.leads.recycle(now="2025-06-05T10:00:00Z")["reminders"] == 1
    [task] = crm.tasks.open(kind="lead_follow_up", customer_id=lead.id)
    return lead.id, task.id


@pytest.mark.parametrize("close", [
    lambda crm, lead: crm.leads.convert(lead),
    lambda crm, lead: crm.leads.lose(lead, crm.leads.options.lost_reasons[0]),
    lambda crm, lead: crm.leads.release(lead, "ann", "wrong region"),
    lambda crm, lead: crm.leads.reassign(lead, "bob", "Ann is away"),
], ids=["convert", "lose", "release", "reassign"])
def test_a_reminder_about_a_lead_that_left_its_owner_is_cancelled(crm, close):
    lead, task = _reminded(crm)
    close(crm, lead)
    closed = crm.tasks.get(task)
    assert closed.status == "cancelled"
    assert closed.closed_at is not None
    assert crm.tasks.open(kind="lead_follow_up", owner="ann") == []
    entries = crm.audit.query(entity="task", entity_id=task, action="task.cancelled")
    assert len(entries) == 1


def test_an_extension_replaces_the_reminder_with_one_for_the_new_deadline(crm):
    crm.leads.configure(extension_days=5)
    lead, task = _reminded(crm)
    crm.leads.extend(lead, "ann", "customer travelling")
    assert crm.tasks.get(task).status == "cancelled"
    # the new deadline is 12 June: its reminder comes two days before
    assert crm.leads.recycle(now="2025-06-09T10:00:00Z")["reminders"] == 0
    assert crm.leads.recycle(now="2025-06-10T10:00:00Z")["reminders"] == 1
    [fresh] = crm.tasks.open(kind="lead_follow_up", customer_id=lead)
    assert fresh.id != task and fresh.due_at.date().isoformat() == "2025-06-12"


def test_the_sweep_cancels_reminders_left_by_earlier_runs(crm):
    """Files from before this rule hold reminders about closed leads: the next due run clears them."""
    lead, task = _reminded(crm)
    crm.db.execute("UPDATE leads_leads SET status = 'converted' WHERE customer_id = ?", [lead])
    crm.leads.recycle(now="2025-06-05T11:00:00Z")
    assert crm.tasks.get(task).status == "cancelled"


def test_a_reminder_for_a_lead_still_owned_stays_open(crm):
    lead, task = _reminded(crm)
    crm.leads.recycle(now="2025-06-05T11:00:00Z")
    assert crm.tasks.get(task).status == "open"


def test_close_from_query_refuses_an_unknown_status(crm):
    with pytest.raises(crmkit.ValidationError):
        crm.tasks.close_from_query("SELECT id FROM tasks", status="deleted", source="test")
