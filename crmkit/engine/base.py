"""What every engine's database offers the code above it."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterable, Iterator, Sequence

from attrs import frozen

from ..errors import ValidationError


@frozen
class Features:
    """An engine's capabilities and limits, as data read where choices depend on them."""

    max_variables: int
    supports_vacuum: bool = True
    #: Whether a schema change inside a write transaction (dropping an index for a bulk load)
    #: leaves readers on other connections undisturbed until it commits: true of SQLite in WAL
    #: mode (readers keep their snapshot); not of PostgreSQL, where DROP INDEX locks the table
    #: against every reader until the commit.
    private_schema_changes: bool = False


class Database:
    """The engine layer's handle on a CRM's database.

    Statements are written once, in the SQL both engines share, with ``?`` or ``:name``
    parameters; see docs/plugins/writing-plugins.md. Methods:

    - ``execute(sql, params)`` returns a cursor (``fetchone``, ``fetchall``, iteration,
      ``description``, ``rowcount``); ``query(sql, params)`` yields rows as dicts;
      ``executemany(sql, rows)`` runs one statement for many parameter rows and returns how
      many rows it changed (``INSERT OR IGNORE`` counts only the rows it inserted).
    - ``transaction()``: one write, one transaction; nested use becomes a savepoint. Writers
      queue: the outermost level takes the engine's write lock (SQLite ``BEGIN IMMEDIATE``, a
      PostgreSQL advisory lock), so a check-then-write inside it cannot race another process.
    - ``table_names()``, ``columns_of(table)``, ``primary_key(table)``,
      ``referenced_tables(table)``, ``index_definitions(tables)``: schema introspection.
    - ``bulk_insert(table, columns, rows)``: the engine's fastest load (COPY on PostgreSQL).
    - ``pipelined()``: writes whose results go unread, sent with the next statement (PostgreSQL).
    - ``loading()``: the connection's settings for one large load (a larger page cache on
      SQLite), put back when it ends.
    """

    engine: str
    features: Features

    def execute(self, sql: str, params: Any = None):  # pragma: no cover - interface
        """Run one statement with ``?`` or ``:name`` parameters; returns a cursor."""
        raise NotImplementedError

    def executemany(self, sql: str, rows: Iterable[Any]) -> int:  # pragma: no cover - interface
        """Run one statement for each parameter row; returns how many rows it changed."""
        raise NotImplementedError

    def query(self, sql: str, params: Any = None) -> Iterator[dict]:  # pragma: no cover - interface
        """The rows of a query, as dicts keyed by column name."""
        raise NotImplementedError

    @contextmanager
    def transaction(self):  # pragma: no cover - interface
        """One write, one transaction (a savepoint when nested); takes the engine's write lock."""
        raise NotImplementedError
        yield

    @contextmanager
    def pipelined(self) -> Iterator["Database"]:
        """Inside a transaction, the statements run in the block may be sent later, with the next
        statement whose result is read or with the COMMIT, saving a server round trip each
        (PostgreSQL); their errors are raised there and roll the transaction back. Reading a
        statement's result is always correct. On SQLite, which has no round trips, they run at once.
        """
        yield self

    def bulk_insert(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:  # pragma: no cover
        """Load rows (sequences in ``columns`` order) the engine's fastest way; returns their number."""
        raise NotImplementedError

    def table_names(self) -> list[str]:  # pragma: no cover - interface
        """The names of the CRM's tables."""
        raise NotImplementedError

    def columns_of(self, table: str) -> list[str]:  # pragma: no cover - interface
        """The column names of ``table``, in order."""
        raise NotImplementedError

    def primary_key(self, table: str) -> list[str]:  # pragma: no cover - interface
        """The primary key columns of ``table``, in key order."""
        raise NotImplementedError

    def referenced_tables(self, table: str) -> list[str]:  # pragma: no cover - interface
        """The tables ``table``'s foreign keys point at."""
        raise NotImplementedError

    def index_definitions(self, tables: Sequence[str]) -> list[tuple[str, str, bool]]:  # pragma: no cover - interface
        """(name, CREATE INDEX statement, unique) of the secondary indexes of ``tables``."""
        raise NotImplementedError

    def create_indexes(self, statements: Iterable[str]) -> None:
        """Run ``CREATE INDEX`` statements over tables already filled (a bulk load's deferred
        indexes), in the caller's transaction.

        Each in turn by default; SQLite sorts each index's rows in runs that fit a processor's
        cache (see :meth:`SqliteDatabase.create_indexes`)."""
        for statement in statements:
            self.execute(statement)

    @contextmanager
    def bulk_transaction(self, first: Sequence[str] = ()) -> Iterator["Database"]:
        """One transaction for a large load: as :meth:`transaction`, but an engine may check
        the foreign keys of every table once, just before the commit, rather than as each row
        is written. A dangling reference then refuses the whole transaction, with nothing
        kept (an :class:`~crmkit.engine.errors.IntegrityError` naming it), as a row-by-row
        check would have. The tables ``first`` (the load's own) are checked before the others,
        so that the error names a row of the load rather than one derived from it.

        By default, and inside a transaction already open (where the block is a savepoint),
        each row is checked as it is written."""
        with self.transaction():
            yield self

    @contextmanager
    def loading(self) -> Iterator[None]:
        """This connection's settings for one large load (a bulk import), put back when it ends.

        Nothing by default; SQLite lets its page cache grow for the load."""
        yield

    def refresh_statistics(self, tables: Sequence[str]) -> None:
        """After a bulk load: let the query planner see the tables' new sizes and values.

        Nothing to do by default: SQLite plans crmkit's statements from their indexes, and a
        file carries no statistics unless someone runs ANALYZE on it.
        """

    def vacuum(self) -> None:  # pragma: no cover - interface
        """Give the space of deleted rows back and rewrite freed pages."""
        raise NotImplementedError

    def utc_offset(self, time_sql: str, zone: str) -> str:  # pragma: no cover - interface
        """SQL for the UTC offset, in whole seconds, that IANA zone ``zone`` has at the storage time
        ``time_sql`` (a column or a parameter: it may be written many times)."""
        raise NotImplementedError

    def local_time(self, time_sql: str, zone: str) -> str:  # pragma: no cover - interface
        """SQL for the storage time ``time_sql`` as wall-clock text in ``zone``
        (``YYYY-MM-DDTHH:MM:SS``; the time itself when ``zone`` is UTC), so that ``substr(..., 1, 7)``
        is its local month and ``substr(..., 1, 10)`` its local day."""
        raise NotImplementedError

    def close(self) -> None:  # pragma: no cover - interface
        """Close the connection."""
        raise NotImplementedError

    def integrity_check(self) -> str:
        """``"ok"``, or what the engine's own consistency check of the stored data found wrong.

        A server database keeps its own storage consistent; a SQLite file is checked page by page.
        """
        return "ok"

    def __getitem__(self, name: str):
        from .schema import Table

        return Table(self, name)


def check_parameters(parameters: Any) -> None:
    """Refuse a statement's text parameter that the engines would not store alike: a NUL
    (SQLite keeps it, and its LIKE and length() stop there; PostgreSQL cannot take one) or a
    lone surrogate (UTF-8 cannot encode it). Records and fields refuse these first, naming the
    field; this catches any other path, so that both engines give the same ValidationError."""
    if not parameters:
        return
    for value in parameters.values() if isinstance(parameters, dict) else parameters:
        if isinstance(value, str) and not is_storable_text(value):
            raise ValidationError("value", value, "text without NUL characters or lone surrogates")


def is_storable_text(text: str) -> bool:
    """Whether both engines store ``text`` as it is: no NUL character and no lone surrogate."""
    if "\x00" in text:
        return False
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
