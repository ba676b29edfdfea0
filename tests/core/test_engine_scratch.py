"""The scratch database's many-row insert: every row in, duplicates ignored as row by row."""

from __future__ import annotations

import pytest

from crmkit.engine import scratch
from crmkit.engine.scratch import insert_rows


@pytest.mark.parametrize("count", [0, 1, 63, 64, 65, 128, 1000])
def test_every_row_is_inserted_in_order(count):
    conn = scratch("CREATE TABLE t (n INTEGER PRIMARY KEY, label TEXT);")
    rows = [(n, f"row {n}") for n in range(count)]
    assert insert_rows(conn, "t", ("n", "label"), rows) == count
    assert conn.execute("SELECT n, label FROM t ORDER BY n").fetchall() == rows
    conn.close()


def test_or_ignore_keeps_the_first_row_of_a_key_and_counts_only_the_rows_inserted():
    """Duplicates within one 64-row statement, across statements and against earlier calls."""
    conn = scratch("CREATE TABLE keys (key TEXT PRIMARY KEY, row INTEGER NOT NULL);")
    assert insert_rows(conn, "keys", ("key", "row"), [("a", 1)], or_ignore=True) == 1
    rows = [(f"k{n % 50}", n) for n in range(200)] + [("a", 999)]
    assert insert_rows(conn, "keys", ("key", "row"), rows, or_ignore=True) == 50
    stored = dict(conn.execute("SELECT key, row FROM keys").fetchall())
    assert stored == {"a": 1, **{f"k{n}": n for n in range(50)}}
    conn.close()


def test_a_refused_row_raises_and_the_caller_decides():
    conn = scratch("CREATE TABLE keys (key TEXT PRIMARY KEY, row INTEGER NOT NULL);")
    with pytest.raises(Exception, match="UNIQUE"):
        insert_rows(conn, "keys", ("key", "row"), [("a", 1)] * 70)
    conn.close()
