"""Named, ordered schema migrations, recorded in the database they changed.

:class:`Migrations` has the interface of ``sqlite_utils.Migrations`` (sqlite-utils >= 4) and
keeps the same record, the ``_sqlite_migrations`` table, so files made by either are read by
both and a plugin may return either kind of set. It is crmkit's own because importing
sqlite-utils imports pandas and numpy whenever they are installed: a command that opens an
up-to-date CRM only reads the record, and with this class it pays for sqlite-utils only when a
migration actually runs (its functions call ``db["name"].create(...)``).

Statements go through the engine interface, so the record works the same on PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable, Iterator, NamedTuple

RECORD_TABLE = "_sqlite_migrations"


class Migration(NamedTuple):
    """One registered migration: its name and the function that makes the change."""

    name: str
    fn: Callable
    transactional: bool = True


class AppliedMigration(NamedTuple):
    """A migration as the record lists it."""

    name: str
    applied_at: str


class Migrations:
    """A plugin's (or the core's) migration set, named after its owner.

    Register functions in the order they must run, never edit one that has been applied::

        migrations = Migrations("crmkit_example")

        @migrations()
        def m001_marks(db):
            db["example_marks"].create({"id": int, "customer_id": int}, pk="id")
    """

    def __init__(self, name: str):
        self.name = name
        self._migrations: list[Migration] = []

    @property
    def migrations(self) -> list[Migration]:
        """The registered migrations, in order."""
        return list(self._migrations)

    def __call__(self, *, name: str | None = None, transactional: bool = True) -> Callable[[Callable], Callable]:
        """Decorator registering a migration under ``name`` (default: the function's name)."""

        def register(fn: Callable) -> Callable:
            migration_name = name or fn.__name__
            if any(m.name == migration_name for m in self._migrations):
                raise ValueError(f"migration {migration_name!r} is already registered in set {self.name!r}")
            self._migrations.append(Migration(migration_name, fn, transactional))
            return fn

        return register

    def applied(self, db) -> list[AppliedMigration]:
        """The set's migrations that the record lists, in the order they were applied. Reads only."""
        if RECORD_TABLE not in db.table_names():
            return []
        return [AppliedMigration(row["name"], row["applied_at"]) for row in db.query(
            f"SELECT name, applied_at FROM {RECORD_TABLE} WHERE migration_set = ? ORDER BY id", [self.name],
        )]

    def pending(self, db) -> list[Migration]:
        """The registered migrations not yet applied, in order. Reads only."""
        done = {m.name for m in self.applied(db)}
        return [m for m in self._migrations if m.name not in done]

    def apply(self, db) -> None:
        """Run every pending migration, each recorded in the same transaction as its change."""
        _ensure_record(db)
        for migration in self.pending(db):
            if migration.transactional:
                with db.transaction():
                    migration.fn(db)
                    self._record(db, migration.name)
            else:
                migration.fn(db)
                self._record(db, migration.name)

    def _record(self, db, name: str) -> None:
        db.execute(
            f"INSERT INTO {RECORD_TABLE} (migration_set, name, applied_at) VALUES (?, ?, ?)",
            [self.name, name, str(datetime.now(timezone.utc))],
        )

    def __iter__(self) -> Iterator[Migration]:
        return iter(self._migrations)

    def __repr__(self) -> str:
        return f"<Migrations {self.name!r}: [{', '.join(m.name for m in self._migrations)}]>"


def _ensure_record(db) -> None:
    """The record table, in the shape sqlite-utils gives it."""
    if RECORD_TABLE in db.table_names():
        return
    db.execute(
        f"CREATE TABLE {RECORD_TABLE} (id INTEGER PRIMARY KEY, migration_set TEXT, name TEXT, applied_at TEXT)"
    )
    db.execute(f"CREATE UNIQUE INDEX idx_{RECORD_TABLE}_migration_set_name ON {RECORD_TABLE} (migration_set, name)")
