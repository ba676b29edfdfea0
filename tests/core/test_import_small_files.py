"""Which path an import takes by the file's size: a small file is read row by row, without
loading pyarrow (most of a small import's time); a file at the threshold or above by column.
Either way the rows stored are the same, checked against rows written by hand here."""

from __future__ import annotations

import pytest

import crmkit
from crmkit import ImportRefused, columnar
from crmkit.importing import import_file

pytest.importorskip("pyarrow")


@pytest.fixture
def pyarrow_loads(monkeypatch) -> list[str]:
    """The files for which an import asked for pyarrow."""
    calls = []
    load = columnar._pyarrow

    def noted():
        calls.append("pyarrow")
        return load()

    monkeypatch.setattr(columnar, "_pyarrow", noted)
    return calls


def _customers(path, count: int):
    lines = ["external_id,name,email"] + [f"K{n:06d},Customer {n},c{n}@example.com" for n in range(1, count + 1)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _purchases(path, count: int, customers: int):
    lines = ["customer_external_id,occurred_at,amount"]
    lines += [f"K{1 + n % customers:06d},2025-03-{1 + n % 28:02d},{n % 50}.{n % 100:02d}" for n in range(count)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_small_file_is_read_row_by_row_without_pyarrow(crm_path, clock, pyarrow_loads, row_path_below_bytes):
    crm = crmkit.open(crm_path, plugins=[], clock=clock)
    people = _customers(crm_path.parent / "people.csv", 40)
    bought = _purchases(crm_path.parent / "bought.csv", 300, 40)
    assert bought.stat().st_size < row_path_below_bytes
    assert import_file(crm, people, kind="customers").added == 40
    assert import_file(crm, bought, kind="interactions", defaults={"kind": "purchase"}).added == 300
    assert pyarrow_loads == []
    assert crm.customers.count() == 40
    total = crm.db.execute("SELECT sum(amount) FROM interactions").fetchone()[0]
    assert total == sum((n % 50) * 100 + n % 100 for n in range(300))  # minor units
    crm.close()


def test_a_file_at_the_threshold_is_read_by_column(crm_path, clock, pyarrow_loads, row_path_below_bytes):
    crm = crmkit.open(crm_path, plugins=[], clock=clock)
    count = 1
    while True:  # the smallest customers file at the threshold or above
        people = _customers(crm_path.parent / "people.csv", count)
        if people.stat().st_size >= row_path_below_bytes:
            break
        count = max(count + 1, count * row_path_below_bytes // people.stat().st_size)
    assert import_file(crm, people, kind="customers").added == count
    assert pyarrow_loads == ["pyarrow"]
    stored = crm.db.execute("SELECT external_id, name, email FROM customers ORDER BY id").fetchall()
    assert [tuple(row) for row in stored] == [(f"K{n:06d}", f"Customer {n}", f"c{n}@example.com") for n in range(1, count + 1)]
    crm.close()


def test_a_bad_small_file_is_refused_with_the_row_paths_report(crm_path, clock, pyarrow_loads, row_path_below_bytes):
    crm = crmkit.open(crm_path, plugins=[], clock=clock)
    import_file(crm, _customers(crm_path.parent / "people.csv", 3), kind="customers")
    bad = crm_path.parent / "bad.csv"
    bad.write_text("customer_external_id,occurred_at,amount\nK000001,2025-03-01,12.50\nK000009,2025-03-02,3.00\n")
    with pytest.raises(ImportRefused) as refused:
        import_file(crm, bad, kind="interactions", defaults={"kind": "purchase"})
    [problem] = refused.value.problems
    assert (problem.row, problem.value) == (3, "K000009")  # the line of the file, the header being line 1
    assert crm.interactions.count() == 0 and pyarrow_loads == []
    crm.close()
