"""The SQLite engine: a CRM in one file, through sqlite-utils."""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import sqlite_utils

from ..errors import CrmError
from . import errors, sql
from .base import Database, Features
from .target import Target

BUSY_TIMEOUT_SECONDS = 30.0


class SqliteDatabase(sqlite_utils.Database, Database):
    """A CRM in a SQLite file (or in memory): sqlite-utils' database plus the engine interface."""

    engine = "sqlite"
    # SQLite's historical limit on bound variables per statement; batches stay below it.
    features = Features(max_variables=999, supports_vacuum=True)

    def __init__(self, target: Target, conn: sqlite3.Connection):
        super().__init__(conn)
        self.target = target

    def execute(self, sql: str, parameters: Any = None):
        try:
            return super().execute(sql, parameters)
        except sqlite3.Error as error:
            raise _translate_error(error) from error

    def query(self, sql: str, params: Any = None) -> Iterator[dict]:
        # SQLite may refuse a statement only when its rows are read (e.g. an unknown function):
        # the error is the engine-neutral one then too.
        try:
            yield from super().query(sql, params)
        except sqlite3.Error as error:
            raise _translate_error(error) from error

    def executemany(self, sql: str, rows: Iterable[Any]) -> int:
        try:
            return self.conn.executemany(sql, rows).rowcount
        except sqlite3.Error as error:
            raise _translate_error(error) from error

    @property
    def in_transaction(self) -> bool:
        return self.conn.in_transaction

    @contextmanager
    def transaction(self) -> Iterator["SqliteDatabase"]:
        """The outermost level starts with ``BEGIN IMMEDIATE``, so writers queue on the busy
        timeout instead of failing when a reader tries to upgrade to a writer."""
        conn = self.conn
        if conn.in_transaction:
            with self.atomic():
                yield self
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as error:
            raise _translate_error(error) from error
        try:
            yield self
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        else:
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as error:
                raise _translate_error(error) from error

    def columns_of(self, table: str) -> list[str]:
        return [column.name for column in self[table].columns]

    def referenced_tables(self, table: str) -> list[str]:
        return sorted({key.other_table for key in self[table].foreign_keys})

    def primary_key(self, table: str) -> list[str]:
        """The primary key's columns; empty for a table keyed only by SQLite's implicit row id."""
        return [column for column in self[table].pks if column != "rowid"]

    def index_definitions(self, tables: Sequence[str]) -> list[tuple[str, str, bool]]:
        marks = ", ".join("?" * len(tables))
        rows = self.conn.execute(
            f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            f"AND tbl_name IN ({marks}) ORDER BY name",
            list(tables),
        )
        return [(name, sql, sql.lstrip().upper().startswith("CREATE UNIQUE")) for name, sql in rows]

    def bulk_insert(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        names = ", ".join(f'"{c}"' for c in columns)
        cursor = self.conn.cursor()
        try:
            cursor.executemany(f'INSERT INTO "{table}" ({names}) VALUES ({", ".join("?" * len(columns))})', rows)
        except sqlite3.Error as error:
            raise _translate_error(error) from error
        return cursor.rowcount

    def reset_sequences(self, tables: Iterable[str]) -> None:
        """Nothing to do: an INTEGER PRIMARY KEY continues after the largest id by itself."""

    def backup_to(self, destination) -> int:
        """Copy the database to a new file with SQLite's online backup; returns its size in bytes.

        Consistent even while other connections write: the backup restarts on their changes.
        Written under a temporary name and moved into place, so a failure leaves no half file.
        """
        destination = Path(destination)
        partial = destination.with_name(f".{destination.name}.partial")
        target = sqlite3.connect(partial)
        try:
            self.conn.backup(target, pages=1024)
        except sqlite3.Error as error:
            target.close()
            partial.unlink(missing_ok=True)
            raise _translate_error(error) from error
        target.close()
        partial.replace(destination)
        return destination.stat().st_size

    def integrity_check(self) -> str:
        return "\n".join(row[0] for row in self.execute("PRAGMA integrity_check"))

    def utc_offset(self, time_sql: str, zone: str) -> str:
        return sql.utc_offset_sqlite(time_sql, zone)

    def local_time(self, time_sql: str, zone: str) -> str:
        return sql.local_time_sqlite(time_sql, zone)

    def vacuum(self) -> None:
        self.execute("VACUUM")


def _translate_error(error: sqlite3.Error) -> Exception:
    message = str(error)
    if isinstance(error, sqlite3.IntegrityError):
        return errors.IntegrityError(message)
    if isinstance(error, sqlite3.OperationalError) and ("locked" in message or "busy" in message):
        return errors.ConcurrencyError(message)
    if isinstance(error, (sqlite3.OperationalError, sqlite3.ProgrammingError, sqlite3.InterfaceError)):
        return errors.StatementError(message)
    return errors.EngineError(message)


def connect(target: Target) -> SqliteDatabase:
    """Open (creating if needed) a CRM file with the settings crmkit relies on.

    WAL lets a notebook read while a CLI writes; the busy timeout makes a second writer wait
    instead of failing with "database is locked"; foreign keys keep rows attached to customers.
    """
    path = target.path
    if path != ":memory:":
        parent = Path(path).expanduser().resolve().parent
        if not parent.is_dir():
            raise CrmError(f"cannot open {path}: folder {parent} does not exist")
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, check_same_thread=False)
        if path != ":memory:":
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_SECONDS * 1000)}")
    except sqlite3.DatabaseError as error:
        raise CrmError(f"cannot open {path}: {error}") from None
    return SqliteDatabase(target, conn)
