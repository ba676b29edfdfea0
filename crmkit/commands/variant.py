"""``crmkit plugins``: the installed plugins, a CRM's own plugin set, and changing that set."""

from __future__ import annotations

import click

from ..cli import open_crm
from ..errors import CrmError
from ._common import table


class _PluginsGroup(click.Group):
    """``crmkit plugins DB`` reads as ``crmkit plugins show DB``: a first argument that is not
    a subcommand names the CRM."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["show", *args]
        return super().parse_args(ctx, args)


ALL = click.option("--all", "show_all", is_flag=True, help="Also list installed plugins that are not active.")


@click.group("plugins", cls=_PluginsGroup, invoke_without_command=True)
@ALL
@click.pass_context
def group(ctx: click.Context, show_all: bool) -> None:
    """List plugins: without DB the installed ones that would load; with DB the CRM's own set.

    A CRM keeps the plugin set chosen when it was created; a plugin installed later is not
    switched on in it until `crmkit plugins add DB NAME`. CRMKIT_PLUGINS (comma-separated names)
    or a crmkit.toml file override the set for one run.

    Examples: crmkit plugins --all; crmkit plugins shop.db; crmkit plugins remove shop.db leads
    """
    if ctx.invoked_subcommand is None:
        from ..plugins import load_plugins

        _list(load_plugins(), show_all)


@group.command("show")
@click.argument("db", type=click.Path(dir_okay=False))
@ALL
def show(db: str, show_all: bool) -> None:
    """The plugins a CRM opens with (its stored set, unless overridden)."""
    with open_crm(db) as crm:
        _list(crm.plugins, show_all)


@group.command("add")
@click.argument("db", type=click.Path(dir_okay=False))
@click.argument("name")
def add(db: str, name: str) -> None:
    """Switch an installed plugin on in a CRM (its tables are created now)."""
    from .. import variant

    variant.check_installed(name)
    with open_crm(db) as crm:
        current = variant.stored(crm.db) or crm.plugins.names()
        if name in current:
            raise CrmError(f"the {name} plugin is already in {db}'s set: {', '.join(sorted(current))}")
        crm.settings.set(variant.SETTING, sorted({*current, name}))
    with open_crm(db) as crm:  # opening with the new set applies the plugin's migrations
        names = crm.plugins.names()
    click.echo(f"Added {name} to {db}; plugins: {', '.join(sorted(names))}")


@group.command("remove")
@click.argument("db", type=click.Path(dir_okay=False))
@click.argument("name")
def remove(db: str, name: str) -> None:
    """Switch a plugin off in a CRM. Its tables and data stay in the file, untouched and no longer
    updated; `crmkit plugins add` switches it back on with them."""
    from .. import variant

    with open_crm(db) as crm:
        current = variant.stored(crm.db) or crm.plugins.names()
        if name not in current:
            raise CrmError(f"the {name} plugin is not in {db}'s set: {', '.join(sorted(current)) or 'none'}")
        crm.settings.set(variant.SETTING, sorted(p for p in current if p != name))
    click.echo(f"Removed {name} from {db}; its tables and data stay in the file (not updated while it is off)")


def _list(plugin_set, show_all: bool) -> None:
    from ..plugins import installed_entry_points

    rows = [(p.name, p.version or "", "active", p.source, ", ".join(h.removeprefix("crmkit_") for h in p.hooks))
            for p in plugin_set.info()]
    if show_all:
        active = set(plugin_set.names())
        for name, entry_point in sorted(installed_entry_points().items()):
            if name not in active:
                dist = getattr(entry_point, "dist", None)
                rows.append((name, dist.version if dist else "", "inactive", entry_point.value, ""))
    table(rows, ["name", "version", "state", "source", "hooks"], empty="No plugin is active.")
