"""SQLite's date, JSON and scalar functions as crmkit's statements use them: the same answers on
both engines, and on PostgreSQL the planner inlines them, so a report's month bucketing or an
RFM recency costs what the native expression costs (a call per row of a SQL function that cannot
be inlined took RFM at 10k customers from 0.26 s to 0.42 s)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

import crmkit
from crmkit.engine.sql import shift_days

TIMES = ["2025-03-30T01:30:00Z", "2024-02-29T23:59:59Z", "2025-12-31T00:00:00Z"]
DOC = '{"a": {"b": 7}, "list": [1, 2, 3], "name": "Ann"}'


def _moment(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def _julian_day(moment: datetime) -> float:
    """The Julian day number: 2440587.5 at the Unix epoch, one per 86,400 seconds."""
    return moment.timestamp() / 86400 + 2440587.5


# name -> (SQL over the column t, the expected value for one time, computed here in Python)
EXPRESSIONS = {
    "julianday": ("julianday(t)", _julian_day),
    "unixepoch": ("unixepoch(t)", lambda m: int(m.timestamp())),
    "strftime": ("strftime('%Y-%m', t)", lambda m: m.strftime("%Y-%m")),
    "strftime seconds": ("strftime('%s', t)", lambda m: str(int(m.timestamp()))),
    "date": ("date(t)", lambda m: m.date().isoformat()),
    "datetime": ("datetime(t)", lambda m: m.strftime("%Y-%m-%d %H:%M:%S")),
}
# With modifiers SQLite's date functions move the time first (the slower, general path).
MODIFIED = {
    "date(t, '+1 day')": lambda m: (m + timedelta(days=1)).date().isoformat(),
    "strftime('%Y-%m-%d', t, 'start of month')": lambda m: m.strftime("%Y-%m-01"),
    # how the core writes "N days before a time" (crmkit.store.shift_days)
    "strftime('%Y-%m-%dT%H:%M:%SZ', unixepoch(t) - 3 * 86400, 'unixepoch')":
        lambda m: (m - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    # a stored time moved by whole days (crmkit.engine.sql.shift_days: points expiry, deadlines)
    shift_days("t", 365): lambda m: (m + timedelta(days=365)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    shift_days("t", -3): lambda m: (m - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ"),
}


@pytest.fixture
def crm(crm_path):
    with crmkit.open(crm_path, plugins=[]) as crm:
        with crm.transaction():
            crm.db.execute("CREATE TABLE times_under_test (t TEXT, doc TEXT)")
            crm.db.executemany("INSERT INTO times_under_test (t, doc) VALUES (?, ?)", [(t, DOC) for t in TIMES])
        yield crm


@pytest.mark.parametrize("name", sorted(EXPRESSIONS))
def test_date_functions_give_sqlites_answers(crm, name):
    sql, expected = EXPRESSIONS[name]
    got = [row[0] for row in crm.db.execute(f"SELECT {sql} FROM times_under_test ORDER BY t")]
    want = [expected(_moment(t)) for t in sorted(TIMES)]
    if name == "julianday":
        assert got == pytest.approx(want, abs=1e-6)
    else:
        assert got == want


@pytest.mark.parametrize("sql", sorted(MODIFIED))
def test_date_functions_with_modifiers(crm, sql):
    got = [row[0] for row in crm.db.execute(f"SELECT {sql} FROM times_under_test ORDER BY t")]
    assert got == [MODIFIED[sql](_moment(t)) for t in sorted(TIMES)]


def test_null_times_stay_null(crm):
    row = crm.db.execute(
        "SELECT julianday(NULL), unixepoch(NULL), strftime('%Y-%m', NULL), date(NULL), datetime(NULL)"
    ).fetchone()
    assert list(row) == [None] * 5


def test_json_paths(crm):
    row = crm.db.execute(
        "SELECT json_extract(doc, '$.a.b'), json_extract(doc, '$.name'), json_array_length(json_extract(doc, '$.list')) "
        "FROM times_under_test LIMIT 1"
    ).fetchone()
    assert [int(row[0]), row[1], int(row[2])] == [7, "Ann", 3]


INLINED = [
    "julianday(t)", "unixepoch(t)", "strftime('%Y-%m', t)", "strftime('%s', t)", "date(t)", "datetime(t)",
    "json_extract(doc, '$.a.b')", "json_array_length(json_extract(doc, '$.list'))",
    "strftime('%Y-%m-%dT%H:%M:%SZ', unixepoch(t) - 3 * 86400, 'unixepoch')",
    shift_days("t", 365), shift_days("t", -3),
    "ifnull(doc, 'x')", "instr(doc, 'a')", "max(length(doc), 3)", "CAST(julianday(t) AS INTEGER)",
]


@pytest.mark.postgresql_only
@pytest.mark.parametrize("sql", INLINED)
def test_functions_over_rows_are_inlined_on_postgresql(crm, sql):
    """No call of a crmkit compatibility function is left in the plan: the server counts none."""
    with crm.transaction():
        crm.db.execute("SET LOCAL track_functions = 'all'")
        crm.db.execute(f"SELECT {sql} FROM times_under_test").fetchall()
        called = crm.db.execute(
            "SELECT funcname, calls FROM pg_stat_xact_user_functions WHERE calls > 0"
        ).fetchall()
    assert called == []


@pytest.mark.postgresql_only
def test_statements_are_not_jit_compiled(crm):
    """PostgreSQL compiles a statement whose estimated cost passes jit_above_cost with LLVM; for
    crmkit's report statements that took 6.5 of 7.3 seconds (monthly trend, 10k customers), so a
    CRM's connection turns JIT off, whatever the server's thresholds."""
    import json

    query = "EXPLAIN (ANALYZE, FORMAT JSON) SELECT count(*) FROM times_under_test WHERE length(t) > 3"

    def compiled() -> bool:
        plan = crm.db.execute(query).fetchone()[0]
        return "JIT" in (plan if isinstance(plan, list) else json.loads(plan))[0]

    with crm.transaction():
        crm.db.execute("SET LOCAL jit_above_cost = 0")
        crm.db.execute("SET LOCAL jit = on")
        assert compiled()  # the check sees JIT when the server uses it
    with crm.transaction():
        crm.db.execute("SET LOCAL jit_above_cost = 0")
        assert not compiled()


@pytest.mark.postgresql_only
def test_the_schema_read_from_the_catalog_matches_information_schema(crm):
    """table_names and columns_of read pg_catalog (information_schema took 37 ms a call); they must
    list what the standard views list, dropped columns left out."""
    with crm.transaction():
        crm.db.execute("ALTER TABLE times_under_test ADD COLUMN gone TEXT")
        crm.db.execute("ALTER TABLE times_under_test ADD COLUMN kept TEXT")
        crm.db.execute("ALTER TABLE times_under_test DROP COLUMN gone")
    standard_tables = [row[0] for row in crm.db.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
        "AND table_type = 'BASE TABLE' ORDER BY table_name")]
    assert crm.db.table_names() == standard_tables and "times_under_test" in standard_tables
    for table in ("times_under_test", "customers", "interactions"):
        standard_columns = [row[0] for row in crm.db.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = ? ORDER BY ordinal_position", [table])]
        assert crm.db.columns_of(table) == standard_columns
    assert crm.db.columns_of("times_under_test") == ["t", "doc", "kept"]
    assert crm.db.columns_of("no_such_table") == []
