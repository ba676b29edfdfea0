"""External keys (``--key``, or a column named ``external_key``) in the columnar import: a row
whose key is already recorded for its customer and kind, by an earlier import or earlier in the
file, is skipped and counted, as the row path does; checked against counts worked out here and
against the row path."""

from __future__ import annotations

import csv
from decimal import Decimal

import pytest

import crmkit
from crmkit import ImportRefused
from crmkit import columnar
from crmkit.importing import import_file

pytest.importorskip("pyarrow")

STORED = "customer_id, kind, occurred_at, amount, external_key"




def open_crm(path, clock, plugins=()):
    crm = crmkit.open(path, plugins=list(plugins), clock=clock)
    crm.customers.add_many([{"name": f"P{i}", "external_id": f"C{i}"} for i in range(1, 11)])
    return crm


def write(path, rows, header=("Order ID", "customer_external_id", "occurred_at", "amount")):
    with open(path, "w", newline="", encoding="utf-8") as out:
        csv.writer(out, lineterminator="\n").writerows([list(header)] + rows)
    return path


def orders(count: int) -> list[list[str]]:
    """Order n has key A-(n // 2): each key twice in a row, for the same customer (the second is
    a repeat) every other time, else for another customer (both recorded)."""
    rows = []
    for n in range(count):
        customer = 1 + (n // 2) % 10 if (n // 2) % 2 else 1 + n % 10
        rows.append([f"A-{n // 2}", f"C{customer}", f"2024-05-{1 + n % 28:02d}", f"{n}.10"])
    return rows


def stored(crm) -> list[tuple]:
    return [tuple(r) for r in crm.db.execute(f"SELECT {STORED} FROM interactions ORDER BY id")]


def by_rows(tmp_path, clock, monkeypatch, paths, **options):
    """The results and stored rows of the same imports with pyarrow hidden."""
    monkeypatch.setattr(columnar, "_pyarrow", lambda: None)
    crm = open_crm(tmp_path / "rows.db", clock)
    results = []
    for path in paths:
        try:
            results.append(import_file(crm, path, kind="interactions", defaults={"kind": "purchase"}, **options))
        except ImportRefused as refused:
            results.append(refused)
    rows = stored(crm)
    crm.close()
    return results, rows


def test_a_keyed_file_imported_twice_records_each_order_once(crm_path, tmp_path, clock, small_chunks, monkeypatch, rows_by_column):
    rows = orders(400)
    path = write(tmp_path / "orders.csv", rows)
    repeats = sum(1 for n in range(1, 400, 2) if (n // 2) % 2)  # the same key and customer again
    crm = open_crm(crm_path, clock)
    first = import_file(crm, path, kind="interactions", defaults={"kind": "purchase"}, key="Order ID")
    assert (first.added, first.already_recorded, first.problems, sum(rows_by_column)) == (400 - repeats, repeats, [], 400)
    second = import_file(crm, path, kind="interactions", defaults={"kind": "purchase"}, key="Order ID")
    assert (second.added, second.already_recorded) == (0, 400)
    ids = {c.external_id: c.id for c in crm.customers.list(limit=20)}
    expected, seen = [], set()
    for key, customer, day, amount in rows:
        if (customer, key) not in seen:
            seen.add((customer, key))
            expected.append((ids[customer], "purchase", f"{day}T00:00:00Z", int(Decimal(amount) * 100), key))
    assert stored(crm) == expected
    crm.close()
    (slow_first, slow_second), slow_rows = by_rows(tmp_path, clock, monkeypatch, [path, path], key="Order ID")
    assert (slow_first.added, slow_first.already_recorded, slow_second.already_recorded) == (400 - repeats, repeats, 400)
    assert slow_rows == expected


@pytest.mark.parametrize("cell, problem", [("", "missing: the key (--key) of every row"), ("K" * 201, "at most 200 characters")])
def test_a_row_without_a_usable_key_is_the_row_paths_problem(crm_path, tmp_path, clock, small_chunks, monkeypatch, cell, problem):
    rows = orders(300)
    rows[150][0] = cell
    path = write(tmp_path / "orders.csv", rows)
    crm = open_crm(crm_path, clock)
    with pytest.raises(ImportRefused) as fast:
        import_file(crm, path, kind="interactions", defaults={"kind": "purchase"}, key="Order ID")
    assert [(p.row, p.column) for p in fast.value.problems] == [(152, "Order ID")]
    assert problem in fast.value.problems[0].reason
    assert crm.interactions.count() == 0
    crm.close()
    (slow,), _ = by_rows(tmp_path, clock, monkeypatch, [path], key="Order ID")
    assert fast.value.problems == slow.problems


def test_a_key_with_spaces_around_it_is_the_same_key(crm_path, tmp_path, clock, small_chunks, monkeypatch):
    rows = orders(300)
    rows[1][0] = f" {rows[0][0]} "   # the same customer and key as row 0 (a repeat), spelt with spaces
    rows[1][1] = rows[0][1]
    path = write(tmp_path / "orders.csv", rows)
    crm = open_crm(crm_path, clock)
    fast = import_file(crm, path, kind="interactions", defaults={"kind": "purchase"}, key="Order ID")
    fast_rows = stored(crm)
    crm.close()
    (slow,), slow_rows = by_rows(tmp_path, clock, monkeypatch, [path], key="Order ID")
    assert (fast.added, fast.already_recorded) == (slow.added, slow.already_recorded)
    assert fast_rows == slow_rows and "A-0" in {row[4] for row in fast_rows}


def test_an_external_key_column_without_key_skips_repeats_and_keeps_unkeyed_rows(crm_path, tmp_path, clock, small_chunks, monkeypatch, rows_by_column):
    rows = orders(300)
    for n in range(0, 300, 7):
        rows[n][0] = ""  # no key: always recorded
    path = write(tmp_path / "orders.csv", rows, header=("external_key", "customer_external_id", "occurred_at", "amount"))
    crm = open_crm(crm_path, clock)
    fast = import_file(crm, path, kind="interactions", defaults={"kind": "purchase"})
    fast_rows = stored(crm)
    assert sum(rows_by_column) == 300 and fast.already_recorded > 0
    assert sum(1 for row in fast_rows if row[4] is None) == len(range(0, 300, 7))
    crm.close()
    (slow,), slow_rows = by_rows(tmp_path, clock, monkeypatch, [path])
    assert (fast.added, fast.already_recorded) == (slow.added, slow.already_recorded)
    assert fast_rows == slow_rows


class Heard:
    """A plugin noting the ids and keys of every batch it hears of."""

    name = "heard"

    def __init__(self):
        self.ids = []

    @crmkit.hookimpl
    def crmkit_interactions_recorded(self, crm, interactions):
        self.ids.extend((i.id, i.external_key) for i in interactions)


def test_plugins_hear_of_the_rows_recorded_and_not_of_the_repeats(crm_path, tmp_path, clock, small_chunks, monkeypatch):
    path = write(tmp_path / "orders.csv", orders(300))
    heard = Heard()
    crm = open_crm(crm_path, clock, [heard])
    import_file(crm, path, kind="interactions", defaults={"kind": "purchase"}, key="Order ID")
    recorded = [(row[0], row[1]) for row in crm.db.execute("SELECT id, external_key FROM interactions ORDER BY id")]
    assert heard.ids == recorded and [i for i, _ in recorded] == list(range(1, len(recorded) + 1))
    crm.close()


def test_a_quoted_key_among_plain_lines_keeps_its_place(crm_path, tmp_path, clock, small_chunks, monkeypatch, rows_by_column):
    """A quoted line is read by the row path inside a chunk read by column; keys and file order
    hold across both."""
    rows = orders(300)
    rows[3][0] = 'B,"1"'          # a comma and quotes: csv writes it quoted
    rows[5] = [rows[3][0]] + rows[3][1:]  # the same key and customer again: a repeat
    path = write(tmp_path / "orders.csv", rows)
    crm = open_crm(crm_path, clock)
    fast = import_file(crm, path, kind="interactions", defaults={"kind": "purchase"}, key="Order ID")
    fast_rows = stored(crm)
    assert 0 < sum(rows_by_column) < 300
    assert [row[4] for row in fast_rows].count('B,"1"') == 1
    crm.close()
    (slow,), slow_rows = by_rows(tmp_path, clock, monkeypatch, [path], key="Order ID")
    assert (fast.added, fast.already_recorded) == (slow.added, slow.already_recorded)
    assert fast_rows == slow_rows
