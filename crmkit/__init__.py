"""crmkit: a plugin-based customer relationship management framework on SQLite.

>>> import crmkit
>>> crm = crmkit.open(":memory:", plugins=[])
>>> alice = crm.customers.add(name="Alice Ng", email="alice@example.com", region="EU")
>>> _ = crm.interactions.record(alice.id, "purchase", "2024-05-01", amount="120.00")
>>> crm.segments.evaluate("ltv >= 100 and region = 'EU'").count()
1
"""

from .crm import CRM, DueReport, open
from .errors import (
    ConflictError, CrmError, ImportRefused, NotFound, PluginError, RuleError, ValidationError,
)
from .fields import Field, FieldFamily
from .kinds import InteractionKind
from .models import AuditEntry, Customer, CustomerChange, Interaction, Segment, Task
from .panels import Panel
from .plugins import hookimpl
from .sections import Chart, Section
from .segments import F

__version__ = "0.1.0"

__all__ = [
    "AuditEntry", "CRM", "Chart", "ConflictError", "CrmError", "Customer", "CustomerChange",
    "DueReport", "F", "Field", "FieldFamily", "ImportRefused", "Interaction", "InteractionKind",
    "NotFound", "Panel", "PluginError", "RuleError", "Section", "Segment", "Task",
    "ValidationError", "hookimpl", "open",
]
