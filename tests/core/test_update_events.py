"""crmkit_customers_updated comes in batches from an import or upsert_many, as the hook rules
say every event does: it came once per changed customer (2,400 calls for 2,400 rows)."""

from __future__ import annotations

import crmkit
from crmkit import hookimpl


class Listener:
    def __init__(self):
        self.added: list[int] = []
        self.updated: list[list[tuple[int, str]]] = []

    @hookimpl
    def crmkit_customers_added(self, crm, customers):
        self.added.append(len(customers))

    @hookimpl
    def crmkit_customers_updated(self, crm, changes):
        self.updated.append([(c.after.id, c.after.region) for c in changes])


def test_an_upsert_announces_its_changes_once_per_batch(crm_path):
    listener = Listener()
    with crmkit.open(crm_path, plugins=[listener]) as crm:
        crm.customers.upsert_many([{"external_id": f"X{n}", "name": f"C{n}"} for n in range(1200)])
        assert listener.added == [500, 500, 200]
        rows = [{"external_id": f"X{n}", "region": "EU" if n % 2 else "US"} for n in range(1200)]
        rows.append({"external_id": "X0", "region": "US"})  # no change: not announced
        counts = crm.customers.upsert_many(rows)
        assert counts == {"added": 0, "updated": 1201}
        assert [len(batch) for batch in listener.updated] == [500, 500, 200]
        announced = [change for batch in listener.updated for change in batch]
        assert announced == [(n + 1, "EU" if n % 2 else "US") for n in range(1200)]
        assert crm.segments.evaluate("region = 'EU'").count() == 600


def test_one_update_is_a_batch_of_one_and_an_unchanged_one_is_silent(crm_path):
    listener = Listener()
    with crmkit.open(crm_path, plugins=[listener]) as crm:
        ann = crm.customers.add(name="Ann", region="EU")
        assert crm.customers.update(ann.id, region="EU") == crm.customers.get(ann.id)
        assert listener.updated == []
        assert crm.customers.update(ann.id, region="US").region == "US"
        assert listener.updated == [[(ann.id, "US")]]
