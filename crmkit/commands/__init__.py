"""The core's CLI commands, one module per command group.

``crmkit.cli.make_cli`` calls :func:`register`; plugins add their groups via ``crmkit_commands``.
No SQL here: every command calls the core API.
"""

from __future__ import annotations

import click

from . import config, customers, data, everyday, segments, setup, tasks, users, variant, zone


def register(cli: click.Group) -> None:
    """Attach the core commands to the ``crmkit`` group."""
    for command in (
        setup.init, setup.demo, data.import_command, data.export_command, customers.group,
        segments.group, tasks.group, tasks.due, variant.group, setup.migrate, customers.forget,
        zone.timezone_command, setup.copy_command, everyday.interactions_group, everyday.audit, everyday.backup, users.group, config.group,
    ):
        cli.add_command(command)
    tasks.group.add_command(everyday.add_task)
