"""crmkit: a plugin-based customer relationship management framework on SQLite.

>>> import crmkit
>>> crm = crmkit.open(":memory:", plugins=[])
>>> alice = crm.customers.add(name="Alice Ng", email="alice@example.com", region="EU")
>>> _ = crm.interactions.record(alice.id, "purchase", "2024-05-01", amount="120.00")
>>> crm.segments.evaluate("ltv >= 100 and region = 'EU'").count()
1

The names below are imported on first use, so that ``import crmkit`` (and the ``crmkit``
command's start-up, which needs only a few of them) does not pay for the store and its
libraries until a CRM is opened.
"""

from typing import TYPE_CHECKING

from .errors import (
    ConflictError, CrmError, ImportRefused, NotAuthenticated, NotFound, PermissionDenied, PluginError,
    RuleError, ValidationError,
)
from .lazy import lazy_exports
from .plugins import hookimpl

__version__ = "0.1.0"

# Public name -> the submodule that defines it, imported when the name is first read.
_LAZY = {
    "CRM": "crm", "DueReport": "crm", "open": "crm",
    "Field": "fields", "FieldFamily": "fields",
    "InteractionKind": "kinds",
    "Migrations": "engine.migrations",
    "AuditEntry": "models", "Customer": "models", "CustomerChange": "models", "Interaction": "models",
    "Segment": "models", "Task": "models",
    "Panel": "panels",
    "Permission": "permissions",
    "Chart": "sections", "Section": "sections",
    "F": "segments",
    "User": "users",
}

if TYPE_CHECKING:  # pragma: no cover - what static checkers and IDEs see
    from .crm import CRM, DueReport, open
    from .fields import Field, FieldFamily
    from .engine.migrations import Migrations
    from .kinds import InteractionKind
    from .models import AuditEntry, Customer, CustomerChange, Interaction, Segment, Task
    from .panels import Panel
    from .permissions import Permission
    from .sections import Chart, Section
    from .segments import F
    from .users import User


__getattr__, __dir__ = lazy_exports(globals(), _LAZY)


__all__ = [
    "AuditEntry", "CRM", "Chart", "ConflictError", "CrmError", "Customer", "CustomerChange",
    "DueReport", "F", "Field", "FieldFamily", "ImportRefused", "Interaction", "InteractionKind",
    "Migrations", "NotAuthenticated", "NotFound", "Panel", "Permission", "PermissionDenied", "PluginError",
    "RuleError", "Section", "Segment", "Task", "User", "ValidationError", "hookimpl", "open",
]
