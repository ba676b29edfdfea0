"""The SQLite store: connection settings, transactions and the few dialect-specific helpers.

Everything SQLite-specific that other modules need (date arithmetic, JSON lists) goes through a
helper here, so that a PostgreSQL or DuckDB store stays a matter of one module.
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import sqlite_utils

from .errors import CrmError

BUSY_TIMEOUT_SECONDS = 30.0
# SQLite's historical limit on bound variables per statement; batches stay below it.
MAX_VARIABLES = 999


def connect(path: str | Path) -> sqlite_utils.Database:
    """Open (creating if needed) a CRM file with the settings crmkit relies on.

    WAL lets a notebook read while a CLI writes; the busy timeout makes a second writer wait
    instead of failing with "database is locked"; foreign keys keep rows attached to customers.
    """
    target = str(path)
    if target != ":memory:":
        parent = Path(target).expanduser().resolve().parent
        if not parent.is_dir():
            raise CrmError(f"cannot open {target}: folder {parent} does not exist")
    try:
        conn = sqlite3.connect(target, timeout=BUSY_TIMEOUT_SECONDS, check_same_thread=False)
        if target != ":memory:":
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_SECONDS * 1000)}")
    except sqlite3.DatabaseError as error:
        raise CrmError(f"cannot open {target}: {error}") from None
    return sqlite_utils.Database(conn)


@contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """One write, one transaction; nested calls become savepoints of the outer one.

    The outermost level starts with ``BEGIN IMMEDIATE`` so that two processes writing at once
    queue on the busy timeout instead of failing when a reader tries to upgrade to a writer.
    """
    conn = db.conn
    if conn.in_transaction:
        with db.atomic():
            yield db
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")


def days_between(earlier_sql: str, later_sql: str) -> str:
    """SQL for the (fractional) number of days from one ISO time expression to another."""
    return f"(julianday({later_sql}) - julianday({earlier_sql}))"


def json_list_contains(list_sql: str, value_sql: str) -> str:
    """SQL that is true when the JSON array in ``list_sql`` holds ``value_sql``."""
    return f"EXISTS (SELECT 1 FROM json_each({list_sql}) WHERE json_each.value = {value_sql})"


def batched(iterable, size: int):
    """Yield lists of at most ``size`` items, holding only one batch in memory."""
    batch = []
    for item in iterable:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def shift_days(time_sql: str, days: int) -> str:
    """SQL for an ISO time expression moved by a whole number of days, as storage text."""
    return f"strftime('%Y-%m-%dT%H:%M:%SZ', {time_sql}, '{int(days):+d} days')"


@contextmanager
def indexes_deferred(db: sqlite_utils.Database, tables: tuple[str, ...]) -> Iterator[list[str]]:
    """Drop the non-unique secondary indexes of ``tables`` for a bulk load; build them again after.

    Loading millions of rows in an order that scatters them across an index (the index cliff)
    is several times slower than building the index once at the end. Unique indexes stay, so
    constraints still hold during the load. The indexes are rebuilt, from their own stored
    definitions, when the block ends, also when it fails. Yields the names of the deferred
    indexes. Use it only where nothing needs those indexes meanwhile, e.g. building a new file.
    """
    marks = ", ".join("?" * len(tables))
    saved = [
        (name, sql) for name, sql in db.execute(
            f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ({marks}) ORDER BY name",
            list(tables),
        )
        if not sql.lstrip().upper().startswith("CREATE UNIQUE")
    ]
    with transaction(db):
        for name, _ in saved:
            db.execute(f'DROP INDEX "{name}"')
    try:
        yield [name for name, _ in saved]
    finally:
        with transaction(db):
            for _, sql in saved:
                db.execute(sql)
