"""``Database.bulk_insert``, the engine's fastest load (executemany on SQLite, COPY on
PostgreSQL): what it stores must be exactly the rows given, whatever the mix of empty columns.

On SQLite a column that is None in every row of a call is written as a literal NULL rather than
bound once per row (Python's sqlite3 adapts a bound None slowly; see docs/benchmarks.md), so the
cases below cover the columns that are empty throughout, partly and never, and a column whose
default is not NULL (an explicit None must still store NULL there)."""

from __future__ import annotations

import pytest

import crmkit
from crmkit.engine.errors import IntegrityError

COLUMNS = ("id", "label", "amount", "note", "flag")


@pytest.fixture
def crm(crm_path):
    with crmkit.open(crm_path, plugins=[]) as crm:
        with crm.transaction():
            crm.db.execute(
                "CREATE TABLE bulk_under_test (id INTEGER PRIMARY KEY, label TEXT NOT NULL, "
                "amount INTEGER, note TEXT, flag TEXT DEFAULT 'unset')"
            )
        yield crm


def _load(crm, columns, rows) -> int:
    with crm.transaction():
        return crm.db.bulk_insert("bulk_under_test", columns, rows)


def _stored(crm) -> list[tuple]:
    return [tuple(row) for row in crm.db.execute(f"SELECT {', '.join(COLUMNS)} FROM bulk_under_test ORDER BY id")]


@pytest.mark.parametrize(
    "rows",
    [
        pytest.param([(i, f"r{i}", None, None, None) for i in range(1, 201)], id="three columns empty throughout"),
        pytest.param([(i, f"r{i}", i if i % 2 else None, None, "x" if i == 150 else None) for i in range(1, 201)],
                     id="columns empty in some rows"),
        pytest.param([(i, f"r{i}", 0, "", "") for i in range(1, 201)], id="zeros and empty texts are values"),
        pytest.param([(1, "one", None, None, None)], id="one row"),
    ],
)
def test_stores_exactly_the_rows_given(crm, rows):
    assert _load(crm, COLUMNS, rows) == len(rows)
    assert _stored(crm) == rows


def test_an_explicit_none_stores_null_where_the_column_has_a_default(crm):
    _load(crm, COLUMNS, [(i, "x", None, None, None) for i in range(1, 101)])
    assert {row[4] for row in _stored(crm)} == {None}


def test_only_the_columns_named_are_written(crm):
    _load(crm, ("id", "label"), [(i, f"r{i}") for i in range(1, 101)])
    assert {row[4] for row in _stored(crm)} == {"unset"}


def test_rows_may_come_from_a_generator(crm):
    assert _load(crm, COLUMNS, ((i, "g", None, None, None) for i in range(1, 51))) == 50
    assert len(_stored(crm)) == 50


def test_a_refused_row_raises_the_engines_integrity_error_and_nothing_stays(crm):
    rows = [(i, "ok" if i < 100 else None, None, None, None) for i in range(1, 101)]  # label is NOT NULL
    with pytest.raises(IntegrityError):
        _load(crm, COLUMNS, rows)
    assert _stored(crm) == []


def test_a_single_column_left_to_bind(crm):
    assert _load(crm, ("label", "note"), [(f"r{i}", None) for i in range(100)]) == 100
    assert [row[1:4] for row in _stored(crm)] == [(f"r{i}", None, None) for i in range(100)]


def test_a_long_iterator_is_stored_whole_whatever_each_part_leaves_empty(crm, monkeypatch):
    # Read 100 rows at a time here: the first part has no note, the others have some.
    monkeypatch.setattr("crmkit.engine.sqlite._BULK_ROWS", 100)
    rows = [(i, f"r{i}", None, None if i <= 100 else f"n{i}", None) for i in range(1, 251)]
    assert _load(crm, COLUMNS, iter(rows)) == 250
    assert _stored(crm) == rows


@pytest.mark.parametrize("text", ["a\x00b", "\ud800"])
@pytest.mark.parametrize("style", ["positional", "named"])
def test_a_statement_given_a_text_no_engine_stores_is_refused_alike(crm, text, style):
    # SQLite stored a NUL (and its LIKE and length() stop at it); PostgreSQL refused the
    # statement with its own error; a lone surrogate raised UnicodeEncodeError on both. Any
    # statement a plugin runs with such a text is now a ValidationError on both, nothing written.
    from crmkit import ValidationError

    sql, params = (("INSERT INTO bulk_under_test (id, label) VALUES (?, ?)", [1, text]) if style == "positional"
                   else ("INSERT INTO bulk_under_test (id, label) VALUES (:id, :label)", {"id": 1, "label": text}))
    with pytest.raises(ValidationError, match="text without NUL characters or lone surrogates"):
        with crm.transaction():
            crm.db.execute(sql, params)
    with pytest.raises(ValidationError):
        list(crm.db.query("SELECT * FROM bulk_under_test WHERE label = ?", [text]))
    assert _stored(crm) == []
    crm.db.execute("INSERT INTO bulk_under_test (id, label, note) VALUES (?, ?, ?)", [2, "blob ok", None])
    assert _stored(crm) == [(2, "blob ok", None, None, "unset")]


@pytest.mark.parametrize("count", [63, 64, 65, 128, 1000, 1001])
def test_any_number_of_rows_is_stored_whole_and_in_order(crm, count):
    # SQLite writes many rows per statement and the remainder one at a time.
    rows = [[i, f"r{i}", i * 3 if i % 7 else None, None, "x" if i % 2 else None] for i in range(1, count + 1)]
    assert _load(crm, COLUMNS, rows) == count
    assert _stored(crm) == [tuple(row) for row in rows]


@pytest.mark.parametrize("bad", [1, 64, 130])
def test_a_refused_row_anywhere_leaves_nothing(crm, bad):
    rows = [(i, None if i == bad else f"r{i}", None, None, None) for i in range(1, 131)]
    with pytest.raises(IntegrityError):
        _load(crm, COLUMNS, rows)
    assert _stored(crm) == []
