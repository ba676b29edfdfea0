"""crmkit_jupyter: IPython extension and ipywidgets dashboard for crmkit.

In a notebook::

    %load_ext crmkit_jupyter
    %crm open shop.db
    %crm segment vip
    import crmkit_jupyter
    crmkit_jupyter.dashboard(crm)

The extension never imports a plugin: plugin panels arrive through the ``crmkit_panels`` hook,
and plugins build them with :mod:`crmkit_jupyter.toolkit`.
"""

from __future__ import annotations

from typing import Any

from .dashboard import Dashboard, collect_panels, dashboard
from .facts import customer_facts, plugin_fields

__all__ = [
    "Dashboard", "collect_panels", "customer_facts", "dashboard", "load_ipython_extension",
    "plugin_fields", "unload_ipython_extension",
]


def load_ipython_extension(ipython: Any) -> None:
    """Called by ``%load_ext crmkit_jupyter``: registers the ``%crm`` magic."""
    from .magics import CrmMagics

    ipython.register_magics(CrmMagics)


def unload_ipython_extension(ipython: Any) -> None:
    """Called by ``%unload_ext crmkit_jupyter``: removes the ``%crm`` magic."""
    ipython.magics_manager.magics["line"].pop("crm", None)
