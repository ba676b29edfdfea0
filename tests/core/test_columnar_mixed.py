"""The columnar import of a real history file: plain kinds mixed with kinds whose ``data`` is
validated (survey, referral) and rows carrying quoted JSON ``data`` (as ``crmkit export`` writes
them). The plain rows of each chunk are read by column, the others row by row, and the CRM ends
up exactly as the row path leaves it."""

from __future__ import annotations

import csv
import json
from decimal import Decimal

import pytest

import crmkit
from crmkit import ImportRefused, hookimpl
from crmkit import columnar, importing
from crmkit.importing import import_file

pytest.importorskip("pyarrow")

# The columns of `crmkit export --kind interactions`.
HEADER = ["id", "customer_id", "kind", "channel", "occurred_at", "amount", "product", "category", "rep", "notes", "data",
          "recorded_at"]
VALIDATED = {"survey", "referral"}


class Recorder:
    """A plugin noting every record it hears of, in order: (id, customer, kind, data)."""

    name = "recorder"

    def __init__(self):
        self.seen = []
        self.batches = 0

    @hookimpl
    def crmkit_interactions_recorded(self, crm, interactions):
        self.batches += 1
        self.seen += [(i.id, i.customer_id, i.kind, i.amount, dict(i.data)) for i in interactions]


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of about 4 kB, so that the file has many, each mixed."""
    monkeypatch.setattr(columnar, "CHUNK_BYTES", 4096)


@pytest.fixture
def row_path_calls(monkeypatch):
    """How many rows went through the row path's checks (its per-row converter)."""
    calls = []
    convert = importing._Checker._interaction_values

    def counted(self, row):
        calls.append(row.number)
        return convert(self, row)

    monkeypatch.setattr(importing._Checker, "_interaction_values", counted)
    return calls


def open_crm(path, clock, plugins=()):
    crm = crmkit.open(path, plugins=list(plugins), clock=clock)
    crm.customers.add_many([{"name": f"P{i}", "external_id": f"C{i}"} for i in range(1, 21)])
    return crm


def history(count: int) -> list[dict]:
    """Rows as an export writes them: a purchase, contacts, complaints with and without data,
    feedback, surveys (validated: score 1-5) with and without a score, referrals (validated)."""
    rows = []
    for n in range(count):
        kind = ("purchase", "email", "purchase", "complaint", "survey", "call", "feedback", "purchase", "referral",
                "complaint", "survey", "refund")[n % 12]
        data = {}
        if kind == "complaint" and n % 24 == 3:
            data = {"category": "delivery delay", "severity": "high"}
        elif kind == "feedback":
            data = {"topic": f"idea {n}"}
        elif kind == "survey" and n % 24 == 4:
            data = {"score": 1 + n % 5}
        elif kind == "referral":
            data = {"referred_customer_id": 1 + n % 20}
        money = kind in ("purchase", "refund")
        rows.append({
            "id": str(n + 1), "customer_id": str(1 + n % 20), "kind": kind, "channel": ["email", "phone", "web"][n % 3],
            "occurred_at": f"2024-{1 + n % 12:02d}-{1 + n % 28:02d}T{n % 24:02d}:{n % 60:02d}:07Z",
            "amount": f"{n % 400}.{n % 100:02d}" if money else "", "product": f"Item {n % 7}" if money else "",
            "category": "books" if money else "", "rep": f"rep-{n % 3}" if n % 5 else "",
            "notes": f"note {n}" if kind in ("complaint", "call") else "",
            "data": json.dumps(data) if data else "", "recorded_at": "2024-12-31T00:00:00Z",
        })
    return rows


def write(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, HEADER, lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def row_path_rows(rows) -> list[int]:
    """The file rows (line numbers) the columnar path cannot vouch for: a validated kind, or a
    quoted cell (the JSON data)."""
    return [n for n, row in enumerate(rows, start=2) if row["kind"] in VALIDATED or row["data"]]


def dump(crm) -> dict[str, list]:
    """Every table's rows, sorted (but the migrations' log, with the wall-clock time each ran)."""
    return {
        table: sorted((tuple(r) for r in crm.db.execute(f"SELECT * FROM {table}")), key=repr)
        for table in crm.db.table_names() if "migrations" not in table
    }


def expected_interactions(rows) -> list[tuple]:
    """The stored rows, computed here from the file: ids in file order, exact cents, data as JSON."""
    return [
        (n, int(row["customer_id"]), row["kind"], row["occurred_at"],
         int(Decimal(row["amount"]) * 100) if row["amount"] else None, row["notes"] or None,
         json.loads(row["data"]) if row["data"] else None)
        for n, row in enumerate(rows, start=1)
    ]


def stored(crm) -> list[tuple]:
    return [
        (i, c, k, t, a, notes, json.loads(d) if d else None)
        for i, c, k, t, a, notes, d in crm.db.execute(
            "SELECT id, customer_id, kind, occurred_at, amount, notes, data FROM interactions ORDER BY id")
    ]


def test_a_mixed_history_file_takes_the_columnar_path_and_stores_what_the_row_path_stores(
    tmp_path, clock, small_chunks, row_path_calls, monkeypatch,
):
    rows = history(600)
    path = write(tmp_path / "history.csv", rows)
    fast_events = Recorder()
    crm = open_crm(tmp_path / "fast.db", clock, [fast_events])
    fast = import_file(crm, path, kind="interactions")
    assert (fast.added, fast.rows, fast.problems) == (600, 600, [])
    # Only the rows of validated kinds and those with quoted data went row by row.
    assert sorted(row_path_calls) == row_path_rows(rows)
    assert len(row_path_calls) < len(rows) / 2
    assert stored(crm) == expected_interactions(rows)
    fast_dump = dump(crm)
    crm.close()

    row_path_calls.clear()
    monkeypatch.setattr(columnar, "_pyarrow", lambda: None)
    slow_events = Recorder()
    crm = open_crm(tmp_path / "slow.db", clock, [slow_events])
    slow = import_file(crm, path, kind="interactions")
    assert len(row_path_calls) == 600
    assert (slow.added, slow.rows, slow.problems, slow.columns) == (fast.added, fast.rows, [], fast.columns)
    assert dump(crm) == fast_dump
    crm.close()
    # Plugins hear of every row once, in file order, in batches (one per chunk on the columnar path).
    assert fast_events.seen == slow_events.seen
    assert fast_events.batches > 5


def test_a_bad_survey_in_the_middle_refuses_the_file_and_is_skipped_alone(tmp_path, clock, small_chunks, monkeypatch):
    rows = history(600)
    bad = next(n for n in range(300, 600) if rows[n]["kind"] == "survey")
    rows[bad]["data"] = json.dumps({"score": 9})
    path = write(tmp_path / "history.csv", rows)
    report = tmp_path / "problems.csv"
    crm = open_crm(tmp_path / "fast.db", clock)
    before = dump(crm)
    with pytest.raises(ImportRefused) as refused:
        import_file(crm, path, kind="interactions", report=report)
    assert [(p.row, p.column, p.field, p.value) for p in refused.value.problems] == [
        (bad + 2, "data", "data", json.dumps({"score": 9})),
    ]
    assert dump(crm) == before  # nothing written
    with open(report, newline="", encoding="utf-8") as handle:
        assert [r["row"] for r in csv.DictReader(handle)] == [str(bad + 2)]

    skipped = import_file(crm, path, kind="interactions", skip_invalid=True)
    assert (skipped.added, skipped.skipped, [p.row for p in skipped.problems]) == (599, 1, [bad + 2])
    good = rows[:bad] + rows[bad + 1:]
    assert stored(crm) == expected_interactions(good)
    fast_dump = dump(crm)
    crm.close()

    monkeypatch.setattr(columnar, "_pyarrow", lambda: None)
    crm = open_crm(tmp_path / "slow.db", clock)
    with pytest.raises(ImportRefused) as slow_refused:
        import_file(crm, path, kind="interactions")
    assert slow_refused.value.problems == refused.value.problems
    slow = import_file(crm, path, kind="interactions", skip_invalid=True)
    assert slow.problems == skipped.problems
    assert dump(crm) == fast_dump
    crm.close()


def test_times_that_roll_over_are_refused_as_the_row_path_refuses_them(tmp_path, clock, small_chunks, monkeypatch):
    """A day past the month's end or a 60th second is a bad row, never the next day or minute."""
    rows = history(300)
    rows[96]["occurred_at"] = "2023-02-29T10:00:00Z"  # purchases: rows the columnar path reads
    rows[194]["occurred_at"] = "2024-06-30T23:59:60Z"
    rows[247]["occurred_at"] = "2024-04-31"
    assert {rows[n]["kind"] for n in (96, 194, 247)} == {"purchase"}
    path = write(tmp_path / "history.csv", rows)
    crm = open_crm(tmp_path / "fast.db", clock)
    with pytest.raises(ImportRefused) as fast:
        import_file(crm, path, kind="interactions")
    assert [(p.row, p.field) for p in fast.value.problems] == [(98, "occurred_at"), (196, "occurred_at"), (249, "occurred_at")]
    assert crm.interactions.count() == 0
    crm.close()
    monkeypatch.setattr(columnar, "_pyarrow", lambda: None)
    crm = open_crm(tmp_path / "slow.db", clock)
    with pytest.raises(ImportRefused) as slow:
        import_file(crm, path, kind="interactions")
    assert slow.value.problems == fast.value.problems
    crm.close()


def test_blank_lines_formula_guards_and_stray_quotes_in_a_mixed_chunk(tmp_path, clock, small_chunks, monkeypatch):
    """Lines the row path reads whole chunks for elsewhere (a blank line, an export's formula
    guard, a line of empty cells) are read row by row inside a columnar chunk, same result."""
    rows = history(400)
    rows[43]["notes"] = "'=1+2"  # the export's guard (a purchase): stored as =1+2
    rows[41]["notes"] = "it's fine"
    path = write(tmp_path / "history.csv", rows)
    lines = path.read_bytes().split(b"\r\n")
    lines.insert(100, b"")  # a blank line
    lines.insert(200, b",,,,,,,,,,,")  # a line of empty cells
    path.write_bytes(b"\r\n".join(lines))
    broken = tmp_path / "broken.csv"
    broken_lines = list(lines)
    assert b"note" in broken_lines[300]
    broken_lines[300] = broken_lines[300].replace(b"note", b'no"te')  # a quote inside an unquoted cell
    broken.write_bytes(b"\r\n".join(broken_lines))

    def refuses_broken(name):
        crm = open_crm(tmp_path / name, clock)
        with pytest.raises(crmkit.CrmError, match="line 301: a quote inside an unquoted cell"):
            import_file(crm, broken, kind="interactions")
        assert crm.interactions.count() == 0
        crm.close()

    refuses_broken("broken-fast.db")
    crm = open_crm(tmp_path / "fast.db", clock)
    fast = import_file(crm, path, kind="interactions")
    assert (fast.added, fast.problems) == (400, [])
    assert crm.db.execute("SELECT notes FROM interactions WHERE id = 44").fetchone()[0] == "=1+2"
    fast_dump = dump(crm)
    crm.close()
    monkeypatch.setattr(columnar, "_pyarrow", lambda: None)
    refuses_broken("broken-slow.db")
    crm = open_crm(tmp_path / "slow.db", clock)
    slow = import_file(crm, path, kind="interactions")
    assert (slow.added, slow.rows) == (fast.added, fast.rows)
    assert dump(crm) == fast_dump
    crm.close()
