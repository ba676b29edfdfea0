"""crmkit plugin: leads — lead allocation, the shared lead pool and its recycling.

See docs/plugins/leads.md. Other plugins add allocation strategies through the
``crmkit_leads_strategies`` hook, returning :class:`Selector` or :class:`Picker` objects.
"""

from .models import AllocationResult, Assignment, Lead, Move, Rep
from .strategies import Candidates, Picker, Selector, Strategy

__all__ = ["AllocationResult", "Assignment", "Candidates", "Lead", "Move", "Picker", "Rep", "Selector", "Strategy"]
