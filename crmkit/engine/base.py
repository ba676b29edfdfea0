"""What every engine's database offers the code above it."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterable, Iterator, Sequence

from attrs import frozen


@frozen
class Features:
    """An engine's capabilities and limits, as data read where choices depend on them."""

    max_variables: int
    supports_vacuum: bool = True


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
    """

    engine: str
    features: Features

    def execute(self, sql: str, params: Any = None):  # pragma: no cover - interface
        raise NotImplementedError

    def executemany(self, sql: str, rows: Iterable[Any]) -> int:  # pragma: no cover - interface
        raise NotImplementedError

    def query(self, sql: str, params: Any = None) -> Iterator[dict]:  # pragma: no cover - interface
        raise NotImplementedError

    @contextmanager
    def transaction(self):  # pragma: no cover - interface
        raise NotImplementedError
        yield

    def bulk_insert(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:  # pragma: no cover
        raise NotImplementedError

    def __getitem__(self, name: str):
        from .schema import Table

        return Table(self, name)
