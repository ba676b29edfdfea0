"""``crmkit competitors ...`` commands."""

from __future__ import annotations

import click

from crmkit.cli import db_argument, open_crm


@click.group("competitors")
def competitors() -> None:
    """Track competitors and the customers won from or lost to them."""


@competitors.command("add")
@db_argument
@click.argument("name")
@click.option("--products", default="", help="Comma-separated products.")
@click.option("--positioning", type=click.Choice(["budget", "mid-market", "premium"]), help="Price positioning.")
@click.option("--strengths", help="What they do well.")
@click.option("--weaknesses", help="Where they fall short.")
def add(db, name, products, positioning, strengths, weaknesses) -> None:
    """Add a competitor."""
    with open_crm(db) as crm:
        found = crm.competitors.add(name, products, positioning, strengths, weaknesses)
        click.echo(f"added competitor {found.name}")


@competitors.command("list")
@db_argument
def list_(db) -> None:
    """List competitors."""
    with open_crm(db) as crm:
        for c in crm.competitors.list():
            click.echo(f"{c.name}\t{c.positioning or '-'}\t{', '.join(c.products)}")


@competitors.command("link")
@db_argument
@click.argument("customer_id", type=int)
@click.argument("competitor")
@click.option("--relation", type=click.Choice(["also_serves", "lost_to", "won_from"]), default="also_serves", show_default=True, help="How the customer relates to the competitor.")
@click.option("--notes", help="Why (e.g. price).")
def link(db, customer_id, competitor, relation, notes) -> None:
    """Link a customer to a competitor."""
    with open_crm(db) as crm:
        crm.competitors.link(customer_id, competitor, relation, notes=notes)
        click.echo(f"customer {customer_id} {relation} {competitor}")


@competitors.command("stats")
@db_argument
@click.option("--as-of", help="Count links noted up to this date.")
def stats(db, as_of) -> None:
    """Wins and losses against each competitor."""
    with open_crm(db) as crm:
        click.echo("competitor\tlost_to\twon_from\talso_serves")
        for row in crm.competitors.wins_and_losses(as_of=as_of):
            click.echo(f"{row['competitor']}\t{row['lost_to']}\t{row['won_from']}\t{row['also_serves']}")
