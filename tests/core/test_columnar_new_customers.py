"""``--create-customers`` in the columnar import: a reference that matches no one makes a
customer, named by the first row that names it, before any row is written; checked against
customers and rows worked out here and against the row path (pyarrow hidden)."""

from __future__ import annotations

import csv
import json
from decimal import Decimal

import pytest

import crmkit
from crmkit import ImportRefused, hookimpl
from crmkit import columnar
from crmkit.importing import import_file

pytest.importorskip("pyarrow")

HEADER = ["customer_external_id", "customer_name", "occurred_at", "amount"]


class Heard:
    """A plugin noting each event: ("customers", [(id, external id, email, name)]) or ("interactions", [ids])."""

    name = "heard"

    def __init__(self):
        self.events = []

    @hookimpl
    def crmkit_customers_added(self, crm, customers):
        self.events.append(("customers", [(c.id, c.external_id, c.email, c.name) for c in customers]))

    @hookimpl
    def crmkit_interactions_recorded(self, crm, interactions):
        self.events.append(("interactions", [(i.id, i.customer_id) for i in interactions]))


def open_crm(path, clock, plugins=()):
    crm = crmkit.open(path, plugins=list(plugins), clock=clock)
    crm.customers.add_many([{"name": f"P{i}", "external_id": f"C{i}", "email": f"p{i}@example.com"} for i in range(1, 11)])
    return crm


def write(path, rows, header=HEADER):
    with open(path, "w", newline="", encoding="utf-8") as out:
        csv.writer(out, lineterminator="\n").writerows([header] + rows)
    return path


def dump(crm) -> dict:
    db = crm.db
    return {
        "customers": [tuple(r) for r in db.execute("SELECT id, external_id, email, name FROM customers ORDER BY id")],
        "interactions": [tuple(r) for r in db.execute("SELECT id, customer_id, occurred_at, amount FROM interactions ORDER BY id")],
        "audit": [(r[0], r[1], json.loads(r[2]) if r[2] else None) for r in db.execute(
            "SELECT action, entity_id, after FROM audit_log WHERE action != 'interaction.record' ORDER BY id")],
    }


def heard_in_order(events) -> tuple[list, list]:
    """The customers events as heard, and every interaction heard of in order: the columnar path
    announces a batch per chunk, the row path larger ones. Every customers event comes first."""
    kinds = [kind for kind, _ in events]
    assert kinds == sorted(kinds)  # "customers" < "interactions": no customer is made after a row
    return [e for e in events if e[0] == "customers"], [i for kind, batch in events if kind == "interactions" for i in batch]


def both_paths(tmp_path, clock, monkeypatch, path, **options):
    """(result, dump, events) of the import by the columnar path, then by the row path."""
    out = []
    for name in ("columns", "rows"):
        if name == "rows":
            monkeypatch.setattr(columnar, "_pyarrow", lambda: None)
        heard = Heard()
        crm = open_crm(tmp_path / f"{name}.db", clock, [heard])
        heard.events.clear()
        try:
            result = import_file(crm, path, kind="interactions", defaults={"kind": "purchase"}, create_customers=True, **options)
        except ImportRefused as refused:
            result = refused
        out.append((result, dump(crm), heard.events))
        crm.close()
    return out


def orders(count: int) -> list[list[str]]:
    """Every third order is for a known customer (C1..C10), the others for new ones (N0..N39),
    each new one named again and again, with a different name each time after the first."""
    rows = []
    for n in range(count):
        if n % 3 == 0:
            rows.append([f"C{1 + n % 10}", "", f"2024-05-{1 + n % 28:02d}", f"{n}.25"])
        else:
            rows.append([f"N{n % 40}", f"New {n % 40} (row {n})", f"2024-05-{1 + n % 28:02d}", f"{n}.25"])
    return rows


def test_new_customers_are_made_once_each_named_by_their_first_row(tmp_path, clock, small_chunks, monkeypatch, rows_by_column):
    rows = orders(400)
    path = write(tmp_path / "orders.csv", rows)
    (fast, fast_dump, fast_events), (slow, slow_dump, slow_events) = both_paths(tmp_path, clock, monkeypatch, path)
    assert sum(rows_by_column) > 300  # most chunks by column
    first_named = {}
    for n, (reference, name, _, _) in enumerate(rows):
        if reference.startswith("N"):
            first_named.setdefault(reference, name)
    assert (fast.added, fast.customers_added, fast.problems) == (400, len(first_named), [])
    made = fast_dump["customers"][10:]
    assert [(external, name) for _, external, _, name in made] == list(first_named.items())  # in first-row order
    ids = {external: customer_id for customer_id, external, _, _ in fast_dump["customers"]}
    assert [(customer, amount) for _, customer, _, amount in fast_dump["interactions"]] == [
        (ids[reference], int(Decimal(amount) * 100)) for reference, _, _, amount in rows
    ]
    assert fast_dump == slow_dump
    assert heard_in_order(fast_events) == heard_in_order(slow_events)
    assert fast_events[0] == ("customers", [(i, external, None, name) for i, external, _, name in made])
    assert (slow.added, slow.customers_added) == (fast.added, fast.customers_added)


def test_new_customers_by_email_are_made_with_the_email_lower_cased(tmp_path, clock, small_chunks, monkeypatch, rows_by_column):
    rows = [[f"P{1 + n % 10}@Example.com" if n % 2 else f"New{n % 25}@Example.COM", f"{n}.00"] for n in range(300)]
    path = write(tmp_path / "orders.csv", rows, header=["customer_email", "amount"])
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join([lines[0] + ",occurred_at"] + [line + ",2024-06-01" for line in lines[1:]]) + "\n", encoding="utf-8")
    (fast, fast_dump, fast_events), (slow, slow_dump, slow_events) = both_paths(tmp_path, clock, monkeypatch, path)
    assert sum(rows_by_column) > 0
    assert fast.customers_added == 25
    assert [(email, name) for _, _, email, name in fast_dump["customers"][10:12]] == [
        ("new0@example.com", "new0@example.com"), ("new2@example.com", "new2@example.com"),
    ]
    assert fast_dump == slow_dump
    assert heard_in_order(fast_events) == heard_in_order(slow_events)


def test_a_new_customer_a_first_row_cannot_name_is_the_row_paths_problem(tmp_path, clock, small_chunks, monkeypatch):
    rows = orders(300)
    rows[31][1] = "y" * 201   # the first row naming N31 (line 33): too long a name
    rows[151][1] = "x" * 201  # N31 again, after row 71 has made it: its name is not asked for
    path = write(tmp_path / "orders.csv", rows)
    (fast, fast_dump, _), (slow, slow_dump, _) = both_paths(tmp_path, clock, monkeypatch, path)
    assert isinstance(fast, ImportRefused)
    assert [(p.row, p.column) for p in fast.problems] == [(33, "customer_name")]
    assert "cannot create the customer" in fast.problems[0].reason
    assert fast.problems == slow.problems
    assert fast_dump == slow_dump and len(fast_dump["customers"]) == 10 and not fast_dump["interactions"]


def test_a_skipped_row_makes_no_customer(tmp_path, clock, small_chunks, monkeypatch):
    """The only row naming N7 is bad: with skip_invalid it is left out, and so is N7."""
    rows = [[f"C{1 + n % 10}", "", "2024-05-01", "1.00"] for n in range(300)]
    rows[100] = ["N7", "Seven", "2024-05-01", "1.001"]   # three decimals: a bad amount
    rows[200] = ["N8", "Eight", "2024-05-01", "2.00"]
    path = write(tmp_path / "orders.csv", rows)
    (fast, fast_dump, fast_events), (slow, slow_dump, slow_events) = both_paths(tmp_path, clock, monkeypatch, path, skip_invalid=True)
    assert (fast.added, fast.skipped, fast.customers_added) == (299, 1, 1)
    assert [name for *_, name in fast_dump["customers"][10:]] == ["Eight"]
    assert fast_dump == slow_dump
    assert heard_in_order(fast_events) == heard_in_order(slow_events)
