"""``init``, ``demo``, ``plugins`` and ``migrate``: making, filling and inspecting CRM files."""

from __future__ import annotations

from pathlib import Path

import click

from ..cli import db_argument, open_crm
from ..calendar import weekday_number, zone_named
from ..errors import CrmError
from ..money import exponent_of
from ._common import IntRange, progress_bar, steps, summary, table


@click.command()
@db_argument
@click.option("--currency", default="USD", show_default=True, help="ISO 4217 code of the file's one currency; fixed once created.")
@click.option("--plugins", "plugin_names", metavar="NAMES", help="Comma-separated plugins this file loads (default: every installed plugin).")
@click.option("--timezone", "zone", default="UTC", show_default=True, metavar="ZONE",
              help="Home time zone (IANA name, e.g. Asia/Shanghai): days, weeks and months count in it.")
@click.option("--first-weekday", default="monday", show_default=True, metavar="DAY", help="First day of the week.")
def init(db: str, currency: str, plugin_names: str | None, zone: str, first_weekday: str) -> None:
    """Create a new, empty CRM file.

    Example: crmkit init shop.db --currency EUR
    """
    import crmkit
    from ..plugins import load_plugins

    from ..engine import describe, exists

    if exists(db):
        raise CrmError(f"{describe(db)} exists already; init makes new CRMs only")
    exponent_of(currency)
    zone_named(zone)
    weekday_number(first_weekday)
    selection = [n.strip() for n in plugin_names.split(",") if n.strip()] if plugin_names is not None else None
    if selection is not None:
        load_plugins(selection)  # unknown names fail here, before the file exists
    with crmkit.open(db, plugins=selection, currency=currency, timezone=zone, first_weekday=first_weekday) as crm:
        if selection is not None:
            crm.settings.set("plugins", selection)
        click.echo(f"Created {describe(db)}: money in {crm.currency}, home time zone {crm.calendar.name}, plugins: {', '.join(crm.plugins.names()) or 'none'}")


@click.command()
@db_argument
@click.option("--customers", type=IntRange(min=1), default=5000, show_default=True, help="How many customers to make.")
@click.option("--seed", type=IntRange(min=0), default=7, show_default=True, help="Same seed, same data.")
@click.option("--replace", is_flag=True, help="Overwrite the file if it exists.")
@click.option("--timezone", "zone", default="UTC", show_default=True, metavar="ZONE",
              help="Home time zone (IANA name); the demo's today is 30 June 2025 12:00 on its clock.")
def demo(db: str, customers: int, seed: int, replace: bool, zone: str) -> None:
    """Create a CRM file full of realistic synthetic customers and interactions.

    Example: crmkit demo demo.db --customers 20000 --seed 3 --timezone Asia/Shanghai
    """
    zone_named(zone)
    try:
        from .. import demo as demo_data
    except ImportError as error:
        raise CrmError(f"the demo data generator is not available: {error}") from None
    with progress_bar("Making demo data") as progress:
        result = demo_data.build(db, customers=customers, seed=seed, replace=replace, progress=progress, timezone=zone)
    from ..engine import describe

    click.echo(f"Created {describe(db)}")
    summary(result)


@click.command()
@db_argument
@click.option("--list", "list_only", is_flag=True, help="Only list pending migrations; change nothing.")
def migrate(db: str, list_only: bool) -> None:
    """Apply the pending schema migrations of the core and of every active plugin.

    Every command applies them on opening a file too; this one shows what it does.
    Example: crmkit migrate shop.db --list
    """
    from ..crm import pending_migrations, plugin_selection
    from ..plugins import load_plugins
    from ..store import connect

    from ..engine import describe, exists

    if not exists(db):
        shown = describe(db)
        raise CrmError(f"no CRM file at {shown}; create one with `crmkit init {db if shown == db else 'DB'}`")
    handle = connect(db)
    try:
        from ..variant import inferred

        selection = plugin_selection(handle, db)
        pending = pending_migrations(handle, load_plugins(inferred(handle) if selection is None else selection))
    finally:
        handle.close()
    if not pending:
        click.echo(f"{describe(db)} is up to date: no pending migration.")
        return
    if list_only:
        table(pending, ["set", "migration"])
        return
    open_crm(db).close()
    click.echo(f"Applied {len(pending)} migration(s) to {describe(db)}:")
    table(pending, ["set", "migration"])


@click.command("copy")
@click.argument("source", metavar="SRC")
@click.argument("target", metavar="DST")
@click.option("--replace", is_flag=True, help="Delete the rows a non-empty DST holds before copying.")
def copy_command(source: str, target: str, replace: bool) -> None:
    """Copy a whole CRM, every plugin's tables, between a file and a PostgreSQL server.

    SRC and DST are file paths or postgresql:// URLs. Prints each table's row count and content
    checksum on both sides; a mismatch is an error. A DST that holds rows is refused unless
    --replace is given. The copy is one transaction on DST.

    Example: crmkit copy shop.db postgresql://crm@db.example.com/shop
    """
    from ..copying import copy_crm
    from ..engine import describe, is_server_url

    if not is_server_url(source) and not Path(source).exists():
        raise CrmError(f"no CRM file at {source}")
    if describe(source) == describe(target):
        raise CrmError("SRC and DST name the same CRM")
    with steps("Copying") as step:
        figures = copy_crm(source, target, replace=replace, progress=lambda name, rows: step(f"{name}, {rows:,} rows"))
    table(
        [(f.table, f.source_rows, f.target_rows, f.source_checksum[:12], "ok" if f.matches else "MISMATCH") for f in figures],
        ["table", "rows in SRC", "rows in DST", "checksum", "check"],
    )
    click.echo(f"Copied {sum(f.source_rows for f in figures):,} rows in {len(figures)} tables to {describe(target)}")
