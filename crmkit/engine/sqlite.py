"""The SQLite engine: a CRM in one file, through Python's sqlite3.

sqlite-utils' table API (``db["name"].create(...)``, what migrations call) is there too, built
on the same connection the first time it is asked for: importing sqlite-utils imports pandas and
numpy when they are installed, which a command that only reads should not pay for.
"""

from __future__ import annotations

import os
import re
import secrets
import sqlite3
from contextlib import contextmanager
from itertools import chain, islice
from operator import itemgetter
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from ..errors import CrmError
from . import errors, identity, sql
from .base import Database, Features, check_parameters
from .schema import quote
from .target import Target

BUSY_TIMEOUT_SECONDS = 30.0
#: The page cache each connection may grow to, in KiB (SQLite's default is 2 MiB). A large load
#: updates indexes and summary rows scattered over tables far larger than 2 MiB; with the default,
#: each such page is read back and spilled to the WAL again and again (a 1M-row import spent
#: 8 s of system time on it). The cache is filled only as pages are read, so a small CRM uses little.
PAGE_CACHE_KIB = 64 * 1024
#: The page cache during a large load (:meth:`SqliteDatabase.loading`), in KiB. Importing 1M
#: purchases took 22.2-23.1 s of CPU against 25.7-26.6 s with the usual cache, 10M 402 s against
#: 500 s; peak RSS rose by 200 and 400 MB.
LOAD_CACHE_KIB = 256 * 1024
#: The page cache while indexes are built (:meth:`SqliteDatabase.create_indexes`), in KiB. SQLite
#: sorts an index's rows in runs as large as the page cache, then merges them; runs that fit a
#: processor's cache sort faster than one run of a load's whole cache. Building the three
#: deferred indexes of a 1M-purchase import: 1.75-1.78 s of CPU with 4 MiB, 2.1 s with 8 MiB,
#: 2.6-2.8 s with 16 MiB, 3.0-3.1 s with LOAD_CACHE_KIB; 1.81-1.84 s with 2 MiB.
SORT_RUN_KIB = 4 * 1024

# The first word of a statement, after comments and opening brackets.
_FIRST_WORD = re.compile(r"^(?:\s+|--[^\n]*\n?|/\*.*?\*/|\()*(\w+)", re.DOTALL)


class SqliteDatabase(Database):
    """A CRM in a SQLite file (or in memory): the engine interface over one sqlite3 connection.

    Attributes this class does not define come from ``sqlite_utils.Database`` on the same
    connection (``db["t"].insert_all(...)``, ``db.view_names()``, ...), for code written against
    sqlite-utils.
    """

    engine = "sqlite"
    # SQLite's historical limit on bound variables per statement; batches stay below it.
    features = Features(max_variables=999, supports_vacuum=True, private_schema_changes=True)
    # True when the file was not writable and is open with SQLite's mode=ro.
    read_only = False
    # The header's application id as found at opening (see identity.APPLICATION_ID).
    application_id = 0

    def __init__(self, target: Target, conn: sqlite3.Connection):
        self.conn = conn
        self.target = target
        self._tables_api = None

    # --- statements ----------------------------------------------------------------------------

    def execute(self, sql: str, parameters: Any = None) -> sqlite3.Cursor:
        """Run one statement. Outside a transaction a write is committed at once."""
        check_parameters(parameters)
        conn = self.conn
        was_in_transaction = conn.in_transaction
        try:
            cursor = conn.execute(sql) if parameters is None else conn.execute(sql, parameters)
            if not was_in_transaction and conn.in_transaction and cursor.description is None \
                    and _first_word(sql) not in ("BEGIN", "SAVEPOINT"):
                conn.execute("COMMIT")
        except sqlite3.Error as error:
            if not was_in_transaction and conn.in_transaction:
                conn.execute("ROLLBACK")
            raise _translate_error(error) from error
        return cursor

    def query(self, sql: str, params: Any = None) -> Iterator[dict]:
        """Rows as dicts. A row-returning write outside a transaction (``INSERT ... RETURNING``)
        takes effect and is committed when called, even if its rows are never read."""
        check_parameters(params)
        conn = self.conn
        was_in_transaction = conn.in_transaction
        try:
            cursor = conn.execute(sql) if params is None else conn.execute(sql, params)
            keys = [column[0] for column in cursor.description or ()]
            if not was_in_transaction and conn.in_transaction:
                rows = cursor.fetchall()
                conn.execute("COMMIT")
                return (dict(zip(keys, row)) for row in rows)
        except sqlite3.Error as error:
            if not was_in_transaction and conn.in_transaction:
                conn.execute("ROLLBACK")
            raise _translate_error(error) from error
        return _rows(cursor, keys)

    def executemany(self, sql: str, rows: Iterable[Any]) -> int:
        try:
            return self.conn.executemany(sql, rows).rowcount
        except sqlite3.Error as error:
            raise _translate_error(error) from error

    # --- transactions --------------------------------------------------------------------------

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

    @contextmanager
    def atomic(self) -> Iterator["SqliteDatabase"]:
        """A transaction, or a savepoint inside the one already open."""
        conn = self.conn
        if not conn.in_transaction:
            with self.transaction():
                yield self
            return
        savepoint = f"crmkit_{secrets.token_hex(8)}"
        conn.execute(f"SAVEPOINT {savepoint}")
        try:
            yield self
        except BaseException:
            # An error that ended the whole transaction took its savepoints with it.
            if conn.in_transaction:
                conn.execute(f"ROLLBACK TO SAVEPOINT {savepoint}")
                conn.execute(f"RELEASE SAVEPOINT {savepoint}")
            raise
        else:
            conn.execute(f"RELEASE SAVEPOINT {savepoint}")

    @contextmanager
    def bulk_transaction(self, first: Sequence[str] = ()) -> Iterator["SqliteDatabase"]:
        """Foreign keys off while the load writes, then every one checked with one query each
        before the commit. SQLite checks a row's reference by opening a cursor on the parent
        table for that row: a 1M-purchase import spent about 2 s of 12 on it, and the checks
        before the commit take 0.25 s (each reads the child's index of the reference, when it
        has one, against the parent's key)."""
        conn = self.conn
        if conn.in_transaction:  # SQLite ignores PRAGMA foreign_keys inside a transaction
            with self.atomic():
                yield self
            return
        (enforced,) = conn.execute("PRAGMA foreign_keys").fetchone()
        conn.execute("PRAGMA foreign_keys=OFF")
        try:
            with self.transaction():
                yield self
                if enforced:
                    self._check_references(first)
        finally:
            if conn.in_transaction:  # a failed COMMIT may leave it open, and the pragma would not apply
                conn.execute("ROLLBACK")
            conn.execute(f"PRAGMA foreign_keys={'ON' if enforced else 'OFF'}")

    def _check_references(self, first: Sequence[str]) -> None:
        """Raise an IntegrityError naming the first dangling foreign key (the tables ``first``
        checked before the others): a child row whose columns are all given and match no parent
        row, SQLite's own rule. One query a foreign key, the parent looked up by its key."""
        order = {table: position for position, table in enumerate(first)}
        for table, parent, child_columns, parent_columns in sorted(self._foreign_keys(), key=lambda key: order.get(key[0], len(order))):
            match = " AND ".join(f"p.{quote(p)} = c.{quote(c)}" for c, p in zip(child_columns, parent_columns))
            given = " AND ".join(f"c.{quote(c)} IS NOT NULL" for c in child_columns)
            row = self.conn.execute(
                f"SELECT {', '.join(f'c.{quote(c)}' for c in child_columns)} FROM {quote(table)} AS c "
                f"LEFT JOIN {quote(parent)} AS p ON {match} WHERE {given} AND p.{quote(parent_columns[0])} IS NULL LIMIT 1"
            ).fetchone()
            if row is not None:
                column = ", ".join(child_columns)
                value = row[0] if len(row) == 1 else tuple(row)
                raise errors.IntegrityError(
                    f"FOREIGN KEY constraint failed: {table}.{column} {value!r} is in no row of {parent}",
                    table=table, column=column, value=value, parent=parent,
                )

    def _foreign_keys(self) -> list[tuple[str, str, list[str], list[str]]]:
        """(table, parent table, its columns, the parent's columns) of every foreign key, in
        the order of the tables' names; a key written ``REFERENCES parent`` names the parent's
        primary key."""
        keys: dict[tuple[str, int], tuple[str, list[str], list[str | None]]] = {}
        for table, key, parent, child_column, parent_column in self.conn.execute(
            'SELECT m.name, f.id, f."table", f."from", f."to" FROM sqlite_master m, pragma_foreign_key_list(m.name) f '
            "WHERE m.type = 'table' ORDER BY m.name, f.id, f.seq"
        ):
            _, child_columns, parent_columns = keys.setdefault((table, key), (parent, [], []))
            child_columns.append(child_column)
            parent_columns.append(parent_column)
        found = []
        for (table, _), (parent, child_columns, parent_columns) in keys.items():
            if None in parent_columns:
                parent_columns = self.primary_key(parent)
            found.append((table, parent, child_columns, parent_columns))
        return found

    # --- schema ----------------------------------------------------------------------------------

    def table_names(self) -> list[str]:
        return _table_names(self.conn)

    def view_names(self) -> list[str]:
        """The names of the file's views (sqlite-utils' ``view_names``, without importing it)."""
        return [row[0] for row in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'view'")]

    def __getitem__(self, name: str):
        """sqlite-utils' table (or view) ``name`` on this connection."""
        return self._sqlite_utils()[name]

    def table(self, name: str, **options: Any):
        """sqlite-utils' table ``name`` on this connection, with its default options."""
        return self._sqlite_utils().table(name, **options)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "_tables_api":
            raise AttributeError(name)
        return getattr(self._sqlite_utils(), name)

    def _sqlite_utils(self):
        if self._tables_api is None:
            import sqlite_utils

            # The connection is set up already (see connect); sqlite-utils' own plugins do not
            # take part in a CRM's connection.
            self._tables_api = sqlite_utils.Database(self.conn, recursive_triggers=False, execute_plugins=False)
        return self._tables_api

    def close(self) -> None:
        self.conn.close()

    def columns_of(self, table: str) -> list[str]:
        return [row[1] for row in self.conn.execute("SELECT * FROM pragma_table_info(?)", [table])]

    def referenced_tables(self, table: str) -> list[str]:
        return sorted({row[2] for row in self.conn.execute("SELECT * FROM pragma_foreign_key_list(?)", [table])})

    def primary_key(self, table: str) -> list[str]:
        """The primary key's columns; empty for a table keyed only by SQLite's implicit row id."""
        keyed = [(row[5], row[1]) for row in self.conn.execute("SELECT * FROM pragma_table_info(?)", [table]) if row[5]]
        return [name for _, name in sorted(keyed)]

    def index_definitions(self, tables: Sequence[str]) -> list[tuple[str, str, bool]]:
        marks = ", ".join("?" * len(tables))
        rows = self.conn.execute(
            f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            f"AND tbl_name IN ({marks}) ORDER BY name",
            list(tables),
        )
        return [(name, sql, sql.lstrip().upper().startswith("CREATE UNIQUE")) for name, sql in rows]

    def bulk_insert(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        """executemany, a list at a time (an iterator is read :data:`_BULK_ROWS` rows at a time),
        with a column that is None in every row of one written as a literal NULL instead of
        bound once per row (see :func:`_empty_columns`)."""
        names = ", ".join(f'"{c}"' for c in columns)
        insert = f'INSERT INTO "{table}" ({names}) VALUES '
        width = len(columns)
        cursor = self.conn.cursor()
        count = 0
        for chunk in [rows] if isinstance(rows, list) else _lists(rows, _BULK_ROWS):
            markers: list[str] = ["?"] * width
            values: Iterable[Sequence[Any]] = chunk
            empty = _empty_columns(chunk, width) if len(chunk) >= _SCAN_EMPTY_FROM else set()
            if empty:
                for index in empty:
                    markers[index] = "NULL"
                values = list(map(_picker([i for i in range(width) if i not in empty]), chunk))
            row = f"({', '.join(markers)})"
            try:
                count += insert_grouped(cursor, insert, row, values, grouped=len(empty) < width)
            except sqlite3.Error as error:
                raise _translate_error(error) from error
        return count

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

    def create_indexes(self, statements: Iterable[str]) -> None:
        """Build the indexes with a page cache of :data:`SORT_RUN_KIB`, which sizes the sort runs;
        the cache is as large as before once they are built or have failed."""
        with self._page_cache(SORT_RUN_KIB):
            for statement in statements:
                self.execute(statement)

    @contextmanager
    def loading(self) -> Iterator[None]:
        """A page cache of :data:`LOAD_CACHE_KIB` while the load runs (the usual one after)."""
        with self._page_cache(LOAD_CACHE_KIB):
            yield

    @contextmanager
    def _page_cache(self, kib: int) -> Iterator[None]:
        """This connection's page cache at ``kib`` KiB inside the block, as it was after it."""
        (before,) = self.conn.execute("PRAGMA cache_size").fetchone()
        self.conn.execute(f"PRAGMA cache_size=-{kib}")
        try:
            yield
        finally:
            self.conn.execute(f"PRAGMA cache_size={int(before)}")


#: Rows from which :meth:`SqliteDatabase.bulk_insert` looks for columns empty in every row.
_SCAN_EMPTY_FROM = 64
#: Rows :meth:`SqliteDatabase.bulk_insert` reads from an iterator at a time.
_BULK_ROWS = 50_000


#: Rows :meth:`SqliteDatabase.bulk_insert` writes with one statement (64 rows of 13 values
#: bind 832 parameters; SQLite allows 32,766).
_ROWS_PER_STATEMENT = 64


def insert_grouped(cursor, insert: str, row: str, values: Sequence[Sequence[Any]], grouped: bool = True) -> int:
    """Run ``insert`` (``INSERT ... VALUES ``) for each of ``values`` (``row`` its markers,
    ``(?, ?)``): :data:`_ROWS_PER_STATEMENT` rows a statement (unless not ``grouped``), the
    remainder one a statement; returns the rows inserted. Many rows a statement cost a step and
    a reset per 64 rows instead of per row (1M rows of 7 values: 1.1-1.3 s instead of 1.5-1.9 s)."""
    whole = len(values) // _ROWS_PER_STATEMENT * _ROWS_PER_STATEMENT if grouped else 0
    count = 0
    if whole:
        cursor.executemany(insert + ", ".join([row] * _ROWS_PER_STATEMENT), _joined(values[:whole], _ROWS_PER_STATEMENT))
        count += max(cursor.rowcount, 0)
    if whole < len(values):
        cursor.executemany(insert + row, values[whole:])
        count += max(cursor.rowcount, 0)
    return count


def _joined(rows: Sequence[Sequence[Any]], per: int) -> Iterator[tuple]:
    """The values of ``per`` rows at a time as one flat tuple (``rows`` holds a multiple of ``per``)."""
    for start in range(0, len(rows), per):
        yield tuple(chain.from_iterable(rows[start:start + per]))


def _lists(rows: Iterable[Sequence[Any]], size: int) -> Iterator[list[Sequence[Any]]]:
    """``rows`` as lists of ``size`` (the last one shorter)."""
    rows = iter(rows)
    while chunk := list(islice(rows, size)):
        yield chunk


def _empty_columns(rows: list[Sequence[Any]], width: int) -> set[int]:
    """The positions at which every row holds None. Python's sqlite3 binds None through its
    adaptation protocol, about ten times as slow as an int: 1M rows of 13 values, 6 of them None,
    took 3.0 s to insert, and 1.1 s with those 6 written as NULL in the statement."""
    first = rows[0]
    return {
        index for index in range(width)
        if first[index] is None and list(map(itemgetter(index), rows)).count(None) == len(rows)
    }


def _picker(kept: list[int]) -> Callable[[Sequence[Any]], tuple]:
    """A function giving a row's values at ``kept``, always as a tuple."""
    if not kept:
        return lambda row: ()
    if len(kept) == 1:
        (only,) = kept
        return lambda row: (row[only],)
    return itemgetter(*kept)


def _translate_error(error: sqlite3.Error) -> Exception:
    message = str(error)
    if "readonly database" in message:
        return errors.ReadOnly(
            "the CRM file is read-only: this command changes it, so nothing was done "
            "(reading commands work on a read-only file)"
        )
    if "database or disk is full" in message:
        return errors.StorageFull("the disk is full: the change was rolled back and the CRM is as it was")
    if isinstance(error, sqlite3.IntegrityError):
        return errors.IntegrityError(message)
    if isinstance(error, sqlite3.OperationalError) and ("locked" in message or "busy" in message):
        return errors.ConcurrencyError(message)
    if isinstance(error, (sqlite3.OperationalError, sqlite3.ProgrammingError, sqlite3.InterfaceError)):
        return errors.StatementError(message)
    return errors.EngineError(message)


def connect(target: Target) -> SqliteDatabase:
    """Open (creating if needed) a CRM file with the settings crmkit relies on.

    An existing file is recognised first (see :mod:`.identity`): another application's file is
    refused before anything in it changes. A file that is not writable opens read-only, so that
    reading commands work and writing ones fail with one clear error. WAL lets a notebook read
    while a CLI writes; the busy timeout makes a second writer wait instead of failing with
    "database is locked"; foreign keys keep rows attached to customers; a page cache of
    :data:`PAGE_CACHE_KIB` keeps a large load from rereading its pages.
    """
    path = target.path
    shown = target.describe()
    read_only = False
    if path != ":memory:":
        file = Path(path).expanduser().resolve()
        if not file.parent.is_dir():
            raise CrmError(f"cannot open {path}: folder {file.parent} does not exist")
        read_only = file.exists() and not _writable(file)
    try:
        if read_only:
            conn = sqlite3.connect(f"{file.as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_SECONDS, check_same_thread=False)
        else:
            conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, check_same_thread=False)
    except sqlite3.DatabaseError as error:
        raise CrmError(f"cannot open {path}: {error}") from None
    try:
        (application_id,) = conn.execute("PRAGMA application_id").fetchone()
        # Another application's file is opened as it is, for inspection only: crm.open refuses
        # it (identity.recognise) and nothing here changes a byte of it.
        ours = identity.is_crmkit(application_id, _table_names(conn))
        if ours and path != ":memory:" and not read_only:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        if ours and not read_only and application_id != identity.APPLICATION_ID:
            conn.execute(f"PRAGMA application_id={identity.APPLICATION_ID}")
        conn.execute("PRAGMA foreign_keys=ON")
        # As sqlite-utils set it when it opened CRM files: REPLACE's deletions fire delete triggers.
        conn.execute("PRAGMA recursive_triggers=ON")
        conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_SECONDS * 1000)}")
        conn.execute(f"PRAGMA cache_size=-{PAGE_CACHE_KIB}")
    except sqlite3.DatabaseError as error:
        conn.close()
        if "not a database" in str(error):
            raise errors.NotACrmFile(f"{shown} is not a crmkit CRM: it is not a SQLite database; crmkit left it unchanged") from None
        raise CrmError(f"cannot open {path}: {error}") from None
    database = SqliteDatabase(target, conn)
    database.read_only = read_only
    database.application_id = application_id
    return database


def _rows(cursor: sqlite3.Cursor, keys: list[str]) -> Iterator[dict]:
    try:
        for row in cursor:
            yield dict(zip(keys, row))
    except sqlite3.Error as error:
        # SQLite may refuse a statement only when its rows are read (e.g. an unknown function).
        raise _translate_error(error) from error


def _first_word(sql: str) -> str:
    found = _FIRST_WORD.match(sql)
    return found.group(1).upper() if found else ""


def _writable(file: Path) -> bool:
    """Whether crmkit may write ``file``: permitted, and not marked read-only by its mode bits
    (which the superuser's access ignores)."""
    return os.access(file, os.W_OK) and bool(file.stat().st_mode & 0o222)


def _table_names(conn: sqlite3.Connection) -> list[str]:
    return [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
