"""Customer references of a columnar import: one query per chunk, or the whole table read once
(crmkit/columnar_refs.py), against answers computed here from the customers added."""

from __future__ import annotations

import csv

import pytest

import crmkit
from crmkit import ImportRefused
from crmkit.importing import import_file

pa = pytest.importorskip("pyarrow")
pc = pytest.importorskip("pyarrow.compute")

from crmkit.columnar_refs import CustomerKeys  # noqa: E402  (needs pyarrow)

CUSTOMERS = 300


class CountingDb:
    """The CRM's database, counting the statements asked of it."""

    def __init__(self, db):
        self.db = db
        self.statements = 0

    def execute(self, sql, params=None):
        self.statements += 1
        return self.db.execute(sql, params)


@pytest.fixture
def crm(crm_path, clock):
    crm = crmkit.open(crm_path, plugins=[], clock=clock)
    # Customer 7 and 8 share an email; every tenth customer has no external id.
    crm.customers.add_many([
        {"name": f"P{i}", "external_id": None if i % 10 == 0 else f"X{i}",
         "email": "shared@example.com" if i in (7, 8) else f"P{i}@Example.com"}
        for i in range(1, CUSTOMERS + 1)
    ])
    yield crm
    crm.close()


def truth(crm):
    """external id -> id, lower-cased email -> ids, every id: from the customers as listed."""
    people = crm.customers.list(limit=CUSTOMERS + 10)
    emails: dict[str, list[int]] = {}
    for person in people:
        emails.setdefault(person.email.lower(), []).append(person.id)
    return {p.external_id: p.id for p in people if p.external_id}, emails, {p.id for p in people}


def answer(found) -> dict:
    keys, ids, holders = found
    return {key: (customer, held) for key, customer, held in zip(keys.to_pylist(), ids.to_pylist(), holders.to_pylist())}


def test_a_few_references_are_asked_and_many_read_the_table_once(crm):
    by_external, _, _ = truth(crm)
    db = CountingDb(crm.db)
    keys = CustomerKeys(db, pa, pc)
    few = ["X1", "X2", "X11", "nobody"]
    assert answer(keys.find("customer_external_id", pa.array(few))) == {k: (by_external[k], 1) for k in few[:3]}
    asked = db.statements
    assert asked == 2  # the table's size, then the chunk's query

    many = [f"X{i}" for i in range(1, 200)] + ["X999"]
    expected = {k: (by_external[k], 1) for k in many if k in by_external}
    assert answer(keys.find("customer_external_id", pa.array(many))) == expected
    assert db.statements == asked + 1  # the whole table, read once
    assert answer(keys.find("customer_external_id", pa.array(many))) == expected
    assert db.statements == asked + 1  # and resolved from it again without asking


def test_both_ways_name_the_same_customers(crm):
    by_external, emails, ids = truth(crm)
    wanted_emails = ["shared@example.com", "p1@example.com", "p300@example.com", "nobody@example.com"]
    wanted_ids = [1, 2, CUSTOMERS, CUSTOMERS + 5]
    for reads_table in (False, True):
        keys = CustomerKeys(crm.db, pa, pc)
        if reads_table:  # a first chunk naming most of the table tips the pass over
            keys.find("customer_external_id", pa.array(list(by_external)))
            keys.find("customer_email", pa.array(sorted(emails)))
            keys.find("customer_id", pa.array(sorted(ids), pa.int64()))
        assert answer(keys.find("customer_email", pa.array(wanted_emails))) == {
            email: (min(emails[email]), len(emails[email])) for email in wanted_emails[:3]
        }
        assert answer(keys.find("customer_id", pa.array(wanted_ids, pa.int64()))) == {i: (i, 1) for i in wanted_ids[:3]}
        assert answer(keys.find("customer_external_id", pa.array(["X3", "X10"]))) == {"X3": (by_external["X3"], 1)}


def test_an_empty_table_names_no_one(crm_path, clock):
    with crmkit.open(crm_path, plugins=[], clock=clock) as empty:
        keys = CustomerKeys(empty.db, pa, pc)
        assert answer(keys.find("customer_external_id", pa.array(["X1"]))) == {}


def write(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as out:
        csv.writer(out, lineterminator="\n").writerows([["customer_external_id", "customer_email", "occurred_at", "amount"]] + rows)
    return path


def test_an_import_switches_ways_mid_file_and_stores_every_row_right(crm, tmp_path, small_chunks):
    """Many 2 kB chunks: the first ones ask, the later ones resolve from the table; either way
    each row is stored against the customer its first reference names."""
    by_external, emails, _ = truth(crm)
    rows = []
    for n in range(2000):
        person = 1 + (n * 7) % CUSTOMERS
        if person in (7, 8) or person % 10 == 0:
            rows.append(["", f"p{person}@example.com" if person not in (7, 8) else "p9@example.com", "2024-03-01", "1.50"])
        else:
            rows.append([f"X{person}", "", "2024-03-01", "1.50"])
    path = write(tmp_path / "purchases.csv", rows)
    report = import_file(crm, path, kind="interactions", defaults={"kind": "purchase"})
    assert report.imported == 2000
    expected = [by_external[ext] if ext else emails[email.lower()][0] for ext, email, _, _ in rows]
    stored = [r[0] for r in crm.db.execute("SELECT customer_id FROM interactions ORDER BY id")]
    assert stored == expected


def test_an_email_two_customers_share_is_refused_whichever_way_it_was_resolved(crm, tmp_path, small_chunks):
    named = [i for i in range(1, CUSTOMERS + 1) if i % 10]
    rows = [[f"X{named[n % len(named)]}", "", "2024-03-01", "2.00"] for n in range(600)]
    rows.append(["", "shared@example.com", "2024-03-02", "3.00"])
    path = write(tmp_path / "purchases.csv", rows)
    with pytest.raises(ImportRefused) as refused:
        import_file(crm, path, kind="interactions", defaults={"kind": "purchase"})
    assert [p.row for p in refused.value.problems] == [len(rows) + 1]
    assert "shared@example.com" in str(refused.value.problems[0])
    assert crm.db.execute("SELECT count(*) FROM interactions").fetchone()[0] == 0
