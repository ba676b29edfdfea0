"""``crmkit timezone``: show or change a CRM's home time zone and first day of the week."""

from __future__ import annotations

import warnings

import click

from ..calendar import WEEKDAYS, weekday_number, zone_named
from ..cli import db_argument, open_crm


@click.command("timezone")
@db_argument
@click.argument("zone", required=False)
@click.option("--first-weekday", metavar="DAY", help="First day of the week (monday ... sunday).")
def timezone_command(db: str, zone: str | None, first_weekday: str | None) -> None:
    """Show the home time zone, or change it to ZONE (an IANA name such as Asia/Shanghai).

    Days, weeks, months and "as of a date" are counted in this zone; stored times stay UTC.
    Changing it moves every day-based figure, so the command says so.

    Example: crmkit timezone shop.db Asia/Shanghai
    """
    if zone is not None:
        zone_named(zone)  # a bad name fails before the file is opened
    if first_weekday is not None:
        weekday_number(first_weekday)
    with open_crm(db) as crm:
        if zone is not None or first_weekday is not None:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                crm.set_timezone(zone or crm.calendar.name, first_weekday)
            for warning in caught:
                click.echo(f"Warning: {warning.message}", err=True)
        click.echo(f"Home time zone: {crm.calendar.name}; weeks start on {WEEKDAYS[crm.calendar.first_weekday]}")
