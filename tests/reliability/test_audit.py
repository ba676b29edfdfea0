"""Every state change made through the public API appears in the audit log, with who did it."""

from __future__ import annotations

import pytest

import crmkit
from crmkit.testing import FixedClock


@pytest.fixture
def crm():
    crm = crmkit.open(":memory:", plugins=[], clock=FixedClock(), actor="auditor")
    crm.customers.add_many([{"name": "Ada", "email": "ada@example.com"}, {"name": "Bob"}, {"name": "Cy"}])
    crm.segments.define("buyers", "ltv > 0")
    yield crm
    crm.close()


OPERATIONS = {
    "customer.add": lambda crm: crm.customers.add(name="Dee"),
    "customer.update": lambda crm: crm.customers.update(1, region="EU"),
    "customer.merge": lambda crm: crm.customers.merge(1, 2),
    "customer.forget": lambda crm: crm.forget(3),
    "interaction.record": lambda crm: crm.interactions.record_many(
        [{"customer_id": 1, "kind": "purchase", "amount": "5.00", "occurred_at": "2024-01-01"}] * 3),
    "segment.define": lambda crm: crm.segments.define("eu", "region = 'EU'"),
    "segment.update": lambda crm: crm.segments.update("buyers", "ltv > 10"),
    "segment.delete": lambda crm: crm.segments.delete("buyers"),
    "segment.snapshot": lambda crm: crm.segments["buyers"].snapshot(),
    "task.create": lambda crm: crm.tasks.create("call", 1, reason="check in"),
    "task.done": lambda crm: crm.tasks.complete(crm.tasks.create("call", 1).id),
    "task.cancelled": lambda crm: crm.tasks.cancel(crm.tasks.create("call", 1).id),
    "setting.set": lambda crm: crm.settings.set("core.example", 1),
}


@pytest.mark.parametrize("action", sorted(OPERATIONS))
def test_each_write_is_audited(crm, action):
    before = crm.db.execute("SELECT max(id) FROM audit_log").fetchone()[0]
    OPERATIONS[action](crm)
    entries = crm.db.execute("SELECT action, actor FROM audit_log WHERE id > ?", [before]).fetchall()
    assert (action, "auditor") in entries


def test_recording_interactions_is_one_entry_per_customer_with_their_id_range(crm):
    """Each entry names its customer, so "who touched customer 2" finds it (it did not before)."""
    result = crm.interactions.record_many(
        ({"customer_id": 1 + i % 3, "kind": "call", "occurred_at": "2024-02-01"} for i in range(12)), batch_size=5)
    entries = sorted(crm.audit.query(action="interaction.record"), key=lambda e: e.entity_id)
    assert [(e.entity, e.entity_id, e.after["count"]) for e in entries] == [("customer", "1", 4), ("customer", "2", 4), ("customer", "3", 4)]
    assert entries[0].after == {"count": 4, "first_id": result.first_id, "last_id": result.first_id + 9}
    assert crm.audit.query(entity="customer", entity_id=2, action="interaction.record")[0].after["first_id"] == result.first_id + 1


def test_every_entry_of_a_write_names_its_entity(crm):
    """Task creation (one at a time, in batches and from a plugin's query) and interaction
    recording carried no entity id before."""
    before = crm.db.execute("SELECT max(id) FROM audit_log").fetchone()[0]
    one = crm.tasks.create("call", 1, reason="check in")
    crm.tasks.create_many([{"kind": "visit", "customer_id": 2, "key": "v2"}, {"kind": "visit", "customer_id": 3, "key": "v3"}])
    crm.tasks.create_from_query("SELECT 'mail' AS kind, id AS customer_id, NULL AS owner, NULL AS due_at, "
                                "NULL AS reason, 'm' || id AS key FROM customers", source="test")
    crm.interactions.record(1, "call", "2024-02-01")
    rows = crm.db.execute("SELECT action, entity, entity_id FROM audit_log WHERE id > ?", [before]).fetchall()
    assert [r for r in rows if r[2] is None] == []
    created = crm.audit.query(action="task.create", entity="task", entity_id=one.id)
    assert len(created) == 1 and created[0].after == {"customer_id": 1, "kind": "call"}
    assert sum(r[0] == "task.create" for r in rows) == 1 + 2 + 3


def test_refused_writes_leave_no_entry(crm):
    before = crm.db.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    for call in (lambda: crm.customers.add(name=""), lambda: crm.customers.update(99, name="X"),
                 lambda: crm.interactions.record(1, "purchase", "2024-01-01"),
                 lambda: crm.segments.define("bad", "nope > 1"), lambda: crm.forget(99)):
        with pytest.raises(crmkit.CrmError):
            call()
    assert crm.db.execute("SELECT count(*) FROM audit_log").fetchone()[0] == before
