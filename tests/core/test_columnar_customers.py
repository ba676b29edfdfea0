"""The columnar path of a customers import (crmkit/columnar.py) against the row path and by hand.

Each comparison imports the same file twice into CRMs holding the same customers: once as it
comes (chunks checked by column where they can be) and once with pyarrow hidden (the row path
throughout), and compares the stored customers, their history, the audit log, the events the
plugins heard and the problem report.
"""

from __future__ import annotations

import csv
import json

import pytest
from click.testing import CliRunner

import crmkit
from crmkit import ImportRefused, hookimpl
from crmkit import columnar
from crmkit.cli import make_cli
from crmkit.importing import import_file

pytest.importorskip("pyarrow")

HEADER = ["external_id", "name", "email", "phone", "region", "stage", "size"]


class Recorder:
    """A plugin noting every customers event: ("added", [records]) or ("updated", [(before, after)])."""

    name = "recorder"

    def __init__(self):
        self.events = []

    @hookimpl
    def crmkit_customers_added(self, crm, customers):
        self.events.append(("added", list(customers)))

    @hookimpl
    def crmkit_customers_updated(self, crm, changes):
        self.events.append(("updated", [(c.before, c.after) for c in changes]))


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of about 1 kB, so that a small file has many."""
    monkeypatch.setattr(columnar, "CHUNK_BYTES", 1024)


def write(path, rows, header=HEADER):
    with open(path, "w", newline="", encoding="utf-8") as out:
        csv.writer(out, lineterminator="\n").writerows([header] + rows)
    return path


def people(count: int, start: int = 1) -> list[list[str]]:
    return [
        [f"X{n:05d}", f"Person {n}", f"p{n}@example.com" if n % 4 else "", f"+44 20 7946 {n:04d}" if n % 3 else "",
         ["north", "south", ""][n % 3], ["new", "prospect", "", "growing"][n % 4], ["small", "", "large"][n % 3]]
        for n in range(start, start + count)
    ]


def open_crm(path, clock, plugins=(), existing=()):
    crm = crmkit.open(path, plugins=list(plugins), clock=clock)
    if existing and not crm.customers.count():
        crm.customers.add_many(existing)
    return crm


def dump(crm) -> dict:
    """Everything an import writes, as stored (JSON columns as text and parsed)."""
    db = crm.db
    audit = [tuple(r) for r in db.execute("SELECT at, actor, action, entity, entity_id, before, after, source FROM audit_log ORDER BY id")]
    return {
        "customers": [tuple(r) for r in db.execute("SELECT * FROM customers ORDER BY id")],
        "history": [tuple(r) for r in db.execute("SELECT * FROM customer_history ORDER BY customer_id, valid_from")],
        "audit": audit,
        "audit parsed": [(a[2], a[4], a[5] and json.loads(a[5]), a[6] and json.loads(a[6])) for a in audit],
    }


def both_paths(tmp_path, clock, monkeypatch, path, existing=(), **options):
    """(result, dump, events) of the import of ``path`` by the columnar path, then by the row path."""
    out = []
    for name in ("columnar", "rows"):
        if name == "rows":
            monkeypatch.setattr(columnar, "_pyarrow", lambda: None)
        recorder = Recorder()
        crm = open_crm(tmp_path / f"{name}.db", clock, [recorder], existing)
        recorder.events.clear()
        try:
            result = import_file(crm, path, kind="customers", **options)
        except ImportRefused as refused:
            result = refused
        out.append((result, dump(crm), recorder.events))
        crm.close()
    return out


@pytest.fixture
def by_column(monkeypatch):
    """Counts of the chunks checked by column and by row."""
    counts = {"column": 0, "row": 0}
    original = columnar.ColumnarCustomers._check_by_column

    def counted(self, first, data):
        done = original(self, first, data)
        counts["column" if done else "row"] += 1
        return done

    monkeypatch.setattr(columnar.ColumnarCustomers, "_check_by_column", counted)
    return counts


def test_plain_file_is_stored_as_computed_by_hand(crm_path, clock, small_chunks, by_column):
    recorder = Recorder()
    crm = open_crm(crm_path, clock, [recorder])
    rows = people(300)
    result = import_file(crm, write(crm_path.parent / "people.csv", rows), kind="customers")
    assert (result.added, result.updated, result.rows, result.problems) == (300, 0, 300, [])
    assert by_column["column"] > 5 and by_column["row"] == 0
    now = "2025-01-01T09:00:00Z"
    expected = []
    for n, (ext, name, email, phone, region, stage, size) in enumerate(rows, 1):
        digits = "".join(ch for ch in phone if ch.isdigit())
        expected.append((n, ext, name, email or None, email.lower() or None, phone or None, "+" + digits if phone else None,
                         region or None, size or None, stage or "new", "[]", "{}", now, now))
    stored = crm.db.execute(
        "SELECT id, external_id, name, email, email_norm, phone, phone_norm, region, size, stage, tags, attributes, "
        "created_at, updated_at FROM customers ORDER BY id"
    )
    assert [tuple(r) for r in stored] == expected
    audit = crm.audit.query(action="customer.add", limit=1000)
    assert sorted((int(e.entity_id), e.after) for e in audit) == [(n, {"name": f"Person {n}"}) for n in range(1, 301)]
    # Events in batches of 500 at most, every new customer once, in id order, as the records read back.
    added = [c for kind, batch in recorder.events if kind == "added" for c in batch]
    assert [c.id for c in added] == list(range(1, 301))
    assert added == [crm.customers.get(n) for n in range(1, 301)]
    crm.close()


def test_same_as_the_row_path_for_new_customers(tmp_path, clock, small_chunks, monkeypatch, by_column):
    rows = people(1200)
    rows[5][1] = "Zoë Ångström-Łukasiewicz"          # unicode, and no plain JSON for the audit
    rows[6][1] = 'Ann "The Boss" Lee'                 # a quoted cell (doubled quotes)
    rows[7][4] = "Kraków, Old Town"                   # a delimiter in a quoted cell
    rows[900][2] = "MiXeD@Example.COM"                # matched on its lower-cased form
    path = write(tmp_path / "people.csv", rows)
    (fast, fast_dump, fast_events), (slow, slow_dump, slow_events) = both_paths(tmp_path, clock, monkeypatch, path)
    assert by_column["column"] > 0 and by_column["row"] > 0  # the quoted lines' chunk took the row path
    assert (fast.added, fast.updated, fast.problems) == (slow.added, slow.updated, slow.problems) == (1200, 0, [])
    assert fast_dump == slow_dump
    assert fast_events == slow_events
    assert [len(batch) for _, batch in fast_events] == [500, 500, 200]


def test_the_write_pass_writes_the_customers_the_check_pass_read(crm_path, clock, small_chunks, by_column, monkeypatch):
    """A file changed once it has been checked is not read again: the customers written are the
    ones checked, those checked by column and those the row path checked alike. (Read again,
    another file's rows would be written unchecked: here, the emails of customers already on
    file.)"""
    crm = open_crm(crm_path, clock, existing=[{"name": f"Old {n}", "email": f"p{n}@example.com"} for n in range(1, 401)])
    rows = people(300, start=1001)
    rows[150][1] = 'Ann "The Boss" Lee'  # its chunk goes the row path
    path = write(crm_path.parent / "people.csv", rows)
    check = columnar.ColumnarCustomers.check

    def check_then_change_the_file(self, progress):
        check(self, progress)
        write(path, people(300, start=1))

    monkeypatch.setattr(columnar.ColumnarCustomers, "check", check_then_change_the_file)
    result = import_file(crm, path, kind="customers")
    assert by_column["column"] > 0 and by_column["row"] > 0
    assert (result.added, result.updated) == (300, 0)
    stored = crm.db.execute("SELECT external_id, name FROM customers WHERE id > 400 ORDER BY id").fetchall()
    assert [tuple(row) for row in stored] == [(ext, name) for ext, name, *_ in rows]
    crm.close()


def test_upserts_by_external_id_and_email_as_the_row_path(tmp_path, clock, small_chunks, monkeypatch):
    existing = [{"name": f"Old {n}", "external_id": f"X{n:05d}" if n % 2 else None, "email": f"p{n}@example.com",
                 "region": "west", "tags": ["kept"]} for n in (10, 11, 400, 401)]
    rows = people(600)
    rows[9][0] = ""  # row of person 10: no external id, matched by email
    rows[399][2] = "P400@example.com"  # person 400: an external id no one has, matched by email
    path = write(tmp_path / "people.csv", rows)
    (fast, fast_dump, fast_events), (slow, slow_dump, slow_events) = both_paths(tmp_path, clock, monkeypatch, path, existing)
    assert (fast.added, fast.updated, fast.problems) == (slow.added, slow.updated, slow.problems) == (596, 4, [])
    assert fast_dump == slow_dump
    assert fast_events == slow_events
    updated = {after.email: after for kind, batch in fast_events if kind == "updated" for _, after in batch}
    assert updated["p11@example.com"].name == "Person 11" and updated["p11@example.com"].tags == ("kept",)


def test_bad_rows_duplicates_and_empty_cells_as_the_row_path(tmp_path, clock, small_chunks, monkeypatch):
    rows = people(500)
    rows[3][5] = "Prospect"                 # not a stage (case matters)
    rows[40][2] = "not-an-email"
    rows[41][1] = ""                        # a new customer without a name
    rows[120][0] = rows[20][0]              # the same external id as an earlier row
    rows[121][0], rows[121][2] = "", rows[22][2] or "p23@example.com"
    rows[22][2] = rows[121][2]              # no external id, the email of an earlier row
    rows[300][3] = "12"                     # too few digits for a phone
    rows[301] = ["", "", "", "", "", "", ""]  # a line of empty cells is no row
    rows[450][6] = "huge"
    path = write(tmp_path / "bad.csv", rows)
    (fast, fast_dump, _), (slow, slow_dump, _) = both_paths(tmp_path, clock, monkeypatch, path)
    assert isinstance(fast, ImportRefused) and isinstance(slow, ImportRefused)
    assert fast.problems == slow.problems
    assert [(p.row, p.field) for p in fast.problems] == [
        (5, "stage"), (42, "email"), (43, "name"), (122, "external_id"), (123, "email"), (302, "phone"), (452, "size"),
    ]
    assert fast_dump == slow_dump and fast_dump["customers"] == []  # refused: nothing written

    monkeypatch.undo()  # pyarrow back for the columnar run
    monkeypatch.setattr(columnar, "CHUNK_BYTES", 1024)
    (tmp_path / "skip").mkdir()
    (fast, fast_dump, fast_events), (slow, slow_dump, slow_events) = both_paths(
        tmp_path / "skip", clock, monkeypatch, path, skip_invalid=True)
    assert (fast.added, fast.skipped, fast.rows) == (slow.added, slow.skipped, slow.rows) == (492, 7, 499)
    assert fast.problems == slow.problems
    assert fast_dump == slow_dump
    assert fast_events == slow_events


def test_a_name_already_in_the_file_by_email_of_a_row_with_an_external_id(tmp_path, clock, small_chunks, monkeypatch):
    """Keys met in a chunk checked by column are duplicates for a later chunk checked by row."""
    rows = people(400)
    rows[350][0], rows[350][2] = "", "p2@example.com"  # person 2 (row 3) has an external id and this email
    rows[351][1] = 'Quoted, "here"'                  # sends its chunk to the row path
    path = write(tmp_path / "dup.csv", rows)
    (fast, fast_dump, _), (slow, slow_dump, _) = both_paths(tmp_path, clock, monkeypatch, path, skip_invalid=True)
    assert fast.problems == slow.problems
    assert [(p.row, p.field, p.reason) for p in fast.problems] == [
        (352, "email", "duplicate: row 3 has the same email and no external_id tells them apart"),
    ]
    assert fast_dump == slow_dump


def test_cli_refuses_a_bad_file_with_one_error_line_and_writes_nothing(tmp_path, small_chunks):
    crm_file = tmp_path / "crm.db"
    crmkit.open(crm_file, plugins=[]).close()
    rows = people(200)
    rows[150][2] = "broken@"
    path = write(tmp_path / "bad.csv", rows)
    result = CliRunner().invoke(make_cli(), ["import", str(crm_file), str(path), "--kind", "customers"], env={"CRMKIT_PLUGINS": ""})
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert errors == ["Error: import refused: 1 problem(s) in 1 row(s) (rows 152); nothing was imported"], result.output
    assert "row 152, email 'broken@': an email address like name@example.com" in result.output
    with crmkit.open(crm_file, plugins=[]) as crm:
        assert crm.customers.count() == 0
        assert crm.db.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 0


def test_a_large_load_of_new_customers_keeps_every_index(crm_path, clock):
    """From DEFER_INDEXES new customers the indexes are built again at the end: all of them, as before."""
    crm = open_crm(crm_path, clock)
    before = sorted(crm.db.index_definitions(("customers",)))
    count = columnar.DEFER_INDEXES + 5
    rows = [[f"L{n:06d}", f"Load {n}", f"l{n}@example.com", "", "", "", ""] for n in range(count)]
    result = import_file(crm, write(crm_path.parent / "large.csv", rows), kind="customers")
    assert (result.added, result.problems) == (count, [])
    assert sorted(crm.db.index_definitions(("customers",))) == before
    found = crm.customers.find(email="L777@EXAMPLE.com")
    assert [(c.external_id, c.name) for c in found] == [("L000777", "Load 777")]
    crm.close()


def test_upsert_many_refuses_a_row_that_is_not_a_dict(fresh_crm):
    """Only the import hands checked tuples to upsert_checked; upsert_many checks every row."""
    with pytest.raises(crmkit.ValidationError, match="row 2"):
        fresh_crm.customers.upsert_many([{"name": "Ann"}, ("X1", "Bo")])
    assert fresh_crm.customers.count() == 0


def test_a_customers_csv_import_does_not_load_pandas(tmp_path, row_path_below_bytes):
    """pyarrow imports pandas (a quarter of a second, about 45 MB) the first time it is handed a
    Python value; a customers import by column never needs it, at any size."""
    import subprocess
    import sys

    crm_file = tmp_path / "crm.db"
    crmkit.open(crm_file).close()
    rows = people(row_path_below_bytes // 50)
    path = write(tmp_path / "people.csv", rows)
    assert path.stat().st_size > row_path_below_bytes
    code = (
        "import sys\nfrom crmkit.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit as done:\n    assert not done.code, done.code\n"
        "print(sorted(m for m in ('pyarrow', 'pandas') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "import", str(crm_file), str(path), "--kind", "customers"],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert f"Imported {len(rows)} customers from {path}: {len(rows)} added, 0 updated." in done.stdout
    assert done.stdout.splitlines()[-1] == "['pyarrow']"  # read by column, without pandas
    with crmkit.open(crm_file) as crm:
        assert crm.customers.count() == len(rows)
        stored = crm.db.execute("SELECT phone_norm, stage FROM customers WHERE external_id = 'X00041'").fetchone()
        assert tuple(stored) == ("+442079460041", "prospect")
