"""Right to erasure: after ``crm.forget(id)`` no trace of the person's name, email, phone,
address or notes is left in any text column of any table of the file (the audit log and every
active plugin's tables included), while counts and money figures stay as they were."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import crmkit
from crmkit.cli import make_cli
from crmkit.plugins import installed_entry_points
from crmkit.testing import FixedClock

from .helpers import connect_raw, find_traces

NAME, EMAIL, PHONE = "Zebulon Quartzfeather", "zebulon.quartz@secret.example", "+44 20 7946 0958"
ADDRESS, COMPANY, EXTERNAL = "17 Quill Lane, Lowtown", "Quartzfeather Holdings", "ZQ-7731"
NOTE = "favourite colour ultramarine-7731"
ALT_NAME, ALT_EMAIL = "Zeb Q. Feather", "zq.alt@secret.example"
SECRETS = ["Zebulon", "Quartzfeather", "zebulon.quartz", "7946 0958", "442079460958", "2079460958", "Quill Lane",
           "ultramarine-7731", EXTERNAL, "Zeb Q.", "zq.alt", "Zeb the Quill"]

AGGREGATES = """SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM interactions),
    (SELECT coalesce(sum(amount), 0) FROM interactions), (SELECT coalesce(sum(net_spend), 0) FROM customer_summary),
    (SELECT count(*) FROM tasks), (SELECT group_concat(kind || ':' || occurred_at || ':' || coalesce(CAST(amount AS TEXT), ''))
        FROM (SELECT * FROM interactions ORDER BY id) AS ordered)"""


def build_history(crm, person_id: int) -> None:
    """The core's view of a person's life in the CRM: updates, a merged duplicate, a history
    with notes and data, tasks opened and closed with notes."""
    crm.customers.update(person_id, phone=PHONE, address=ADDRESS, attributes={"nickname": "Zeb the Quill"})
    duplicate = crm.customers.add(name=ALT_NAME, email=ALT_EMAIL, region="EU")
    crm.interactions.record(duplicate.id, "purchase", "2024-02-01", amount="40.00", notes=f"{ALT_NAME} paid cash")
    crm.customers.update(duplicate.id, phone="+1 555 0100 999", address="2 Quill Lane")
    crm.customers.merge(person_id, duplicate.id)
    crm.interactions.record_many([
        {"customer_id": person_id, "kind": "purchase", "occurred_at": "2024-03-01", "amount": "120.50", "notes": NOTE},
        {"customer_id": person_id, "kind": "refund", "occurred_at": "2024-03-05", "amount": "20.50", "notes": f"refund to {EMAIL}"},
        {"customer_id": person_id, "kind": "call", "occurred_at": "2024-03-06", "notes": f"called {PHONE}"},
        {"customer_id": person_id, "kind": "feedback", "occurred_at": "2024-03-07", "data": {"said": NOTE, "email": EMAIL}},
        {"customer_id": person_id, "kind": "complaint", "occurred_at": "2024-03-08", "notes": f"{NAME} complained: {NOTE}",
         "data": {"category": "delivery", "severity": "high"}},
    ])
    task = crm.tasks.create("call", person_id, reason=f"Call {NAME} at {PHONE}", owner="rep-1", key="zq-call")
    crm.tasks.complete(task.id, note=f"Spoke to {NAME}; lives at {ADDRESS}")
    crm.tasks.create("visit", person_id, reason=f"Visit {ADDRESS}", owner="rep-1")


def scan(path) -> list:
    raw = connect_raw(path)
    try:
        return find_traces(raw, SECRETS)
    finally:
        raw.close()


class TestCoreErasure:
    def test_no_trace_in_any_table_and_figures_unchanged(self, tmp_path):
        path = tmp_path / "crm.db"
        with crmkit.open(path, plugins=[], clock=FixedClock()) as crm:
            bystander = crm.customers.add(name="Bystander", email="by@example.com")
            crm.interactions.record(bystander.id, "purchase", "2024-01-01", amount="10.00")
            person = crm.customers.add(name=NAME, email=EMAIL, company=COMPANY, external_id=EXTERNAL, tags=["vip"])
            build_history(crm, person.id)
            assert scan(path)  # the secrets are there before
            before = crm.db.execute(AGGREGATES).fetchone()
            summary = crm.db.execute("SELECT * FROM customer_summary WHERE customer_id = ?", [person.id]).fetchone()
            crm.forget(person.id)
            assert crm.db.execute(AGGREGATES).fetchone() == before
            assert crm.db.execute("SELECT * FROM customer_summary WHERE customer_id = ?", [person.id]).fetchone() == summary
            # Net spend: 40.00 (merged duplicate) + 120.50 - 20.50 = 140.00 -> 14000 cents.
            assert crm.segments.evaluate(f"id = {person.id} and ltv = 140").count() == 1
            assert crm.customers.get(bystander.id).name == "Bystander"
            erasure = crm.audit.query(action="customer.forget")
            assert len(erasure) == 1 and erasure[0].entity_id == str(person.id)
            assert erasure[0].before is None and erasure[0].after is None
        traces = scan(path)
        assert traces == [], f"personal data left after forget: {sorted(set(traces))}"

    def test_duplicates_merged_in_a_chain_are_erased_too(self, tmp_path):
        """C merged into B, then B into A: forgetting A erases the audit entries of all three.
        (Before the fix, only entries with A's own id were cleared.)"""
        path = tmp_path / "chain.db"
        with crmkit.open(path, plugins=[], clock=FixedClock()) as crm:
            a = crm.customers.add(name=NAME)
            b = crm.customers.add(name=ALT_NAME, email=ALT_EMAIL)
            c = crm.customers.add(name="Zebulon Q", phone=PHONE)
            crm.customers.update(c.id, address=ADDRESS)
            crm.customers.merge(b.id, c.id)
            crm.customers.merge(a.id, b.id)
            other = crm.customers.add(name="Unrelated", email="unrelated@example.com")
            crm.customers.update(other.id, address="1 Main Street")
            crm.forget(a.id)
            assert crm.audit.query(entity="customer", entity_id=other.id)[0].after == {"address": "1 Main Street"}
        assert scan(path) == []

    def test_forgetting_twice_and_unknown_ids(self, fresh_crm):
        person = fresh_crm.customers.add(name=NAME, email=EMAIL)
        fresh_crm.forget(person.id)
        fresh_crm.forget(person.id)  # idempotent: nothing left to erase
        audit_rows = fresh_crm.db.execute("SELECT count(*) FROM audit_log").fetchone()[0]
        with pytest.raises(crmkit.NotFound):
            fresh_crm.forget(999)
        assert fresh_crm.db.execute("SELECT count(*) FROM audit_log").fetchone()[0] == audit_rows

    def test_cli_forget(self, tmp_path):
        path = tmp_path / "cli.db"
        with crmkit.open(path, plugins=[], clock=FixedClock()) as crm:
            person = crm.customers.add(name=NAME, email=EMAIL, phone=PHONE)
            crm.interactions.record(person.id, "call", "2024-01-01", notes=NOTE)
        runner = CliRunner()
        refused = runner.invoke(make_cli(), ["forget", str(path), "999", "--yes"], env={"CRMKIT_PLUGINS": ""})
        assert refused.exit_code != 0 and "999" in refused.output
        done = runner.invoke(make_cli(), ["forget", str(path), str(person.id), "--yes"], env={"CRMKIT_PLUGINS": ""})
        assert done.exit_code == 0, done.output
        assert scan(path) == []


PLUGINS = sorted(installed_entry_points())


@pytest.mark.skipif(not PLUGINS, reason="no plugins installed")
class TestErasureAcrossPlugins:
    def test_every_plugin_table_is_clean(self, tmp_path):
        path = tmp_path / "all.db"
        clock = FixedClock("2024-04-01T09:00:00Z")
        with crmkit.open(path, plugins=PLUGINS, clock=clock) as crm:
            names = set(crm.plugins.names())
            bystander = crm.customers.add(name="Bystander", email="by@example.com")
            crm.interactions.record(bystander.id, "purchase", "2024-01-01", amount="10.00")
            if "leads" in names:
                crm.leads.add_rep("rep-1", "Rep One")
                lead = crm.leads.add(NAME, email=EMAIL, company=COMPANY, external_id=EXTERNAL,
                                     needs=f"{NAME} needs {NOTE}", tags=["vip"])
                crm.leads.claim(lead.id, "rep-1")
                crm.leads.convert(lead.id)
                person_id = lead.id
            else:
                person_id = crm.customers.add(name=NAME, email=EMAIL, company=COMPANY, external_id=EXTERNAL).id
            build_history(crm, person_id)
            if "complaints" in names:
                crm.complaints.add_handler("handler-1")
                ticket = crm.complaints.open(person_id, category="billing", description=f"{NAME} writes: {NOTE}",
                                             desired_outcome=f"refund to {EMAIL}")
                crm.complaints.add_note(ticket.id, f"rang {PHONE}, spoke to {NAME}")
            if "loyalty" in names:
                crm.loyalty.points.award(person_id, 50, key="zq-bonus", reason="goodwill", note=f"for {NAME}: {NOTE}")
            clock.set("2024-09-01T09:00:00Z")
            crm.run_due()
            if "reports" in names:
                crm.reports.build(as_of="2024-08-31")
            tables_with_traces = {table for table, _, _ in scan(path)}
            # The person is in the plugins' own tables too, not only in the core's.
            for plugin in names & {"complaints", "leads", "loyalty"}:
                assert any(t.startswith(f"{plugin}_") for t in tables_with_traces), (plugin, tables_with_traces)
            before = crm.db.execute(AGGREGATES).fetchone()
            balance = crm.loyalty.points.balance(person_id) if "loyalty" in names else None
            crm.forget(person_id)
            assert crm.db.execute(AGGREGATES).fetchone() == before
            if "loyalty" in names:
                assert crm.loyalty.points.balance(person_id) == balance
        traces = scan(path)
        assert traces == [], f"personal data left after forget: {sorted(set(traces))}"


def test_after_vacuum_the_file_bytes_hold_no_trace(tmp_path):
    """Beyond the tables: once the file is vacuumed and closed, not even free pages keep the
    person's data (SQLite builds differ on secure_delete; VACUUM does not depend on it)."""
    path = tmp_path / "bytes.db"
    with crmkit.open(path, plugins=[], clock=FixedClock()) as crm:
        crm.customers.add_many({"name": f"Filler {i}", "address": "x" * 200} for i in range(100))
        person = crm.customers.add(name=NAME, email=EMAIL, phone=PHONE, address=ADDRESS)
        build_history(crm, person.id)
        crm.forget(person.id)
        crm.db.execute("VACUUM")
    data = path.read_bytes()
    assert not path.with_name(path.name + "-wal").exists()
    assert [s for s in SECRETS if s.encode("utf-8") in data] == []
