"""``Database.bulk_transaction``: a large load's transaction, whose foreign keys SQLite checks
once before the commit; it refuses exactly what row-by-row checks refuse, with nothing kept."""

from __future__ import annotations

import pytest

import crmkit
from crmkit.engine.errors import IntegrityError


@pytest.fixture
def crm(crm_path):
    with crmkit.open(crm_path, plugins=[]) as crm:
        with crm.transaction():
            crm.db.execute("CREATE TABLE shops (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
            crm.db.execute("CREATE TABLE visits (id INTEGER PRIMARY KEY, shop_id INTEGER REFERENCES shops(id), note TEXT)")
            crm.db.execute("CREATE TABLE shops_by_name (name TEXT PRIMARY KEY)")
            crm.db.execute("CREATE TABLE shop_tags (shop_name TEXT REFERENCES shops_by_name(name), tag TEXT)")
            crm.db.bulk_insert("shops", ("id", "name"), [(n, f"shop {n}") for n in range(1, 11)])
        yield crm


def _count(crm, table: str) -> int:
    return crm.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def _visits(count: int) -> list[tuple]:
    return [(1 + n % 10, f"visit {n}") for n in range(count)]


def test_rows_that_reference_existing_rows_are_committed(crm):
    with crm.db.bulk_transaction():
        crm.db.bulk_insert("visits", ("shop_id", "note"), _visits(500))
        crm.db.bulk_insert("visits", ("shop_id", "note"), [(None, "no shop")])  # NULL references nothing
    assert _count(crm, "visits") == 501


@pytest.mark.parametrize("table", ["visits", "shop_tags"])
def test_a_dangling_reference_refuses_the_whole_transaction(crm, table):
    with pytest.raises(IntegrityError) as refused:
        with crm.db.bulk_transaction():
            crm.db.bulk_insert("visits", ("shop_id", "note"), _visits(500))
            if table == "visits":
                crm.db.execute("INSERT INTO visits(shop_id, note) VALUES (99, 'no such shop')")
            else:
                crm.db.execute("INSERT INTO shop_tags(shop_name, tag) VALUES ('nowhere', 'x')")
    assert table in str(refused.value)
    assert _count(crm, "visits") == 0 and _count(crm, "shop_tags") == 0


@pytest.mark.sqlite_only
def test_a_dangling_reference_is_named(crm):
    """SQLite checks the references once, before the commit: the error names the table, column
    and value it found first (PostgreSQL checks each row as it is written, and says so itself)."""
    with pytest.raises(IntegrityError) as refused:
        with crm.db.bulk_transaction():
            crm.db.execute("INSERT INTO visits(shop_id, note) VALUES (42, 'no such shop')")
    error = refused.value
    assert (error.table, error.column, error.value, error.parent) == ("visits", "shop_id", 42, "shops")
    assert str(error) == "FOREIGN KEY constraint failed: visits.shop_id 42 is in no row of shops"


@pytest.mark.sqlite_only
@pytest.mark.parametrize("first", [[], ["visits"]])
def test_the_loads_own_table_is_checked_first(crm, first):
    with pytest.raises(IntegrityError) as refused:
        with crm.db.bulk_transaction(first=first):
            crm.db.execute("INSERT INTO visits(shop_id, note) VALUES (42, 'no such shop')")
            crm.db.execute("INSERT INTO shop_tags(shop_name, tag) VALUES ('nowhere', 'x')")
    assert refused.value.table == (first[0] if first else "shop_tags")  # else in the order of names


def test_deleting_a_referenced_row_is_refused(crm):
    crm.db.execute("INSERT INTO visits(shop_id, note) VALUES (3, 'kept')")
    with pytest.raises(IntegrityError):
        with crm.db.bulk_transaction():
            crm.db.execute("DELETE FROM shops WHERE id = 3")
    assert _count(crm, "shops") == 10


def test_references_are_checked_row_by_row_after_the_block(crm):
    with crm.db.bulk_transaction():
        crm.db.execute("INSERT INTO visits(shop_id, note) VALUES (1, 'fine')")
    with pytest.raises(IntegrityError):
        with crm.transaction():
            crm.db.execute("INSERT INTO visits(shop_id, note) VALUES (77, 'no such shop')")
            raise AssertionError("the insert should have been refused at once")
    assert _count(crm, "visits") == 1


def test_inside_a_transaction_already_open_references_are_checked_row_by_row(crm):
    """A transaction open before cannot change how references are checked: the block is a
    savepoint of it, and each write is checked as it is made."""
    with pytest.raises(IntegrityError):
        with crm.transaction():
            with crm.db.bulk_transaction():
                crm.db.execute("INSERT INTO visits(shop_id, note) VALUES (77, 'no such shop')")
                raise AssertionError("the insert should have been refused at once")
    assert _count(crm, "visits") == 0


def test_a_failure_inside_keeps_nothing_and_checks_row_by_row_after(crm):
    with pytest.raises(RuntimeError):
        with crm.db.bulk_transaction():
            crm.db.bulk_insert("visits", ("shop_id", "note"), _visits(20))
            raise RuntimeError("the load failed")
    assert _count(crm, "visits") == 0
    with pytest.raises(IntegrityError):
        crm.db.execute("INSERT INTO visits(shop_id, note) VALUES (77, 'no such shop')")
    assert _count(crm, "visits") == 0


def test_a_key_of_two_columns_naming_the_parents_primary_key(crm):
    """``REFERENCES regions`` names the parent's primary key; a row with either column empty
    references nothing (so nothing dangles), a row with both given must match one row."""
    with crm.transaction():
        crm.db.execute("CREATE TABLE regions (country TEXT NOT NULL, code TEXT NOT NULL, PRIMARY KEY (country, code))")
        crm.db.execute("CREATE TABLE stores (id INTEGER PRIMARY KEY, country TEXT, code TEXT, FOREIGN KEY (country, code) REFERENCES regions)")
        crm.db.execute("INSERT INTO regions(country, code) VALUES ('FR', '75'), ('DE', 'BE')")
    with crm.db.bulk_transaction():
        crm.db.bulk_insert("stores", ("country", "code"), [("FR", "75"), ("DE", "BE"), ("FR", None), (None, "99")])
    assert _count(crm, "stores") == 4
    with pytest.raises(IntegrityError) as refused:
        with crm.db.bulk_transaction():
            crm.db.bulk_insert("stores", ("country", "code"), [("DE", "BE"), ("FR", "BE")])
    assert "stores" in str(refused.value)
    if refused.value.table is not None:  # checked before the commit (SQLite)
        assert (refused.value.column, refused.value.value) == ("country, code", ("FR", "BE"))
    assert _count(crm, "stores") == 4
