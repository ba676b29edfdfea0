"""Engine-neutral database errors: what crmkit code catches, whichever engine raised it."""

from __future__ import annotations

from ..errors import CrmError


class EngineError(CrmError):
    """The database refused a statement."""


class IntegrityError(EngineError):
    """A constraint (unique, not null, foreign key, check) refused a write.

    When a load's references were checked once, before its commit
    (:meth:`~crmkit.engine.base.Database.bulk_transaction`), ``table``, ``column``, ``value``
    and ``parent`` (the table referred to) name the first dangling reference found; otherwise
    they are None."""

    def __init__(
        self, message: str, *, table: str | None = None, column: str | None = None, value: object = None,
        parent: str | None = None,
    ):
        super().__init__(message)
        self.table, self.column, self.value, self.parent = table, column, value, parent


class StatementError(EngineError):
    """A statement could not run as written (bad SQL, a value of the wrong type, too complex)."""


class ConcurrencyError(EngineError):
    """Another transaction's write conflicted with this one; running it again may succeed."""


class ConnectionLost(EngineError):
    """The server went away in the middle of the work; what was not committed was rolled back."""


class NotACrmFile(CrmError):
    """The file or database holds something other than a CRM (another application's tables, or
    no database at all); crmkit refuses it before changing anything in it."""


class NewerSchema(CrmError):
    """The CRM was written by a newer crmkit: its schema has migrations this crmkit does not know."""


class ReadOnly(EngineError):
    """A change was asked of a CRM that is open read-only (its file is not writable)."""


class StorageFull(EngineError):
    """The disk (or the database's size limit) is full; the change was rolled back."""
