"""Erasure reaches free text: every text staff wrote about a forgotten customer, in the core and in
every plugin (reasons, notes, descriptions, audit before/after values), loses the customer's
identifying values as they were before erasure, while the rest of the text and every figure stay.

The test plants the values in every free-text column of every plugin table (the map below), then
forgets, vacuums and scans the file's bytes. A second test keeps the map whole: a new text column
in a plugin table must be declared free text (and is then planted) or structured."""

from __future__ import annotations

import pytest

import crmkit
from crmkit.erasure import Erasure
from crmkit.plugins import installed_entry_points
from crmkit.testing import FixedClock

NAME, EMAIL, PHONE = "Philippa Marchbanks", "p.marchbanks@hidden.example", "+44 161 496 0321"
COMPANY, ADDRESS, EXTERNAL = "Marchbanks Moulding", "4 Tamber Row, Eastfold", "PM-5521"
OLD_EMAIL = "pippa.old@hidden.example"
PLANT = f"per {NAME} <{EMAIL}>, tel 0161 496 0321, {COMPANY}, {ADDRESS}, ref {EXTERNAL}, was {OLD_EMAIL}"
SECRETS = ["Philippa", "Marchbanks", "p.marchbanks", "496 0321", "4960321", "Tamber Row", "Eastfold",
           EXTERNAL, "pippa.old"]

# Free text a person may type about the customer: table -> (columns, how rows belong to them).
BY_COMPLAINT = "complaint_id IN (SELECT id FROM complaints_complaints WHERE customer_id = :id)"
FREE_TEXT = {
    "leads_leads": (("needs", "protected_reason", "lost_reason"), "customer_id = :id"),
    "leads_assignments": (("reason", "end_reason"), "lead_id = :id"),
    "loyalty_points": (("reason", "note"), "customer_id = :id"),
    "loyalty_tier_history": (("reason",), "customer_id = :id"),
    "complaints_complaints": (("description", "desired_outcome", "decision_reason", "resolution_detail"), "customer_id = :id"),
    "complaints_notes": (("text",), BY_COMPLAINT),
    "complaints_history": (("message",), BY_COMPLAINT),
    "complaints_pauses": (("reason",), BY_COMPLAINT),
    "complaints_feedback": (("title", "text"), "customer_id = :id"),
}
# Text columns that hold codes, ids, times, statuses or numbers-only JSON, or rows about no customer.
STRUCTURED = {
    "leads_leads": {"status", "stage", "product", "language", "lead_class", "owner", "assigned_at", "first_followed_up_at",
                    "last_followed_up_at", "recycle_at", "protected_by", "previous_owner", "cooldown_until",
                    "closed_at", "received_at", "scored_at"},
    "leads_assignments": {"rep_id", "how", "started_at", "first_follow_up_at", "ended_at", "end_how"},
    "leads_reps": "*", "leads_rules": "*", "leads_model": "*",
    "loyalty_points": {"kind", "occurred_at", "available_at", "expires_at", "key", "created_at"},
    "loyalty_tier_history": {"as_of", "from_tier", "to_tier", "direction"},
    "loyalty_churn": {"class", "level", "evidence"}, "loyalty_rfm": {"code", "segment"},
    "loyalty_runs": "*", "loyalty_tiers": "*",
    "complaints_complaints": {"channel", "category", "product", "severity", "received_at", "owner", "status", "status_at",
                              "decision", "resolution", "ack_due_at", "acknowledged_at", "resolve_due_at", "answered_at",
                              "first_answered_at", "first_resolve_due_at", "first_outcome", "paused_at",
                              "followed_up_at", "closed_at", "created_at", "updated_at"},
    "complaints_notes": {"at", "author"},
    "complaints_history": {"at", "event", "status_from", "status_to", "actor"},
    "complaints_pauses": {"started_at", "ended_at", "due_before", "due_after"},
    "complaints_feedback": {"received_at", "classification", "status", "status_at", "created_at"},
    "complaints_escalations": {"name", "at", "from_owner", "to_owner"},
    "complaints_feedback_requests": {"asked_at"}, "complaints_handlers": "*", "complaints_calendar_meta": "*",
}
PLUGINS = sorted(installed_entry_points())
PLUGIN_PREFIXES = tuple(f"{name}_" for name in ("leads", "loyalty", "complaints"))


def build(crm) -> int:
    """The person through every plugin's API, so that each table of FREE_TEXT holds their rows."""
    crm.leads.add_rep("rep-1", "Rep One")
    crm.leads.add_rep("rep-2", "Rep Two")
    person = crm.leads.add(NAME, email=OLD_EMAIL, company=COMPANY, external_id=EXTERNAL, needs="moulds")
    crm.customers.update(person.id, email=EMAIL, phone=PHONE, address=ADDRESS)
    crm.leads.claim(person.id, "rep-1")
    crm.leads.reassign(person.id, "rep-2", reason=f"{NAME} asked for a rep near {ADDRESS}")
    crm.leads.protect(person.id, "boss", f"{NAME} of {COMPANY} is strategic")
    crm.leads.convert(person.id)
    crm.interactions.record(person.id, "purchase", "2024-03-01", amount="300.00")
    crm.loyalty.points.award(person.id, 50, key="goodwill-1", reason=f"goodwill for {NAME}", note="called back")
    crm.loyalty.tiers.define([{"name": "gold", "rule": "ltv >= 1"}])
    crm.loyalty.tiers.evaluate()
    crm.complaints.add_handler("handler-1")
    ticket = crm.complaints.open(person.id, category="billing", description=f"{NAME} writes", desired_outcome="refund")
    crm.complaints.add_note(ticket.id, f"rang {PHONE}")
    crm.complaints.acknowledge(ticket.id, message=f"dear {NAME}")
    crm.complaints.pause(ticket.id, f"waiting for {NAME}")
    crm.complaints.resume(ticket.id)
    crm.complaints.feedback.record(person.id, f"{NAME} suggests gift wrap", title=f"from {EMAIL}")
    return person.id


def plant(crm, person_id: int) -> None:
    """Every free-text column of every row about the person now holds all identifying values."""
    for table, (columns, where) in FREE_TEXT.items():
        assignments = ", ".join(f"{column} = :plant" for column in columns)
        cursor = crm.db.execute(f"UPDATE {table} SET {assignments} WHERE {where}", {"plant": PLANT, "id": person_id})
        assert cursor.rowcount >= 1, f"no row of {table} about the person: the test no longer reaches it"


def file_traces(path) -> list[str]:
    data = path.read_bytes().lower()
    return [secret for secret in SECRETS if secret.lower().encode("utf-8") in data]


@pytest.mark.skipif(not {"leads", "loyalty", "complaints"} <= set(PLUGINS), reason="needs the built-in plugins")
class TestFreeTextErasure:
    def test_planted_values_are_gone_from_the_file_bytes(self, tmp_path):
        path = tmp_path / "free-text.db"
        with crmkit.open(path, plugins=PLUGINS, clock=FixedClock("2024-04-01T09:00:00Z")) as crm:
            bystander = crm.customers.add(name="Bystander", email="by@example.com")
            person_id = build(crm)
            plant(crm, person_id)
            audit_rows = crm.db.execute("SELECT count(*) FROM audit_log").fetchone()[0]
            crm.forget(person_id)
            # The text around the values stays: staff's words, minus the person.
            reason = crm.db.execute("SELECT reason FROM loyalty_points WHERE customer_id = ?", [person_id]).fetchone()[0]
            assert reason.startswith("per [erased] <[erased]>") and "ref [erased]" in reason
            assert crm.db.execute("SELECT count(*) FROM audit_log").fetchone()[0] == audit_rows + 1
            assert crm.customers.get(bystander.id).email == "by@example.com"
            crm.db.execute("VACUUM")
        assert file_traces(path) == []

    def test_every_plugin_text_column_is_declared(self):
        """A plugin's new text column must be planted above (free text) or declared structured."""
        with crmkit.open(":memory:", plugins=PLUGINS) as crm:
            tables = crm.db.table_names()
            undeclared = []
            for table in tables:
                if not table.startswith(PLUGIN_PREFIXES) or STRUCTURED.get(table) == "*":
                    continue
                declared = set(FREE_TEXT.get(table, ((), ""))[0]) | set(STRUCTURED.get(table, ()))
                for column, kind in crm.db[table].columns_dict.items():
                    if kind is str and column not in declared:
                        undeclared.append(f"{table}.{column}")
        assert undeclared == []


class TestScrubbing:
    def erasure(self, **values) -> Erasure:
        return Erasure.from_values(None, 1, [values])

    def test_values_go_whatever_their_case_and_the_text_around_them_stays(self):
        erasure = self.erasure(name="Ann Lee", email="ann@x.example", phone="+1 555 0100 123", phone_norm="15550100123")
        assert erasure.scrub("ANN LEE (ann@X.example) rang from 555-0100-123") == "[erased] ([erased]) rang from [erased]"
        assert erasure.scrub("Lee said yes; Annabel did not") == "[erased] said yes; Annabel did not"
        assert erasure.scrub(None) is None and erasure.scrub("nothing here") == "nothing here"

    def test_json_values_and_keys_are_scrubbed_and_stay_json(self):
        erasure = self.erasure(name="Zoë Ölund")
        assert erasure.scrub_json('{"reason": "for Zo\\u00eb \\u00d6lund", "n": 3}') == '{"n": 3, "reason": "for [erased]"}'
        assert erasure.scrub_json(None) is None

    def test_a_forgotten_name_is_no_identifying_value(self):
        erasure = Erasure.from_values(None, 7, [{"name": "forgotten customer 7", "forgotten_at": "2024-01-01"}])
        assert erasure.values == ()
