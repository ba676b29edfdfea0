"""Hook implementations of the reports plugin: the ``crm.reports`` service and the CLI.

The plugin keeps no tables of its own: every KPI is computed from the core's interaction log,
so there is nothing to erase on ``crmkit_customer_forgotten`` or to move on a merge.
"""

from __future__ import annotations

from crmkit import hookimpl

from .settings import crmkit_settings  # noqa: F401 - the settings hook, registered with this module


@hookimpl
def crmkit_extend(crm):
    from .service import ReportsService

    return {"reports": ReportsService(crm)}


@hookimpl
def crmkit_commands(cli):
    from .cli import report_command, reports_group

    cli.add_command(report_command)
    cli.add_command(reports_group)


@hookimpl
def crmkit_panels(crm):
    from crmkit import Panel

    from .panel import reports_panel

    return [Panel("reports", "Reports", reports_panel, order=60)]


@hookimpl
def crmkit_permissions():
    from crmkit import Permission

    return [Permission("reports.read", "Read KPIs and reports over every customer", {"manager", "analyst"}, write=False)]


@hookimpl
def crmkit_routes(crm):
    from . import routes

    return [routes.router]
