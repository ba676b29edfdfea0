"""The hook the leads plugin adds for other plugins: contribute allocation strategies.

Added through ``crmkit_addhooks``. Implement it with ``@crmkit.hookimpl(optionalhook=True)`` so
that your plugin still loads when the leads plugin is not active.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("crmkit")


@hookspec
def crmkit_leads_strategies(crm):
    """Return allocation strategies as a list of ``crmkit_leads.Selector`` / ``crmkit_leads.Picker``.

    A selector narrows the candidate reps of each lead (it runs as set-based SQL over the leads
    being allocated); a picker orders the reps' free slots and so decides who gets which lead.
    Names must not clash with the built-in strategies or another plugin's.
    """
