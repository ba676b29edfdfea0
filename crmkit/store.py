"""The store: how the core and plugins reach the engine layer (:mod:`crmkit.engine`).

``connect`` opens a CRM's database by path or URL; ``transaction`` gives one write one
transaction; the SQL helpers spell the expressions the two engines write differently.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from typing import Iterator
from weakref import WeakKeyDictionary

from .engine import Database
from .engine import connect as _connect
from .engine.sql import (  # noqa: F401 - re-exported for services and plugins
    days_between, epoch_seconds, json_get, json_get_number_param, json_get_param, json_items_from, json_list_contains, json_member,
    json_records, json_values, shift_days, shift_days_by, time_from_epoch, unindexed, whole_number,
)


def connect(target) -> Database:
    """Open (creating a SQLite file if needed) the CRM database that ``target`` names."""
    return _connect(target)


@contextmanager
def transaction(db: Database) -> Iterator[Database]:
    """One write, one transaction; nested calls become savepoints of the outer one."""
    with db.transaction():
        yield db


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


@contextmanager
def indexes_deferred(db: Database, tables: tuple[str, ...]) -> Iterator[list[str]]:
    """Drop the plain secondary indexes of ``tables`` for a bulk load; build them again after.

    Loading millions of rows in an order that scatters them across an index (the index cliff)
    is several times slower than building the index once at the end. Unique indexes stay, so
    constraints still hold during the load, and so do partial ones (``... WHERE``): they hold
    only the rows their condition picks, and building one again would read the whole table.
    The indexes are rebuilt, from their own stored definitions, when the block ends, also when
    it fails; :func:`restore_deferred_indexes` builds a table's sooner, for work that needs them
    during the load. Yields the names of the deferred indexes.
    """
    saved: dict[str, list[tuple[str, str]]] = {}
    for table in dict.fromkeys(tables):
        plain = [(name, sql) for name, sql, unique in db.index_definitions([table]) if not unique and not _partial(sql)]
        if plain:
            saved[table] = plain
    with transaction(db):
        for indexes in saved.values():
            for name, _ in indexes:
                db.execute(f'DROP INDEX "{name}"')
    pending = _deferred.setdefault(db, {})
    pending.update(saved)
    try:
        yield [name for indexes in saved.values() for name, _ in indexes]
    finally:
        for table in saved:
            restore_deferred_indexes(db, table)
        if not pending:
            _deferred.pop(db, None)


def restore_deferred_indexes(db: Database, table: str) -> None:
    """Build now the indexes of ``table`` that a running bulk load deferred (see
    :func:`indexes_deferred`); nothing when none wait.

    For a plugin's hook that looks rows of its table up by such an index during a large import
    (a full scan per lookup otherwise): the indexes are then kept up, row by row, for the rest
    of the load. The rows already loaded are indexed in one pass."""
    indexes = _deferred.get(db, {}).pop(table, None)
    if not indexes:
        return
    with transaction(db):
        db.create_indexes(sql for _, sql in indexes)


#: The indexes each database's running bulk loads deferred, by table.
_deferred: "WeakKeyDictionary[Database, dict[str, list[tuple[str, str]]]]" = WeakKeyDictionary()


def _partial(create_index: str) -> bool:
    """Whether a CREATE INDEX statement indexes only the rows of a condition."""
    return re.search(r"\)\s*WHERE\b", create_index, re.IGNORECASE) is not None
