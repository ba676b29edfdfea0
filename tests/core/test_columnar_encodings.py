"""Files in a one-byte encoding (``--encoding cp1252``, ``latin-1``, ...) in the columnar import:
read by column as the row path reads them, checked against values written here and against the
row path; a byte the encoding lacks is the row path's problem, as before; an encoding of several
bytes a character takes the row path."""

from __future__ import annotations

import pytest

import crmkit
from crmkit import ImportRefused
from crmkit import columnar
from crmkit.importing import import_file

pytest.importorskip("pyarrow")

CATEGORIES = ["Küche", "café", "€uro", "naïve — dash", "plain"]




def open_crm(path, clock):
    crm = crmkit.open(path, plugins=[], clock=clock)
    crm.customers.add_many([{"name": f"P{i}", "external_id": f"C{i}"} for i in range(1, 11)])
    return crm


def purchases_file(path, encoding: str, rows: int = 300, bad_row: int | None = None):
    lines = ["customer_external_id,occurred_at,amount,category"]
    lines += [f"C{1 + n % 10},2024-05-{1 + n % 28:02d},{n}.25,{CATEGORIES[n % len(CATEGORIES)]}" for n in range(rows)]
    data = ("\n".join(lines) + "\n").encode(encoding)
    if bad_row is not None:  # a byte cp1252 does not define, in the category of that row
        at = data.index(f"\nC{1 + bad_row % 10},2024-05-{1 + bad_row % 28:02d},{bad_row}.25,".encode()) + 1
        end = data.index(b"\n", at)
        data = data[:end] + b"\x81" + data[end:]
    path.write_bytes(data)
    return path


def stored(crm) -> list[tuple]:
    return [tuple(r) for r in crm.db.execute("SELECT customer_id, occurred_at, amount, category FROM interactions ORDER BY id")]


def by_rows(tmp_path, clock, monkeypatch, path, **options):
    monkeypatch.setattr(columnar, "_pyarrow", lambda: None)
    crm = open_crm(tmp_path / "rows.db", clock)
    try:
        result = import_file(crm, path, **options)
    except ImportRefused as refused:
        result = refused
    rows = stored(crm) if options["kind"] == "interactions" else [tuple(r) for r in crm.db.execute("SELECT * FROM customers ORDER BY id")]
    crm.close()
    return result, rows


@pytest.mark.parametrize("encoding", ["cp1252", "latin-1", "iso8859-15"])
def test_a_one_byte_encoding_is_read_by_column_as_written(crm_path, tmp_path, clock, small_chunks, monkeypatch, rows_by_column, encoding):
    texts = [c for c in CATEGORIES if all(ch.encode(encoding, errors="ignore") for ch in c)]
    path = tmp_path / "p.csv"
    lines = ["customer_external_id,occurred_at,amount,category"]
    lines += [f"C{1 + n % 10},2024-05-{1 + n % 28:02d},{n}.25,{texts[n % len(texts)]}" for n in range(300)]
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    options = {"kind": "interactions", "defaults": {"kind": "purchase"}, "encoding": encoding}
    crm = open_crm(crm_path, clock)
    ids = {c.external_id: c.id for c in crm.customers.list(limit=20)}
    result = import_file(crm, path, **options)
    assert (result.added, result.problems, sum(rows_by_column)) == (300, [], 300)
    expected = [(ids[f"C{1 + n % 10}"], f"2024-05-{1 + n % 28:02d}T00:00:00Z", n * 100 + 25, texts[n % len(texts)]) for n in range(300)]
    assert stored(crm) == expected
    crm.close()
    slow, slow_rows = by_rows(tmp_path, clock, monkeypatch, path, **options)
    assert (slow.added, slow_rows) == (300, expected)


def test_a_byte_the_encoding_lacks_is_the_row_paths_problem(crm_path, tmp_path, clock, small_chunks, monkeypatch):
    path = purchases_file(tmp_path / "p.csv", "cp1252", bad_row=150)
    options = {"kind": "interactions", "defaults": {"kind": "purchase"}, "encoding": "cp1252"}
    crm = open_crm(crm_path, clock)
    with pytest.raises(ImportRefused) as fast:
        import_file(crm, path, **options)
    assert [p.row for p in fast.value.problems] == [152]
    assert "are not valid cp1252; save the file as UTF-8 or pass the right --encoding" in fast.value.problems[0].reason
    assert crm.interactions.count() == 0
    crm.close()
    slow, _ = by_rows(tmp_path, clock, monkeypatch, path, **options)
    assert fast.value.problems == slow.problems


def test_customers_in_cp1252_are_read_by_column_as_the_row_path_reads_them(crm_path, tmp_path, clock, small_chunks, monkeypatch, rows_by_column):
    names = ["Zoë Müller", "François Côté", "Ægir Ødegård", "Plain Name"]
    lines = ["external_id,name,email"] + [f"K{n:04d},{names[n % 4]} {n},k{n}@example.com" for n in range(300)]
    path = tmp_path / "people.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode("cp1252"))
    options = {"kind": "customers", "encoding": "cp1252"}
    crm = open_crm(crm_path, clock)
    result = import_file(crm, path, **options)
    assert (result.added, result.problems, sum(rows_by_column)) == (300, [], 300)
    fast = [tuple(r) for r in crm.db.execute("SELECT * FROM customers ORDER BY id")]
    assert [row[2] for row in fast[10:]] == [f"{names[n % 4]} {n}" for n in range(300)]
    crm.close()
    _, slow = by_rows(tmp_path, clock, monkeypatch, path, **options)
    assert fast == slow


@pytest.mark.parametrize("encoding", ["shift_jis", "gbk", "iso2022_jp"])
def test_an_encoding_of_several_bytes_a_character_takes_the_row_path(crm_path, tmp_path, clock, small_chunks, rows_by_column, encoding):
    """In these a byte of a character may look like ASCII (ISO-2022-JP writes 台 as the bytes
    of "Bf" after an escape)."""
    lines = ["customer_external_id,occurred_at,amount,category"]
    lines += [f"C{1 + n % 10},2024-05-{1 + n % 28:02d},{n}.25,台所" for n in range(300)]
    path = tmp_path / "p.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    crm = open_crm(crm_path, clock)
    result = import_file(crm, path, kind="interactions", defaults={"kind": "purchase"}, encoding=encoding)
    assert (result.added, rows_by_column) == (300, [])
    assert {row[3] for row in stored(crm)} == {"台所"}
    crm.close()
