"""The store: how the core and plugins reach the engine layer (:mod:`crmkit.engine`).

``connect`` opens a CRM's database by path or URL; ``transaction`` gives one write one
transaction; the SQL helpers spell the expressions the two engines write differently.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

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
    """Drop the non-unique secondary indexes of ``tables`` for a bulk load; build them again after.

    Loading millions of rows in an order that scatters them across an index (the index cliff)
    is several times slower than building the index once at the end. Unique indexes stay, so
    constraints still hold during the load. The indexes are rebuilt, from their own stored
    definitions, when the block ends, also when it fails. Yields the names of the deferred
    indexes. Use it only where nothing needs those indexes meanwhile, e.g. building a new file.
    """
    saved = [(name, sql) for name, sql, unique in db.index_definitions(tables) if not unique]
    with transaction(db):
        for name, _ in saved:
            db.execute(f'DROP INDEX "{name}"')
    try:
        yield [name for name, _ in saved]
    finally:
        with transaction(db):
            for _, sql in saved:
                db.execute(sql)
