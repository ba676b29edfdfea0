"""The core's CLI commands (init, demo, import, export, customers, segments, tasks, due,
plugins, migrate, forget)."""

from __future__ import annotations

import click


def register(cli: click.Group) -> None:
    """Attach the core commands to the ``crmkit`` group."""
