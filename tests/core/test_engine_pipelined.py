"""``db.pipelined()``: writes whose results go unread may travel with the next statement (on
PostgreSQL, in one round trip with it or with the COMMIT). What a user relies on is that nothing
else changes: every write lands, a result read is right, and an error still rolls back the whole
transaction (or the savepoint it happened in). Both engines."""

from __future__ import annotations

import pytest

from crmkit.engine.errors import IntegrityError


@pytest.fixture
def db(fresh_crm):
    db = fresh_crm.db
    db.execute("CREATE TABLE pipelined_notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL UNIQUE)")
    return db


def _notes(db) -> list[tuple[int, str]]:
    return [(row["id"], row["body"]) for row in db.query("SELECT id, body FROM pipelined_notes ORDER BY id")]


def test_pipelined_writes_all_land_and_a_result_read_is_right(db):
    with db.transaction():
        with db.pipelined():
            db.execute("INSERT INTO pipelined_notes (id, body) VALUES (?, ?)", [1, "call back"])
            db.execute("INSERT INTO pipelined_notes (id, body) VALUES (?, ?)", [2, "send offer"])
            changed = db.execute("UPDATE pipelined_notes SET body = body || ' today' WHERE id <= ?", [2])
            assert changed.rowcount == 2  # reading it sends what was queued before it, and it
            db.execute("INSERT INTO pipelined_notes (id, body) VALUES (?, ?)", [3, "visit"])
        assert next(db.query("SELECT count(*) AS n FROM pipelined_notes"))["n"] == 3
    assert _notes(db) == [(1, "call back today"), (2, "send offer today"), (3, "visit")]


def test_an_error_in_a_pipelined_write_rolls_the_whole_transaction_back(db):
    db.execute("INSERT INTO pipelined_notes (id, body) VALUES (?, ?)", [1, "kept"])
    with pytest.raises(IntegrityError):
        with db.transaction():
            db.execute("UPDATE pipelined_notes SET body = ? WHERE id = ?", ["changed", 1])
            with db.pipelined():
                db.execute("INSERT INTO pipelined_notes (id, body) VALUES (?, ?)", [2, "new"])
                db.execute("INSERT INTO pipelined_notes (id, body) VALUES (?, ?)", [3, "new"])  # body is unique
    assert _notes(db) == [(1, "kept")]
    with db.transaction():  # the connection is usable again
        db.execute("INSERT INTO pipelined_notes (id, body) VALUES (?, ?)", [2, "after"])
    assert _notes(db) == [(1, "kept"), (2, "after")]


def test_an_error_in_a_savepoint_rolls_back_to_it_only(db):
    with db.transaction():
        db.execute("INSERT INTO pipelined_notes (id, body) VALUES (?, ?)", [1, "before"])
        with pytest.raises(IntegrityError):
            with db.transaction():
                with db.pipelined():
                    db.execute("INSERT INTO pipelined_notes (id, body) VALUES (?, ?)", [2, "inside"])
                    db.execute("INSERT INTO pipelined_notes (id, body) VALUES (?, ?)", [3, "before"])
        with db.pipelined():
            db.execute("INSERT INTO pipelined_notes (id, body) VALUES (?, ?)", [4, "after"])
    assert _notes(db) == [(1, "before"), (4, "after")]


def test_an_error_raised_in_the_block_discards_its_queued_writes(db):
    with pytest.raises(RuntimeError, match="changed my mind"):
        with db.transaction():
            with db.pipelined():
                db.execute("INSERT INTO pipelined_notes (id, body) VALUES (?, ?)", [1, "never"])
                raise RuntimeError("changed my mind")
    assert _notes(db) == []


def test_outside_a_transaction_each_statement_runs_at_once(db):
    with db.pipelined():
        db.execute("INSERT INTO pipelined_notes (id, body) VALUES (?, ?)", [1, "now"])
        assert not db.in_transaction
        assert _notes(db) == [(1, "now")]
    with pytest.raises(IntegrityError):
        with db.pipelined():
            db.execute("INSERT INTO pipelined_notes (id, body) VALUES (?, ?)", [2, "now"])
    assert _notes(db) == [(1, "now")]


def test_a_transaction_that_ran_nothing_leaves_the_connection_as_it_was(db):
    with db.transaction():
        pass
    with pytest.raises(ValueError):
        with db.transaction():
            raise ValueError("before any statement")
    assert not db.in_transaction
    with db.transaction():
        db.execute("INSERT INTO pipelined_notes (id, body) VALUES (?, ?)", [1, "fine"])
    assert _notes(db) == [(1, "fine")]
