"""The plugin's hook implementations: everything crmkit learns about competitors comes from here."""

from __future__ import annotations

from crmkit import Chart, Field, Panel, Section, hookimpl

from . import queries
from .schema import migrations
from .service import CompetitorService


@hookimpl
def crmkit_migrations():
    return migrations


@hookimpl
def crmkit_extend(crm):
    return {"competitors": CompetitorService(crm)}


@hookimpl
def crmkit_fields(crm):
    return [
        Field("lost_to_competitor", "text", "The competitor the customer was most recently lost to.", queries.LOST_TO_FIELD),
        Field("competitors_serving", "number", "How many competitors also serve the customer.", queries.SERVING_FIELD),
    ]


@hookimpl
def crmkit_report_sections(crm, as_of):
    rows = crm.competitors.wins_and_losses(as_of=as_of)
    return [Section(
        "competitors.wins_losses", "Wins and losses against competitors",
        figures={"lost": sum(r["lost_to"] for r in rows), "won": sum(r["won_from"] for r in rows)},
        rows=rows, columns=["competitor", "positioning", "lost_to", "won_from", "also_serves"],
        charts=[Chart("bar", "Customers lost to and won from each competitor", x="competitor", y=["lost_to", "won_from"])],
        notes="Links noted up to the report date.",
    )]


@hookimpl
def crmkit_panels(crm):
    from .panel import competitors_panel

    return [Panel("competitors", "Competitors", competitors_panel, order=80)]


@hookimpl
def crmkit_commands(cli):
    from .cli import competitors

    cli.add_command(competitors)


@hookimpl
def crmkit_customer_forgotten(crm, customer_id):
    crm.db.execute(queries.FORGET, [customer_id])


@hookimpl
def crmkit_customers_merged(crm, kept_id, merged_id):
    crm.db.execute(queries.MERGE, [kept_id, merged_id])
