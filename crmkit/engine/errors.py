"""Engine-neutral database errors: what crmkit code catches, whichever engine raised it."""

from __future__ import annotations

from ..errors import CrmError


class EngineError(CrmError):
    """The database refused a statement."""


class IntegrityError(EngineError):
    """A constraint (unique, not null, foreign key, check) refused a write."""


class StatementError(EngineError):
    """A statement could not run as written (bad SQL, a value of the wrong type, too complex)."""


class ConcurrencyError(EngineError):
    """Another transaction's write conflicted with this one; running it again may succeed."""


class ConnectionLost(EngineError):
    """The server went away in the middle of the work; what was not committed was rolled back."""
