"""The columnar path of a JSON lines import (crmkit/columnar_json.py) against the row path and by hand.

Each comparison imports the same file into CRMs holding the same customers: once as it comes
(plain lines checked by column) and once with pyarrow hidden (the row path throughout), and
compares every table, the events plugins heard and the problem report. The stored rows of good
files are also computed here from the objects written, and the lines that went row by row are
counted (``_Checker.check`` sees only those).
"""

from __future__ import annotations

import codecs
import json
from decimal import Decimal

import pytest
from click.testing import CliRunner

import crmkit
from crmkit import ImportRefused, hookimpl
from crmkit import columnar, columnar_json, importing
from crmkit.cli import make_cli
from crmkit.importing import import_file

pytest.importorskip("pyarrow")
pytest.importorskip("msgspec")

CATEGORIES = ("books", "garden", "Küche")


class Recorder:
    """A plugin noting every interaction and customer it hears of, in order."""

    name = "recorder"

    def __init__(self):
        self.seen = []
        self.batches = 0

    @hookimpl
    def crmkit_interactions_recorded(self, crm, interactions):
        self.batches += 1
        self.seen += [(i.id, i.customer_id, i.kind, i.amount, i.channel, dict(i.data)) for i in interactions]

    @hookimpl
    def crmkit_customers_added(self, crm, customers):
        self.seen.append(("added", [(c.id, c.name, c.email) for c in customers]))

    @hookimpl
    def crmkit_customers_updated(self, crm, changes):
        self.seen.append(("updated", [(c.before.id, c.after.name) for c in changes]))


@pytest.fixture
def row_by_row(monkeypatch):
    """The line numbers of the rows the row path checked, in the order it checked them."""
    lines = []
    check = importing._Checker.check

    def counted(self, batch):
        lines.extend(row.number for row in batch)
        return check(self, batch)

    monkeypatch.setattr(importing._Checker, "check", counted)
    return lines


def line(obj: dict) -> str:
    """One JSON line; a Decimal is written as the JSON number it spells (json.dumps cannot)."""
    return "{" + ", ".join(
        f"{json.dumps(k)}: {v if isinstance(v, Decimal) else json.dumps(v, ensure_ascii=False)}" for k, v in obj.items()
    ) + "}"


def write(path, objects, *, bom=False, newline="\n"):
    """Objects (or ready-made line texts) as JSON lines."""
    text = newline.join(o if isinstance(o, str) else line(o) for o in objects) + newline
    path.write_bytes((codecs.BOM_UTF8 if bom else b"") + text.encode("utf-8"))
    return path


def open_crm(path, clock, plugins=()):
    crm = crmkit.open(path, plugins=list(plugins), clock=clock)
    if not crm.customers.count():
        crm.customers.add_many([{"name": f"P{i}", "external_id": f"C{i}", "email": f"p{i}@example.com"} for i in range(1, 21)])
    return crm


def purchases(count: int) -> list[dict]:
    """Purchases naming their customer by external id, id (number or text) or email; amounts as
    JSON numbers (with and without a fraction) or text; a channel given, null, empty or absent;
    keys that feed no field (as an export writes them); ``data`` empty."""
    objects = []
    for n in range(count):
        customer = 1 + n % 20
        reference = [("customer_external_id", f"C{customer}"), ("customer_id", customer), ("customer_id", str(customer)),
                     ("customer_email", f"P{customer}@Example.com")][n % 4]
        amount = [Decimal(f"{n % 997}.{n % 100:02d}"), n % 50, f"{n % 300}.{n % 10}0"][n % 3]
        obj = {"id": n + 1, reference[0]: reference[1], "kind": "purchase",
               "occurred_at": f"2024-{1 + n % 12:02d}-{1 + n % 28:02d}" if n % 5 else f"2024-03-{1 + n % 28:02d}T{n % 24:02d}:15:00Z",
               "amount": amount, "category": CATEGORIES[n % 3]}
        if n % 4 == 0:
            obj["channel"] = "web"
        elif n % 4 == 1:
            obj["channel"] = None
        elif n % 4 == 2:
            obj["channel"] = ""
        if n % 6 == 0:
            obj["data"] = {}
        obj["recorded_at"] = "2024-12-31T00:00:00Z"
        objects.append(obj)
    return objects


def expected(objects) -> list[tuple]:
    """The stored rows, worked out here from the objects: ids in file order, customer ids from the
    reference (C7, 7, "7" and p7@... are customer 7), exact cents, midnight UTC for a date."""
    rows = []
    for n, obj in enumerate(objects, start=1):
        reference = obj.get("customer_id") or obj.get("customer_external_id") or obj["customer_email"]
        customer = int(str(reference).lower().removeprefix("c").removeprefix("p").split("@")[0])
        when = obj["occurred_at"] if "T" in obj["occurred_at"] else obj["occurred_at"] + "T00:00:00Z"
        amount = obj.get("amount")
        cents = None if amount is None else int(Decimal(str(amount)) * 100)
        data = obj.get("data") or None
        category = obj.get("category")
        rows.append((n, customer, obj["kind"], obj.get("channel") or None, when, cents, None if category is None else str(category),
                     obj.get("notes"), json.dumps(data, sort_keys=True) if data else None))
    return rows


STORED = "id, customer_id, kind, channel, occurred_at, amount, category, notes, data"


def stored(crm) -> list[tuple]:
    return [tuple(r) for r in crm.db.execute(f"SELECT {STORED} FROM interactions ORDER BY id")]


def dump(crm) -> dict[str, list]:
    """Every table's rows, sorted (but the migrations' log, with the wall-clock time each ran)."""
    return {
        table: sorted((tuple(r) for r in crm.db.execute(f"SELECT * FROM {table}")), key=repr)
        for table in crm.db.table_names() if "migrations" not in table
    }


_PYARROW = columnar._pyarrow


def recording_crm(path, clock):
    """(crm, recorder): a CRM with its 20 customers and a Recorder that has heard nothing yet."""
    recorder = Recorder()
    crm = open_crm(path, clock, [recorder])
    recorder.seen.clear()
    return crm, recorder


def by_row_path(monkeypatch):
    """From here on every import takes the row path (pyarrow hidden, as where it is not installed)."""
    monkeypatch.setattr(columnar, "_pyarrow", lambda: None)


def both(tmp_path, clock, monkeypatch, path, kind="interactions", counted=None, **options):
    """[(result or refusal, dump, events, lines the row path checked)] of the columnar import of
    ``path``, then the row path's (``counted``: the ``row_by_row`` fixture's list)."""
    out = []
    for name in ("columnar", "rows"):
        if name == "rows":
            by_row_path(monkeypatch)
        crm, recorder = recording_crm(tmp_path / f"{name}.db", clock)
        mark = len(counted) if counted is not None else 0
        try:
            result = import_file(crm, path, kind=kind, **options)
        except ImportRefused as refused:
            result = refused
        out.append((result, dump(crm), recorder.seen, None if counted is None else counted[mark:]))
        crm.close()
    return out


def test_plain_lines_are_stored_as_worked_out_by_hand(crm_path, clock, small_chunks, row_by_row):
    crm, recorder = recording_crm(crm_path, clock)
    objects = purchases(500)
    path = write(crm_path.parent / "p.jsonl", objects)
    result = import_file(crm, path, kind="interactions")
    assert (result.added, result.rows, result.problems) == (500, 500, [])
    assert row_by_row == []  # every line checked by column
    assert stored(crm) == expected(objects)
    assert result.columns == {"customer_external_id": "customer_external_id", "kind": "kind", "occurred_at": "occurred_at",
                              "amount": "amount", "category": "category", "channel": "channel", "data": "data",
                              "customer_id": "customer_id", "customer_email": "customer_email"}
    assert result.ignored_columns == ("id", "recorded_at")
    assert recorder.batches > 5  # one event per chunk
    assert [seen[0] for seen in recorder.seen] == list(range(1, 501))
    crm.close()


def test_plain_lines_store_what_the_row_path_stores(tmp_path, clock, small_chunks, monkeypatch):
    path = write(tmp_path / "p.jsonl", purchases(700), bom=True, newline="\r\n")
    (fast, fast_dump, fast_seen, _), (slow, slow_dump, slow_seen, _) = both(tmp_path, clock, monkeypatch, path)
    assert (fast.added, fast.rows, fast.problems) == (slow.added, slow.rows, slow.problems) == (700, 700, [])
    assert (fast.columns, fast.ignored_columns) == (slow.columns, slow.ignored_columns)
    assert fast_dump == slow_dump  # interactions, summary, audit, plugins' tables
    assert fast_seen == slow_seen


BROKEN = '{"customer_id": 1, "kind": "purchase", "occurred_at": '


def bad_file(tmp_path):
    """A file of plain purchases with bad and odd lines (the line numbers the report names)."""
    objects: list = purchases(300)
    objects[9]["amount"] = Decimal("12.345")                    # line 10: more decimals than cents
    objects[40]["amount"] = "ten"                               # line 41
    objects[41]["amount"] = Decimal("-5.00")                    # line 42: a negative purchase
    objects[80] = {"customer_external_id": "C99", "kind": "purchase", "occurred_at": "2024-05-01", "amount": 1}  # line 81
    objects[120]["occurred_at"] = "2024-02-30"                  # line 121: no such day
    objects[121]["occurred_at"] = 20240501                      # line 122: a number where a time is wanted
    objects[122]["category"] = 5                                # line 123: a number for a text: stored as "5"
    objects[123]["channel"] = True                              # line 124: a boolean for a text: stored as "true"
    objects[124]["data"] = {"order": "A-1", "lines": [1, 2]}    # line 125: nested data, stored
    objects[125] = {"customer_id": 3, "kind": "survey", "occurred_at": "2024-06-01", "data": {"score": 9}}  # line 126
    objects[126]["category"] = {"name": "books"}                # line 127: an object for a text
    objects[160] = ""                                           # line 161: blank
    objects[161] = "   "                                        # line 162: blank
    objects[200] = BROKEN                                       # line 201: broken
    objects[201] = "[1, 2]"                                     # line 202: not an object
    objects[202] = '{"customer_id": 1, "kind": "call", "occurred_at": "2024-01-01", "amount": NaN}'  # line 203
    return write(tmp_path / "bad.jsonl", objects, bom=True)


BAD = [  # (row, field, value, reason) worked out from the row path's rules
    (10, "amount", "12.345", "at most 2 decimal places"),
    (41, "amount", "ten", "a number"),
    (42, "amount", "-5.00", "zero or more"),
    (81, "customer_external_id", "C99", "no customer has this external id (--create-customers adds one)"),
    (121, "occurred_at", "2024-02-30", "an ISO-8601 date or time like 2024-05-01"),
    (122, "occurred_at", "20240501", "a datetime, a date or ISO-8601 text"),
    (126, "data", '{"score": 9}', "a number from 1 to 5"),  # the line's data, named as the row has it
    (127, "category", '{"name": "books"}', "a single value, not a list or object"),
    # The value is wanted past the line's end and its newline: character len + 2, counted from 1.
    (201, "", "", f"not valid JSON (Expecting value at character {len(BROKEN) + 2})"),
    (202, "", "", 'not a JSON object; each line must be one object like {"name": "Ada"}'),
    (203, "amount", "NaN", "a finite number"),
]


def test_bad_lines_are_reported_as_the_row_path_reports_them_and_nothing_is_written(tmp_path, clock, small_chunks, monkeypatch):
    path = bad_file(tmp_path)
    (fast, fast_dump, fast_seen, _), (slow, slow_dump, _, _) = both(tmp_path, clock, monkeypatch, path)
    assert isinstance(fast, ImportRefused) and isinstance(slow, ImportRefused)
    assert fast.problems == slow.problems
    got = [(p.row, p.field, p.value, p.reason) for p in fast.problems]
    assert [g[:3] for g in got] == [b[:3] for b in BAD]
    assert all(reason in g[3] for g, (*_, reason) in zip(got, BAD))
    assert fast_dump == slow_dump and fast_seen == []
    with crmkit.open(tmp_path / "columnar.db", plugins=[], clock=clock) as crm:
        assert crm.interactions.count() == 0
        assert crm.db.execute("SELECT count(*) FROM audit_log WHERE action = 'import.run'").fetchone()[0] == 0


def test_bad_lines_skipped_as_the_row_path_skips_them(tmp_path, clock, small_chunks, monkeypatch):
    path = bad_file(tmp_path)
    (fast, fast_dump, fast_seen, _), (slow, slow_dump, slow_seen, _) = both(tmp_path, clock, monkeypatch, path, skip_invalid=True)
    assert (fast.added, fast.skipped, fast.rows) == (slow.added, slow.skipped, slow.rows) == (300 - 2 - 11, 11, 300 - 2)
    assert fast.problems == slow.problems
    assert fast_dump == slow_dump
    assert fast_seen == slow_seen
    with crmkit.open(tmp_path / "columnar.db", plugins=[], clock=clock) as crm:
        assert crm.db.execute("SELECT count(*) FROM interactions WHERE category = '5'").fetchone()[0] == 1
        assert crm.db.execute("SELECT count(*) FROM interactions WHERE channel = 'true'").fetchone()[0] == 1
        assert json.loads(crm.db.execute("SELECT data FROM interactions WHERE data LIKE '%A-1%'").fetchone()[0]) == {
            "lines": [1, 2], "order": "A-1"}


def test_a_mix_of_plain_and_other_lines_goes_row_by_row_only_for_the_others(tmp_path, clock, small_chunks, monkeypatch, row_by_row):
    objects: list = purchases(600)
    others = []
    for n in range(3, 600, 7):
        variant = n // 7 % 6
        if variant == 0:
            objects[n]["data"] = {"gift": True}                         # nested data
        elif variant == 1:
            objects[n]["data.coupon"] = "SPRING"                        # a key feeding one data key
        elif variant == 2:
            objects[n] = {"customer_id": 1 + n % 20, "kind": "survey", "occurred_at": "2024-07-01", "data": {"score": 4}}
        elif variant == 3:
            objects[n]["category"] = 42                                 # a number where a text is wanted
        elif variant == 4:
            objects[n]["customer_name"] = "Someone"                     # a field only the row path reads
        else:
            objects[n]["notes"] = ["a", "list"]                         # a bad row
            continue
        others.append(n + 1)
    bad = [n + 1 for n in range(3, 600, 7) if n // 7 % 6 == 5]
    path = write(tmp_path / "mixed.jsonl", objects)
    crm, recorder = recording_crm(tmp_path / "fast.db", clock)
    fast = import_file(crm, path, kind="interactions", skip_invalid=True)
    assert sorted(row_by_row) == sorted(others + bad)
    assert [p.row for p in fast.problems] == bad
    good = [o for n, o in enumerate(objects, start=1) if n not in bad]
    rows = expected(good)
    assert [r[:8] for r in stored(crm)] == [r[:8] for r in rows]
    assert fast.added == len(good)
    fast_dump = dump(crm)
    crm.close()
    by_row_path(monkeypatch)
    crm, slow_recorder = recording_crm(tmp_path / "slow.db", clock)
    slow = import_file(crm, path, kind="interactions", skip_invalid=True)
    assert (slow.added, slow.problems, slow.columns, slow.ignored_columns) == (fast.added, fast.problems, fast.columns, fast.ignored_columns)
    assert dump(crm) == fast_dump
    assert slow_recorder.seen == recorder.seen
    crm.close()


def test_an_external_key_sends_the_whole_file_to_the_row_path(tmp_path, clock, small_chunks, monkeypatch, row_by_row):
    """Keys are known only as lines are read: one met late starts the check again, row by row."""
    objects = purchases(300)
    for n in range(250, 300, 5):
        objects[n]["external_key"] = f"order-{n}"
    path = write(tmp_path / "keyed.jsonl", objects)
    crm, recorder = recording_crm(tmp_path / "fast.db", clock)
    first = import_file(crm, path, kind="interactions")
    assert sorted(row_by_row) == list(range(1, 301))  # every line once, by the row path
    again = import_file(crm, path, kind="interactions")
    assert (first.added, again.added, again.already_recorded) == (300, 290, 10)
    fast_dump = dump(crm)
    crm.close()
    by_row_path(monkeypatch)
    crm, slow_recorder = recording_crm(tmp_path / "slow.db", clock)
    results = [import_file(crm, path, kind="interactions") for _ in range(2)]
    assert [(r.added, r.already_recorded, r.columns) for r in results] == [
        (first.added, first.already_recorded, first.columns), (again.added, again.already_recorded, again.columns)]
    assert dump(crm) == fast_dump
    assert slow_recorder.seen == recorder.seen
    crm.close()


def test_an_export_imports_back_by_column(tmp_path, clock, small_chunks, row_by_row, monkeypatch):
    """crmkit export's JSON lines (ids, amounts as text, data {} or an object) import into another CRM."""
    source = open_crm(tmp_path / "source.db", clock)
    source.interactions.record_many(
        {"customer_id": 1 + n % 20, "kind": ["purchase", "call", "survey"][n % 3], "occurred_at": f"2024-05-{1 + n % 28:02d}",
         "amount": f"{n}.25" if n % 3 == 0 else None, "notes": f"n{n}" if n % 3 == 1 else None,
         "data": {"score": 1 + n % 5} if n % 3 == 2 else {}} for n in range(240))
    from crmkit.exporting import export_file

    path = tmp_path / "history.jsonl"
    export_file(source, path, "interactions")
    want = stored(source)
    source.close()
    (fast, fast_dump, fast_seen, by_row), (slow, slow_dump, slow_seen, _) = both(
        tmp_path, clock, monkeypatch, path, counted=row_by_row)
    assert (fast.added, fast.problems) == (slow.added, slow.problems) == (240, [])
    assert fast_dump == slow_dump and fast_seen == slow_seen
    assert sorted(by_row) == [n + 1 for n in range(240) if n % 3 == 2]  # the surveys (data validated)
    with crmkit.open(tmp_path / "columnar.db", plugins=[], clock=clock) as crm:
        assert stored(crm) == want


def test_without_msgspec_json_lines_take_the_row_path(tmp_path, clock, small_chunks, monkeypatch, row_by_row):
    monkeypatch.setattr(columnar_json, "_msgspec", lambda: None)
    assert not columnar_json.available()
    objects = purchases(120)
    crm = open_crm(tmp_path / "crm.db", clock)
    result = import_file(crm, write(tmp_path / "p.jsonl", objects), kind="interactions")
    assert result.added == 120 and sorted(row_by_row) == list(range(1, 121))
    assert stored(crm) == expected(objects)
    crm.close()


def test_cli_refuses_a_bad_file_with_one_error_line_and_writes_nothing(tmp_path, small_chunks):
    crm_file = tmp_path / "crm.db"
    crmkit.open(crm_file, plugins=[]).close()
    objects = purchases(200)
    for o in objects:
        o.pop("customer_external_id", None), o.pop("customer_email", None)
        o["customer_id"] = 1
    objects[150]["occurred_at"] = "2024-13-01"
    with crmkit.open(crm_file, plugins=[]) as crm:
        crm.customers.add(name="Ada")
    path = write(tmp_path / "bad.jsonl", objects)
    result = CliRunner().invoke(make_cli(), ["import", str(crm_file), str(path), "--kind", "interactions"], env={"CRMKIT_PLUGINS": ""})
    assert result.exit_code == 1
    errors = [text for text in result.output.splitlines() if text.startswith("Error:")]
    assert errors == ["Error: import refused: 1 problem(s) in 1 row(s) (rows 151); nothing was imported"], result.output
    assert "row 151, occurred_at '2024-13-01': an ISO-8601 date or time like 2024-05-01" in result.output
    with crmkit.open(crm_file, plugins=[]) as crm:
        assert crm.interactions.count() == 0


# --- customers -------------------------------------------------------------------------------

def people(count: int, start: int = 1) -> list[dict]:
    """New customers; keys absent, null or empty alike."""
    objects = []
    for n in range(start, start + count):
        obj = {"external_id": f"X{n:05d}", "name": f"Person {n}"}
        if n % 4:
            obj["email"] = f"person{n}@example.com"
        obj["phone"] = f"+44 20 7946 {n:04d}" if n % 3 else None
        obj["region"] = ["north", "south", ""][n % 3]
        if n % 4 != 2:
            obj["stage"] = ["new", "prospect", "", "growing"][n % 4]
        objects.append(obj)
    return objects


def test_new_customers_by_column_as_worked_out_by_hand(crm_path, clock, small_chunks, row_by_row):
    crm = crmkit.open(crm_path, plugins=[], clock=clock)
    objects = people(300)
    result = import_file(crm, write(crm_path.parent / "people.jsonl", objects), kind="customers")
    assert (result.added, result.updated, result.problems) == (300, 0, [])
    assert row_by_row == []
    now = "2025-01-01T09:00:00Z"
    want = []
    for n, o in enumerate(objects, start=1):
        phone = o["phone"]
        want.append((n, o["external_id"], o["name"], o.get("email"), phone,
                     "+" + "".join(ch for ch in phone if ch.isdigit()) if phone else None,
                     o["region"] or None, o.get("stage") or "new", "[]", "{}", now))
    got = crm.db.execute("SELECT id, external_id, name, email, phone, phone_norm, region, stage, tags, attributes, created_at "
                         "FROM customers ORDER BY id")
    assert [tuple(r) for r in got] == want
    crm.close()


def test_customers_store_what_the_row_path_stores(tmp_path, clock, small_chunks, monkeypatch, row_by_row):
    objects: list = people(900)
    objects[100]["name"] = "Zoë Ångström"
    objects[400]["tags"] = ["vip"]                       # a field only the row path reads: its chunk goes row by row
    objects[401]["phone"] = 442079460000                 # a number for a text
    objects[600] = {"external_id": "C3", "name": "Renamed"}  # an update of an existing customer
    objects[700]["email"] = "not-an-email"
    objects[701]["name"] = ""                            # a new customer without a name
    objects[750]["external_id"] = objects[20]["external_id"]  # a duplicate of an earlier line
    objects[800] = "{broken"
    path = write(tmp_path / "people.jsonl", objects)
    (fast, fast_dump, fast_seen, by_row), (slow, slow_dump, slow_seen, _) = both(
        tmp_path, clock, monkeypatch, path, kind="customers", counted=row_by_row, skip_invalid=True)
    assert [(p.row, p.field) for p in fast.problems] == [
        (701, "email"), (702, "name"), (751, "external_id"), (801, "")]
    assert fast.problems == slow.problems
    assert (fast.added, fast.updated, fast.rows) == (slow.added, slow.updated, slow.rows) == (895, 1, 900)
    assert fast_dump == slow_dump
    assert fast_seen == slow_seen
    # The chunks of the odd lines went row by row, whole; the others by column.
    assert {401, 402, 601, 701, 702, 751, 801} <= set(by_row)
    assert len(by_row) < 300


def test_a_refused_customers_file_writes_nothing(tmp_path, clock, small_chunks, monkeypatch):
    objects = people(400)
    objects[333]["size"] = "huge"
    path = write(tmp_path / "people.jsonl", objects)
    (fast, fast_dump, _, _), (slow, slow_dump, _, _) = both(tmp_path, clock, monkeypatch, path, kind="customers")
    assert isinstance(fast, ImportRefused) and fast.problems == slow.problems
    assert [(p.row, p.field, p.value) for p in fast.problems] == [(334, "size", "huge")]
    assert fast_dump == slow_dump
    assert sorted(r[2] for r in fast_dump["customers"]) == sorted(f"P{i}" for i in range(1, 21))  # only those there before


@pytest.mark.parametrize("first_id_line, problems", [
    (900, [(5, "customer_id"), (1010, "customer_id")]),  # the key is met within the row's batch of 1000
    (1005, [(5, ""), (1010, "customer_id")]),            # met only in the next batch: no column for row 5
])
def test_a_line_without_a_field_names_the_column_as_the_row_path_does(tmp_path, clock, small_chunks, monkeypatch,
                                                                      first_id_line, problems):
    """The row path names the key feeding a missing field as far as it has read: to the end of
    the row's batch of 1,000 rows. Read by column (chunks of a few lines), the report is the same."""
    objects: list = [{"customer_external_id": f"C{1 + n % 20}", "kind": "purchase", "occurred_at": "2024-05-01", "amount": 1}
                     for n in range(1200)]
    for line_number in (5, 1010):
        del objects[line_number - 1]["customer_external_id"]
    objects[first_id_line - 1] = {"customer_id": 3, "kind": "purchase", "occurred_at": "2024-05-01", "amount": 1}
    path = write(tmp_path / "refs.jsonl", objects)
    (fast, *_), (slow, *_) = both(tmp_path, clock, monkeypatch, path)
    assert [(p.row, p.column) for p in fast.problems] == problems
    assert {p.field for p in fast.problems} == {"customer_id"}
    assert fast.problems == slow.problems


def test_rows_dated_ahead_are_listed_once_when_their_chunk_goes_row_by_row(tmp_path, clock, small_chunks, monkeypatch):
    """A chunk whose times were read by column but which then goes row by row (a bad amount
    further on) lists its rows dated more than a day ahead once, as the row path lists them."""
    objects = purchases(60)
    for n in (3, 40):
        objects[n]["occurred_at"] = "2025-06-01"  # the clock says 2025-01-01: ahead
    objects[5]["amount"] = Decimal("1.005")   # the first chunk goes row by row
    jsonl = write(tmp_path / "ahead.jsonl", objects)
    csv_file = tmp_path / "ahead.csv"
    header = ["customer_external_id", "kind", "occurred_at", "amount"]
    csv_file.write_text("\n".join([",".join(header)] + [
        f"C{1 + n % 20},purchase,{o['occurred_at']},{o['amount']}" for n, o in enumerate(objects)]) + "\n", encoding="utf-8")
    for path, rows in ((jsonl, [4, 41]), (csv_file, [5, 42])):  # the CSV's header is line 1
        folder = tmp_path / path.suffix[1:]
        folder.mkdir()
        (fast, *_), (slow, *_) = both(folder, clock, monkeypatch, path, skip_invalid=True)
        assert fast.future_rows == slow.future_rows == tuple(rows)
        assert [p.row for p in fast.problems] == [rows[0] + 2]
        monkeypatch.setattr(columnar, "_pyarrow", _PYARROW)  # the columnar path back for the next file


def test_keys_of_a_line_only_the_row_path_reads_are_planned_where_it_meets_them(tmp_path, clock, small_chunks, monkeypatch):
    """A line msgspec refuses (NaN) but Python's json reads: its keys come first in the plan, as
    the row path meets them (ignored_columns in file order)."""
    objects: list = [{"customer_id": 1, "kind": "call", "occurred_at": "2024-01-01"} for _ in range(10)]
    objects[2] = '{"customer_id": 1, "kind": "call", "occurred_at": "2024-01-01", "score": NaN}'
    objects[3]["id"] = 4
    path = write(tmp_path / "nan.jsonl", objects)
    (fast, *_), (slow, *_) = both(tmp_path, clock, monkeypatch, path)
    assert fast.ignored_columns == slow.ignored_columns == ("score", "id")
    assert fast.added == slow.added == 10
