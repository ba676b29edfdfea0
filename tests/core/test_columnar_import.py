"""The columnar import path (crmkit/columnar.py) against hand-computed rows and the row path."""

from __future__ import annotations

import csv
from decimal import Decimal

import pytest

import crmkit
from crmkit import CrmError, ImportRefused, hookimpl
from crmkit import columnar
from crmkit.engine.errors import IntegrityError
from crmkit.importing import import_file

pytest.importorskip("pyarrow")

HEADER = ["customer_external_id", "occurred_at", "amount", "category", "channel"]
STORED = "customer_id, kind, channel, occurred_at, amount, category, data, external_key"


class Recorder:
    """A plugin noting each batch it hears of: (size, first id, last id, kinds)."""

    name = "recorder"

    def __init__(self):
        self.batches = []

    @hookimpl
    def crmkit_interactions_recorded(self, crm, interactions):
        self.batches.append((len(interactions), interactions[0].id, interactions[-1].id, {i.kind for i in interactions}))


def open_crm(path, clock, plugins=()):
    crm = crmkit.open(path, plugins=list(plugins), clock=clock)
    if not crm.customers.count():
        crm.customers.add_many([{"name": f"P{i}", "external_id": f"C{i}", "email": f"p{i}@example.com"} for i in range(1, 21)])
    return crm


def purchases(count: int) -> list[list[str]]:
    return [
        [f"C{1 + n % 20}", f"2024-{1 + n % 12:02d}-{1 + n % 28:02d}", f"{n % 997}.{n % 100:02d}" if n % 3 else str(n % 50),
         ["books", "garden", "Küche"][n % 3], "web" if n % 2 else ""]
        for n in range(count)
    ]


def write(path, rows, header=HEADER):
    with open(path, "w", newline="", encoding="utf-8") as out:
        csv.writer(out, lineterminator="\n").writerows([header] + rows)
    return path


def expected_rows(crm, rows) -> list[tuple]:
    """The stored rows, computed here from the file: exact cents, midnight UTC, ids by external id."""
    ids = {c.external_id: c.id for c in crm.customers.list(limit=100)}
    return [
        (ids[ext], "purchase", channel or None, f"{day}T00:00:00Z", int(Decimal(amount) * 100), category, None, None)
        for ext, day, amount, category, channel in rows
    ]


def stored(crm) -> list[tuple]:
    return [tuple(r) for r in crm.db.execute(f"SELECT {STORED} FROM interactions ORDER BY id")]


def test_plain_file_over_many_chunks_matches_the_hand_computed_rows(crm_path, clock, small_chunks):
    recorder = Recorder()
    crm = open_crm(crm_path, clock, [recorder])
    rows = purchases(500)
    result = import_file(crm, write(crm_path.parent / "p.csv", rows), kind="interactions", defaults={"kind": "purchase"})
    assert (result.added, result.rows, result.problems) == (500, 500, [])
    assert stored(crm) == expected_rows(crm, rows)
    # One event per chunk, covering every id once, in order.
    assert len(recorder.batches) > 5
    assert sum(size for size, *_ in recorder.batches) == 500
    assert [b[1] for b in recorder.batches][0] == 1 and recorder.batches[-1][2] == 500
    assert all(kinds == {"purchase"} for *_, kinds in recorder.batches)
    summary = crm.db.execute("SELECT sum(purchases), sum(net_spend) FROM customer_summary").fetchone()
    assert tuple(summary) == (500, sum(r[4] for r in expected_rows(crm, rows)))
    crm.close()


def test_same_result_as_the_row_path(crm_path, tmp_path, clock, small_chunks, monkeypatch):
    """References by id, external id and email, spaces and other spellings mixed in."""
    crm = open_crm(crm_path, clock)
    header = ["customer_id", "customer_external_id", "customer_email", "kind", "occurred_at", "amount", "notes"]
    rows = [
        ["", "C3", "", "purchase", "2024-05-01", "12.5", "plain"],
        ["4", "", "", "purchase", "2024-05-02T10:11:12Z", "7", ""],
        ["", "", "P5@Example.com", "note", "2024-05-03", "", "by email"],
        ["", "C6", "", "purchase", " 2024-05-04 ", "1 000.10", "spaced"],  # only the row path reads these
    ] * 40
    path = write(tmp_path / "mixed.csv", rows, header)
    fast = import_file(crm, path, kind="interactions")
    fast_rows = stored(crm)
    crm.close()
    monkeypatch.setattr(columnar, "_pyarrow", lambda: None)
    other = tmp_path / "other.db"
    crm = open_crm(other, clock)
    slow = import_file(crm, path, kind="interactions")
    assert (fast.added, fast.problems) == (slow.added, slow.problems) == (160, [])
    assert fast_rows == stored(crm)
    assert fast_rows[3][4] == 100010 and fast_rows[0][4] == 1250
    crm.close()


def test_bad_rows_are_reported_as_by_the_row_path_and_nothing_is_written(crm_path, clock, small_chunks, monkeypatch):
    crm = open_crm(crm_path, clock)
    rows = purchases(400)
    rows[37][2] = "12.345"   # too many decimals
    rows[211][0] = "C999"    # no such customer
    rows[399][1] = "2024-02-30"
    path = write(crm_path.parent / "bad.csv", rows)
    before = (crm.interactions.count(), crm.db.execute("SELECT count(*) FROM audit_log").fetchone()[0])
    with pytest.raises(ImportRefused) as fast:
        import_file(crm, path, kind="interactions", defaults={"kind": "purchase"})
    assert (crm.interactions.count(), crm.db.execute("SELECT count(*) FROM audit_log").fetchone()[0]) == before
    assert [(p.row, p.column, p.field) for p in fast.value.problems] == [
        (39, "amount", "amount"), (213, "customer_external_id", "customer_external_id"), (401, "occurred_at", "occurred_at"),
    ]
    monkeypatch.setattr(columnar, "_pyarrow", lambda: None)
    with pytest.raises(ImportRefused) as slow:
        import_file(crm, path, kind="interactions", defaults={"kind": "purchase"})
    assert fast.value.problems == slow.value.problems

    skipped = import_file(crm, path, kind="interactions", defaults={"kind": "purchase"}, skip_invalid=True)
    assert (skipped.added, skipped.skipped) == (397, 3)
    good = [r for n, r in enumerate(rows) if n not in (37, 211, 399)]
    assert stored(crm) == expected_rows(crm, good)  # file order kept across fast and row-path chunks
    crm.close()


@pytest.mark.parametrize("day", ["2023-02-29", "2024-04-31", "2024-13-01", "2024-00-10", "2024-01-00"])
def test_a_file_of_plain_dates_refuses_a_day_that_does_not_exist(crm_path, clock, small_chunks, monkeypatch, day):
    """Every time in the file a plain date (the columnar path's shortcut for them): a day the
    calendar lacks is the row path's problem at its row, and nothing is written."""
    crm = open_crm(crm_path, clock)
    rows = purchases(300)
    rows[150][1] = day
    path = write(crm_path.parent / "dates.csv", rows)
    with pytest.raises(ImportRefused) as fast:
        import_file(crm, path, kind="interactions", defaults={"kind": "purchase"})
    assert [(p.row, p.field, p.value) for p in fast.value.problems] == [(152, "occurred_at", day)]
    assert crm.interactions.count() == 0
    monkeypatch.setattr(columnar, "_pyarrow", lambda: None)
    with pytest.raises(ImportRefused) as slow:
        import_file(crm, path, kind="interactions", defaults={"kind": "purchase"})
    assert fast.value.problems == slow.value.problems
    crm.close()


def test_quoted_cells_and_broken_quotes_keep_their_line_numbers(crm_path, clock, small_chunks):
    crm = open_crm(crm_path, clock)
    rows = purchases(300)
    rows[150][3] = 'two\nlines, "quoted"'
    path = write(crm_path.parent / "q.csv", rows)
    result = import_file(crm, path, kind="interactions", defaults={"kind": "purchase"})
    assert result.added == 300
    assert crm.db.execute("SELECT category FROM interactions WHERE id = 151").fetchone()[0] == 'two\nlines, "quoted"'
    broken = crm_path.parent / "broken.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[250] = 'C1,2024-01-01,1.00,"never closed,web\n'
    broken.write_text("".join(lines), encoding="utf-8")
    count = crm.interactions.count()
    with pytest.raises(CrmError, match="line 251: a quoted cell opened here is never closed"):
        import_file(crm, broken, kind="interactions", defaults={"kind": "purchase"})
    assert crm.interactions.count() == count
    crm.close()


def mixed_purchases(count: int) -> list[list[str]]:
    """Purchases with, now and then, a cell the row path reads (a comma and quotes), and one
    with a line break (its chunk goes the row path whole)."""
    rows = purchases(count)
    for n in range(7, count, 23):
        rows[n][3] = 'home, "garden"'
    rows[30][3] = "two\nlines"
    return rows


def test_the_write_pass_writes_the_rows_the_check_pass_read(crm_path, clock, small_chunks, monkeypatch):
    """The rows checked are the rows written, in file order, with the cells the row path read
    among them: a file changed once it has been checked is not read again."""
    crm = open_crm(crm_path, clock)
    rows = mixed_purchases(400)
    path = write(crm_path.parent / "p.csv", rows)
    check = columnar.ColumnarImport.check

    def check_then_change_the_file(self, progress):
        check(self, progress)
        write(path, [["C1", "2020-01-01", "1.00", "other", ""]] * 3)

    monkeypatch.setattr(columnar.ColumnarImport, "check", check_then_change_the_file)
    result = import_file(crm, path, kind="interactions", defaults={"kind": "purchase"})
    assert (result.added, result.problems) == (400, [])
    assert stored(crm) == expected_rows(crm, rows)
    crm.close()


@pytest.mark.parametrize("large", [False, True], ids=["small load", "large load"])
def test_rows_go_to_the_customers_they_named_when_the_file_was_checked(crm_path, clock, small_chunks, monkeypatch, large):
    """Another user works on the CRM while the file is checked. C3's external id passes to a new
    customer: every row naming C3 still goes to the customer that held it when checked, those
    the row path read and the others alike. A customer named is merged away: nothing is
    written, and the error says to import again, whether the references are checked row by
    row or (a large load) once before the commit."""
    if large:
        monkeypatch.setattr(columnar, "DEFER_INDEXES", 10)
    crm = open_crm(crm_path, clock)
    path = write(crm_path.parent / "p.csv", mixed_purchases(400))
    check = columnar.ColumnarImport.check
    change = []

    def check_while_another_user_works(self, progress):
        check(self, progress)
        with crmkit.open(crm_path, plugins=[], clock=clock) as other:
            change[0](other)

    def move_the_external_id(other):
        [old] = other.customers.find(external_id="C3")
        other.customers.update(old.id, external_id="C3-old")
        other.customers.add(name="New C3", external_id="C3")

    monkeypatch.setattr(columnar.ColumnarImport, "check", check_while_another_user_works)
    change.append(move_the_external_id)
    assert import_file(crm, path, kind="interactions", defaults={"kind": "purchase"}).added == 400
    by_customer = dict(crm.db.execute("SELECT customer_id, count(*) FROM interactions GROUP BY customer_id").fetchall())
    assert by_customer == {j: 20 for j in range(1, 21)}

    change[0] = lambda other: other.customers.merge(1, 5)
    with pytest.raises(CrmError, match=r"p.csv was not imported: the CRM changed while the file was checked \(customer 5 is gone\)"):
        import_file(crm, path, kind="interactions", defaults={"kind": "purchase"})
    assert crm.interactions.count() == 400
    assert crm.db.execute("SELECT count(*) FROM customer_summary WHERE customer_id = 5").fetchone()[0] == 0
    with pytest.raises(IntegrityError):  # the database checks references row by row again
        with crm.transaction():
            crm.db.execute(
                "INSERT INTO interactions(customer_id, kind, occurred_at, recorded_at) VALUES (5, 'call', ?, ?)",
                ["2026-01-01T00:00:00+00:00"] * 2,
            )
    crm.close()


class DanglingVisitLog:
    """A plugin whose hook writes, for each batch, a row naming a customer that does not exist."""

    name = "dangling_visit_log"

    def __init__(self):
        from crmkit import Migrations

        self.migrations = Migrations("dangling_visit_log")

        @self.migrations()
        def m001_visit_log(db):
            db.execute("CREATE TABLE visit_log (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(id))")

    @hookimpl
    def crmkit_migrations(self):
        return self.migrations

    @hookimpl
    def crmkit_interactions_recorded(self, crm, interactions):
        crm.db.execute("INSERT INTO visit_log(customer_id) VALUES (?)", [interactions[0].customer_id])
        crm.db.execute("INSERT INTO visit_log(customer_id) VALUES (999999)")


@pytest.mark.parametrize("large", [False, True], ids=["small load", "large load"])
def test_a_hook_writing_a_dangling_reference_refuses_the_import(crm_path, clock, small_chunks, monkeypatch, large):
    """Row by row, or (a large load on SQLite) checked once before the commit: the import is
    refused, nothing of it written, and the error names the table."""
    if large:
        monkeypatch.setattr(columnar, "DEFER_INDEXES", 10)
    crm = open_crm(crm_path, clock, plugins=[DanglingVisitLog()])
    with pytest.raises(CrmError, match="visit_log") as refused:
        import_file(crm, write(crm_path.parent / "p.csv", purchases(300)), kind="interactions", defaults={"kind": "purchase"})
    assert "FOREIGN KEY" in str(refused.value).upper()
    assert crm.interactions.count() == 0
    assert crm.db.execute("SELECT count(*) FROM visit_log").fetchone()[0] == 0
    assert crm.db.execute("SELECT count(*) FROM customer_summary").fetchone()[0] == 0
    crm.close()


def test_a_bad_default_refuses_every_row(crm_path, clock, small_chunks):
    crm = open_crm(crm_path, clock)
    path = write(crm_path.parent / "p.csv", purchases(50))
    with pytest.raises(ImportRefused) as refused:
        import_file(crm, path, kind="interactions", defaults={"kind": "purchse"})
    assert len(refused.value.problems) == 50
    assert {p.column for p in refused.value.problems} == {"--set kind"}
    assert crm.interactions.count() == 0
    crm.close()


def test_a_large_load_builds_the_indexes_again(crm_path, clock, small_chunks, monkeypatch):
    """A load as large as the table may defer the interactions' and the summary's indexes: it
    leaves them as they were, and the summary as worked out here from the file."""
    monkeypatch.setattr(columnar, "DEFER_INDEXES", 10)
    crm = open_crm(crm_path, clock)
    tables = ("interactions", "customer_summary")
    before = sorted(crm.db.index_definitions(tables))
    rows = purchases(200)
    import_file(crm, write(crm_path.parent / "p.csv", rows), kind="interactions", defaults={"kind": "purchase"})
    assert sorted(crm.db.index_definitions(tables)) == before
    assert stored(crm) == expected_rows(crm, rows)
    by_customer = {}
    for customer_id, _, _, occurred_at, cents, *_ in expected_rows(crm, rows):
        count, spend, first, last = by_customer.get(customer_id, (0, 0, occurred_at, occurred_at))
        by_customer[customer_id] = (count + 1, spend + cents, min(first, occurred_at), max(last, occurred_at))
    summary = crm.db.execute(
        "SELECT customer_id, purchases, net_spend, first_purchase_at, last_purchase_at FROM customer_summary ORDER BY customer_id"
    ).fetchall()
    assert [tuple(r) for r in summary] == [(k, *v) for k, v in sorted(by_customer.items())]
    # One audit entry per customer: row n of the file is interaction n + 1, of customer C(1 + n % 20).
    entries = {int(e.entity_id): e.after for e in crm.audit.query(action="interaction.record", limit=100)}
    assert entries == {j: {"count": 10, "first_id": j, "last_id": 180 + j} for j in range(1, 21)}
    crm.close()


class MarksPlugin:
    """A plugin writing a row per recorded interaction into its own table, whose plain index a
    large load may build at its end (``crmkit_bulk_load_tables``); it notes, per batch, whether
    that index was there, and may ask for it back (``restore_deferred_indexes``)."""

    name = "marks"

    def __init__(self, restore_at: int | None = None, fail_at: int | None = None):
        self.restore_at, self.fail_at = restore_at, fail_at
        self.seen: list[bool] = []

    @hookimpl
    def crmkit_migrations(self):
        marks = crmkit.Migrations("marks")

        @marks()
        def m001_marks(db):
            db["marks_rows"].create({"id": int, "customer_id": int, "interaction_id": int, "kind": str}, pk="id")
            db["marks_rows"].create_index(["customer_id"])
            db["marks_rows"].create_index(["interaction_id"], unique=True)
            db.execute("CREATE INDEX ix_marks_refunds ON marks_rows(customer_id) WHERE kind = 'refund'")

        return marks

    @hookimpl
    def crmkit_bulk_load_tables(self, crm):
        return ["marks_rows"]

    def indexes(self, crm) -> set[str]:
        return {name for name, _, _ in crm.db.index_definitions(["marks_rows"])}

    @hookimpl
    def crmkit_interactions_recorded(self, crm, interactions):
        from crmkit.store import restore_deferred_indexes

        batch = len(self.seen)
        if batch == self.restore_at:
            restore_deferred_indexes(crm.db, "marks_rows")
        self.seen.append("idx_marks_rows_customer_id" in self.indexes(crm))
        crm.db.execute(
            "INSERT INTO marks_rows(customer_id, interaction_id, kind) "
            "SELECT customer_id, id, kind FROM interactions WHERE id BETWEEN ? AND ?",
            [interactions[0].id, interactions[-1].id],
        )
        if batch == self.fail_at:
            raise RuntimeError("the plugin failed")


def test_a_plugins_table_named_for_bulk_loads_gets_its_plain_indexes_at_the_end(crm_path, clock, small_chunks, monkeypatch, crm_engine):
    """On SQLite a large load drops the plain indexes of the tables plugins name and builds
    them at its end (partial and unique ones stay); a hook that needs one meanwhile restores it.
    A failed load leaves them as they were; on PostgreSQL every index stays up throughout."""
    monkeypatch.setattr(columnar, "DEFER_INDEXES", 10)
    plugin = MarksPlugin()
    crm = open_crm(crm_path, clock, [plugin])
    before = sorted(crm.db.index_definitions(["marks_rows"]))
    assert len(before) == 3
    deferred = crm_engine == "sqlite"
    import_file(crm, write(crm_path.parent / "p.csv", purchases(200)), kind="interactions", defaults={"kind": "purchase"})
    assert len(plugin.seen) >= 3 and plugin.seen == [not deferred] * len(plugin.seen)
    assert sorted(crm.db.index_definitions(["marks_rows"])) == before
    counted = crm.db.execute(
        "SELECT count(*), count(DISTINCT interaction_id) FROM marks_rows WHERE customer_id = ?", [1]
    ).fetchone()
    assert tuple(counted) == (10, 10)

    plugin.seen, plugin.restore_at = [], 2
    import_file(crm, write(crm_path.parent / "q.csv", purchases(400)), kind="interactions", defaults={"kind": "purchase"})
    assert plugin.seen[:2] == [not deferred] * 2 and all(plugin.seen[2:])
    assert sorted(crm.db.index_definitions(["marks_rows"])) == before

    plugin.seen, plugin.restore_at, plugin.fail_at = [], None, 1
    with pytest.raises(crmkit.PluginError, match="the plugin failed"):
        import_file(crm, write(crm_path.parent / "r.csv", purchases(800)), kind="interactions", defaults={"kind": "purchase"})
    assert sorted(crm.db.index_definitions(["marks_rows"])) == before
    assert crm.db.execute("SELECT count(*) FROM marks_rows").fetchone()[0] == 600
    crm.close()


class SummaryReader:
    """A plugin noting, per batch: the interactions recorded so far, the purchases the
    summary counts, and (when ``rule``) the members of that rule; at batch ``ask_at`` it
    first asks for the summary to be brought up to date."""

    name = "summary_reader"

    def __init__(self, ask_at: int | None = None, rule: str | None = None, fail_at: int | None = None):
        self.ask_at, self.rule, self.fail_at = ask_at, rule, fail_at
        self.seen: list[tuple] = []

    @hookimpl
    def crmkit_interactions_recorded(self, crm, interactions):
        batch = len(self.seen)
        if batch == self.ask_at:
            crm.interactions.update_summary()
        counted = crm.db.execute("SELECT COALESCE(SUM(purchases), 0) FROM customer_summary").fetchone()[0]
        members = list(crm.segments.evaluate(self.rule).ids()) if self.rule else None
        self.seen.append((interactions[-1].id, counted, members))
        if batch == self.fail_at:
            raise RuntimeError("the plugin failed")


def members_after(rows: int, at_least: int) -> list[int]:
    """The customers (ids 1-20, one purchase each in turn, see ``purchases``) with at least
    ``at_least`` purchases among the first ``rows`` rows, worked out by hand."""
    counts = [rows // 20 + (1 if j < rows % 20 else 0) for j in range(20)]
    return [j + 1 for j in range(20) if counts[j] >= at_least]


def test_a_large_load_folds_the_summary_at_its_end_or_when_asked(crm_path, clock, small_chunks, monkeypatch):
    """A load as large as the table folds the per-customer summary once, at its end: a hook
    reading the table meanwhile sees it as it was, unless it asks for
    ``crm.interactions.update_summary()``; segments ask by themselves, so their members are
    those of every row recorded so far."""
    monkeypatch.setattr(columnar, "DEFER_INDEXES", 10)
    plugin = SummaryReader()
    crm = open_crm(crm_path, clock, [plugin])
    import_file(crm, write(crm_path.parent / "p.csv", purchases(200)), kind="interactions", defaults={"kind": "purchase"})
    assert len(plugin.seen) >= 3
    assert [counted for _, counted, _ in plugin.seen] == [0] * len(plugin.seen)
    assert crm.db.execute("SELECT SUM(purchases) FROM customer_summary").fetchone()[0] == 200

    plugin.seen, plugin.ask_at = [], 1
    import_file(crm, write(crm_path.parent / "q.csv", purchases(400)), kind="interactions", defaults={"kind": "purchase"})
    recorded, counted, _ = plugin.seen[1]
    assert counted == recorded and plugin.seen[2][1] == recorded
    assert crm.db.execute("SELECT SUM(purchases) FROM customer_summary").fetchone()[0] == 600

    plugin.seen, plugin.ask_at, plugin.rule = [], None, "purchases >= 45"
    import_file(crm, write(crm_path.parent / "r.csv", purchases(1200)), kind="interactions", defaults={"kind": "purchase"})
    for recorded, _, members in plugin.seen:
        # 200 + 400 rows earlier: 10 + 20 purchases each, then the first ``recorded - 600`` of this file.
        assert members == members_after(recorded - 600, 15), recorded
    assert list(crm.segments.evaluate("purchases >= 90").ids()) == list(range(1, 21))
    crm.close()


def test_a_failed_large_load_leaves_the_summary_as_it_was(crm_path, clock, small_chunks, monkeypatch):
    """A load refused by a plugin halfway leaves no summary behind, and the next load folds
    only its own rows."""
    monkeypatch.setattr(columnar, "DEFER_INDEXES", 10)
    plugin = SummaryReader(ask_at=1, fail_at=2)
    crm = open_crm(crm_path, clock, [plugin])
    with pytest.raises(crmkit.PluginError, match="the plugin failed"):
        import_file(crm, write(crm_path.parent / "p.csv", purchases(400)), kind="interactions", defaults={"kind": "purchase"})
    assert crm.db.execute("SELECT count(*) FROM customer_summary").fetchone()[0] == 0
    plugin.fail_at = None
    import_file(crm, write(crm_path.parent / "q.csv", purchases(40)), kind="interactions", defaults={"kind": "purchase"})
    summary = crm.db.execute("SELECT customer_id, purchases FROM customer_summary ORDER BY customer_id").fetchall()
    assert [tuple(row) for row in summary] == [(j, 2) for j in range(1, 21)]
    crm.close()


def test_a_large_load_past_64_bits_of_net_spend_is_refused_at_its_end(crm_path, clock, small_chunks, monkeypatch):
    """Folded at the end, a load of 9,300 of the largest purchases for one customer is refused as
    batch by batch, nothing written; 9,000 fit, exactly."""
    from crmkit.money import MAX_AMOUNT

    monkeypatch.setattr(columnar, "DEFER_INDEXES", 10)
    crm = open_crm(crm_path, clock)
    rows = [["C1", "2024-01-01", "9999999999999.99", "books", "web"]] * 9300
    with pytest.raises(crmkit.ConflictError, match="the net spend would pass 92233720368547758.07"):
        import_file(crm, write(crm_path.parent / "p.csv", rows), kind="interactions", defaults={"kind": "purchase"})
    assert crm.interactions.count() == 0
    assert crm.db.execute("SELECT count(*) FROM customer_summary").fetchone()[0] == 0
    import_file(crm, write(crm_path.parent / "q.csv", rows[:9000]), kind="interactions", defaults={"kind": "purchase"})
    net = crm.db.execute("SELECT net_spend FROM customer_summary WHERE customer_id = 1").fetchone()[0]
    assert net == 9000 * MAX_AMOUNT
    crm.close()


def test_readers_on_another_connection_are_answered_during_a_large_load(crm_path, clock, small_chunks, monkeypatch):
    """A team's dashboard keeps reading while an import runs: no index drop locks it out (on
    PostgreSQL a dropped index would lock the table until the import commits)."""
    import threading

    monkeypatch.setattr(columnar, "DEFER_INDEXES", 10)
    crm = open_crm(crm_path, clock)
    crm.close()
    answers, waits = [], []

    class Reader:
        name = "reader"

        @hookimpl
        def crmkit_interactions_recorded(self, crm, interactions):
            if waits:
                return
            def read():
                with crmkit.open(crm_path, plugins=[], clock=clock) as other:
                    summary = other.db.execute("SELECT count(*) FROM customer_summary").fetchone()[0]
                    answers.append((other.interactions.count(), other.customers.count(), summary))
            reader = threading.Thread(target=read, daemon=True)
            reader.start()
            reader.join(timeout=10)
            waits.append(reader.is_alive())

    crm = open_crm(crm_path, clock, plugins=[Reader()])
    import_file(crm, write(crm_path.parent / "p.csv", purchases(200)), kind="interactions", defaults={"kind": "purchase"})
    assert waits == [False]
    assert answers == [(0, 20, 0)]
    crm.close()


@pytest.mark.sqlite_only
def test_a_large_load_has_a_larger_page_cache_only_while_it_runs(crm_path, clock, small_chunks, monkeypatch):
    """SQLite's page cache grows for a large load (the pages of the summary and the plugins'
    indexes it keeps touching stay in memory) and is back to the usual size once the load ends,
    whether it commits or fails; a small load keeps the usual cache."""
    from crmkit.engine import sqlite as engine

    monkeypatch.setattr(columnar, "DEFER_INDEXES", 10)
    seen = []

    class CacheWatcher:
        name = "cache_watcher"
        fail = False

        @hookimpl
        def crmkit_interactions_recorded(self, crm, interactions):
            seen.append(crm.db.execute("PRAGMA cache_size").fetchone()[0])
            if self.fail:
                raise RuntimeError("the plugin failed")

    watcher = CacheWatcher()
    crm = open_crm(crm_path, clock, plugins=[watcher])
    usual = crm.db.execute("PRAGMA cache_size").fetchone()[0]
    assert usual == -engine.PAGE_CACHE_KIB
    import_file(crm, write(crm_path.parent / "p.csv", purchases(200)), kind="interactions", defaults={"kind": "purchase"})
    assert len(seen) > 1 and set(seen) == {-engine.LOAD_CACHE_KIB}
    assert crm.db.execute("PRAGMA cache_size").fetchone()[0] == usual
    seen.clear()
    watcher.fail = True
    with pytest.raises(crmkit.PluginError, match="the plugin failed"):
        import_file(crm, write(crm_path.parent / "q.csv", purchases(400)), kind="interactions", defaults={"kind": "purchase"})
    assert seen == [-engine.LOAD_CACHE_KIB]
    assert crm.db.execute("PRAGMA cache_size").fetchone()[0] == usual
    assert crm.interactions.count() == 200
    seen.clear()
    watcher.fail = False
    import_file(crm, write(crm_path.parent / "r.csv", purchases(5)), kind="interactions", defaults={"kind": "purchase"})
    assert seen == [usual]
    crm.close()


@pytest.mark.postgresql_only
def test_a_large_load_leaves_the_server_planning_with_its_rows(crm_path, clock, small_chunks, monkeypatch):
    """After a large import the server's planner knows the new row counts at once (it would plan
    the first report for an empty table until autovacuum came by)."""
    from crmkit import importing

    monkeypatch.setattr(importing, "REFRESH_STATISTICS_AFTER", 100)
    crm = open_crm(crm_path, clock)
    import_file(crm, write(crm_path.parent / "p.csv", purchases(200)), kind="interactions", defaults={"kind": "purchase"})
    estimated = crm.db.execute("SELECT reltuples FROM pg_class WHERE oid = to_regclass('interactions')").fetchone()[0]
    assert estimated == 200
    crm.close()


def test_every_space_str_strip_takes_off_is_read_as_the_row_path_reads_it(crm_path, tmp_path, clock, small_chunks, monkeypatch):
    """A text with any character str.isspace() calls space at either end: the same stored rows
    (the row path strips it) whichever path read the chunk."""
    spaces = [chr(c) for c in range(0x110000) if chr(c).isspace() and chr(c) not in "\n\r"]
    assert set(columnar.SPACES) == {chr(c) for c in range(0x110000) if chr(c).isspace()}
    rows = []
    for n, space in enumerate(spaces):
        rows.append([f"C{1 + n % 20}", "2024-05-01", "3.10", f"{space}books" if n % 2 else f"books{space}", "web"])
        rows.extend(purchases(30))
    path = write(tmp_path / "spaced.csv", rows)
    crm = open_crm(crm_path, clock)
    fast = import_file(crm, path, kind="interactions", defaults={"kind": "purchase"})
    fast_rows = stored(crm)
    crm.close()
    monkeypatch.setattr(columnar, "_pyarrow", lambda: None)
    crm = open_crm(tmp_path / "row-path.db", clock)
    slow = import_file(crm, path, kind="interactions", defaults={"kind": "purchase"})
    assert (fast.added, fast.problems) == (slow.added, slow.problems) == (len(rows), [])
    assert fast_rows == stored(crm)
    assert {row[5] for row in fast_rows[:: 31]} == {"books"}
    crm.close()


def test_an_interactions_csv_import_does_not_load_pandas(tmp_path, row_path_below_bytes):
    """pyarrow imports pandas (a quarter of a second) the first time it is handed a Python value;
    an import by column of every reference, kinds with and without money, dates and times,
    never needs it."""
    import subprocess
    import sys

    crm_file = tmp_path / "crm.db"
    with crmkit.open(crm_file) as crm:
        crm.customers.add_many([{"name": f"P{i}", "external_id": f"C{i}", "email": f"p{i}@example.com"} for i in range(1, 51)])
        ids = {c.external_id: c.id for c in crm.customers.list(limit=100)}
    header = ["customer_id", "customer_external_id", "customer_email", "kind", "occurred_at", "amount", "channel"]
    rows = []
    for n in range(row_path_below_bytes // 40):
        number = 1 + n % 50
        reference = [[str(ids[f"C{number}"]), "", ""], ["", f"C{number}", ""], ["", "", f"P{number}@Example.com"]][n % 3]
        when = f"2024-{1 + n % 12:02d}-{1 + n % 28:02d}" + ("T10:30:00Z" if n % 2 else "")
        money = n % 4 != 0
        rows.append(reference + ["purchase" if money else "call", when, f"{n % 500}.{n % 100:02d}" if money else "", "web"])
    path = write(tmp_path / "mixed.csv", rows, header)
    assert path.stat().st_size > row_path_below_bytes
    code = (
        "import sys\nfrom crmkit.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit as done:\n    assert not done.code, done.code\n"
        "print(sorted(m for m in ('pyarrow', 'pandas') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code, "import", str(crm_file), str(path), "--kind", "interactions"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "['pyarrow']"  # read by column, without pandas
    with crmkit.open(crm_file) as crm:
        assert crm.interactions.count() == len(rows)
        cents = crm.db.execute("SELECT sum(amount), count(*) FROM interactions WHERE kind = 'purchase'").fetchone()
        money_rows = [row for row in rows if row[3] == "purchase"]
        assert tuple(cents) == (sum(int(Decimal(row[5]) * 100) for row in money_rows), len(money_rows))
        times = crm.db.execute("SELECT occurred_at FROM interactions ORDER BY id LIMIT 2").fetchall()
        assert [t[0] for t in times] == ["2024-01-01T00:00:00Z", "2024-02-02T10:30:00Z"]
