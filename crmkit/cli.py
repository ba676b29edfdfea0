"""The ``crmkit`` command line. Core commands live here; plugins add theirs via ``crmkit_commands``.

The database file is the first argument of every command that uses one. User errors print one
line (``Error: ...``) and exit with status 1, without a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from . import __version__
from .errors import CrmError
from .plugins import load_plugins

# Entry point group of the click commands extensions add to ``crmkit`` (e.g. ``serve``).
EXTENSION_COMMANDS = "crmkit.commands"


class CrmGroup(click.Group):
    """A click group that turns crmkit's errors into one-line messages and exit status 1.

    ``plugins_not_loaded`` holds why the plugins' commands are missing, when they are: the help
    text warns about it, and so does an unknown command; a command that opens a CRM reports the
    same cause as its one ``Error:`` line, so it gets no warning besides.
    """

    plugins_not_loaded: str | None = None

    def get_help(self, ctx: click.Context) -> str:
        if self.plugins_not_loaded:
            click.echo(f"Warning: plugins not loaded: {self.plugins_not_loaded}", err=True)
        return super().get_help(ctx)

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        """click's lookup of the command; an unknown one (``crmkit leads ...`` with the leads
        plugin not loaded) says why the plugins' commands are missing."""
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as error:
            if self.plugins_not_loaded:
                error.message = f"{error.message} Plugins' commands are missing: {self.plugins_not_loaded}"
            raise

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CrmError as error:
            raise click.ClickException(str(error)) from None
        except OverflowError as error:
            # A whole number past 64 bits (an id option typed as a plain int), or a date past year 9999.
            raise click.ClickException(f"a number or date is out of range ({error})") from None


def open_crm(path: str | Path, *, must_exist: bool = True, plugin: str | None = None, **options: Any):
    """Open the CRM a command names (a file path or a ``postgresql://`` URL).

    A missing file is a clear error unless ``must_exist=False``. A plugin's commands pass their
    ``plugin`` name: a CRM where that plugin is not active is then one clear error. Plugins'
    commands call this too, so every command opens CRMs the same way.
    """
    import crmkit
    from .engine import describe, is_empty_file, is_server_url

    if is_server_url(str(path)):
        crm = crmkit.open(str(path), **options)
    else:
        target = Path(path)
        if must_exist and str(path) != ":memory:" and not target.exists():
            raise CrmError(f"no CRM file at {path}; create one with `crmkit init {path}` or `crmkit demo {path}`")
        if must_exist and is_empty_file(target):
            raise CrmError(f"{path} is an empty file (0 bytes), not a CRM; create one with `crmkit init {path}`")
        crm = crmkit.open(target, **options)
    if plugin is not None and plugin not in crm.plugins.names():
        crm.close()
        raise CrmError(f"the {plugin} plugin is not active in {describe(path)}")
    return crm


def db_argument(func):
    """The shared first argument of commands that use a CRM: a file path or a ``postgresql://`` URL.

    When a command's only argument is DB, ``$CRMKIT_DATABASE`` may supply it.
    """
    return click.argument("db", envvar="CRMKIT_DATABASE", type=click.Path(dir_okay=False))(func)


def __getattr__(name: str):
    """The option types plugins' commands share with the core's, imported when first asked for:
    ``ID`` (a whole number from 1 to 2**63 - 1), ``LIMIT`` (0 to 2**63 - 1) and ``IntRange``
    (click's, whose mistakes are one ``Error:`` line)."""
    if name in ("ID", "LIMIT", "IntRange"):
        from .commands import _common

        return getattr(_common, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def make_cli() -> click.Group:
    """Build the ``crmkit`` group with the core commands and every active plugin's commands."""

    @click.group(cls=CrmGroup, context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(__version__, prog_name="crmkit")
    def cli() -> None:
        """crmkit: customers, interactions and segments in one SQLite file, extended by plugins."""

    from . import commands
    from .scaffold import new_plugin_command

    from importlib.metadata import entry_points

    commands.register(cli)
    cli.add_command(new_plugin_command)
    scan = entry_points()  # one read of the installed distributions for both groups
    _add_extension_commands(cli, scan)
    try:
        plugin_set = load_plugins(scan=scan)
    except CrmError as error:
        cli.plugins_not_loaded = str(error)  # shown by --help; a command that opens a CRM fails on it
    else:
        # One plugin's broken commands must not take the whole CLI (and the other plugins) down.
        for plugin, _, error in plugin_set.each("crmkit_commands", cli=cli):
            if error is not None:
                click.echo(f"Warning: commands of plugin {plugin!r} not loaded: {type(error).__name__}: {error}", err=True)
    return cli


def _add_extension_commands(cli: click.Group, scan) -> None:
    """Add the commands extensions register in the ``crmkit.commands`` entry point group.

    This is how ``crmkit serve`` (the HTTP API extension) joins the CLI without the core importing
    the extension. A broken entry point is a warning, not a broken CLI.
    """
    for entry in scan.select(group=EXTENSION_COMMANDS):
        try:
            command = entry.load()
        except Exception as error:  # noqa: BLE001 - any failure of a third party's import
            click.echo(f"Warning: command {entry.name!r} ({entry.value}) not loaded: {type(error).__name__}: {error}", err=True)
        else:
            cli.add_command(command, entry.name)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``crmkit`` script."""
    cli = make_cli()
    cli.main(args=argv if argv is not None else sys.argv[1:], prog_name="crmkit")
