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


def test_recording_interactions_is_one_entry_per_call_with_the_id_range(crm):
    result = crm.interactions.record_many(
        ({"customer_id": 1 + i % 3, "kind": "call", "occurred_at": "2024-02-01"} for i in range(12)), batch_size=5)
    entries = crm.audit.query(action="interaction.record")
    assert len(entries) == 1
    assert entries[0].after == {"count": 12, "first_id": result.first_id, "last_id": result.last_id}


def test_refused_writes_leave_no_entry(crm):
    before = crm.db.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    for call in (lambda: crm.customers.add(name=""), lambda: crm.customers.update(99, name="X"),
                 lambda: crm.interactions.record(1, "purchase", "2024-01-01"),
                 lambda: crm.segments.define("bad", "nope > 1"), lambda: crm.forget(99)):
        with pytest.raises(crmkit.CrmError):
            call()
    assert crm.db.execute("SELECT count(*) FROM audit_log").fetchone()[0] == before
