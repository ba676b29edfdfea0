"""``customers`` (list, show, add, find, duplicates, merge) and ``forget``."""

from __future__ import annotations

import click

from ..cli import db_argument, open_crm
from ..errors import CrmError
from ..models import SIZES, STAGES
from ._common import ID, LIMIT, Choice, limit_option, pairs, table

_COLUMNS = ["id", "name", "email", "company", "region", "owner", "stage"]


def _rows(customers) -> list[tuple]:
    return [(c.id, c.name, c.email, c.company, c.region, c.owner, c.stage) for c in customers]


@click.group("customers")
def group() -> None:
    """List, show, add, find and merge customers."""


@group.command("list")
@db_argument
@click.option("--search", help="Only customers whose name, email or company contains this text.")
@limit_option()
def list_customers(db: str, search: str | None, limit: int, offset: int) -> None:
    """List customers by id, a page at a time.

    Example: crmkit customers list shop.db --search acme --limit 20
    """
    with open_crm(db) as crm:
        found = crm.customers.list(limit=limit, offset=offset, search=search)
        total = crm.customers.count(search=search)
    table(_rows(found), _COLUMNS, empty="No customers.")
    if found:
        click.echo(f"({offset + 1}-{offset + len(found)} of {total})")


@group.command("show")
@db_argument
@click.argument("customer_id", type=ID)
@click.option("--interactions", "recent", type=LIMIT, default=10, show_default=True, help="How many recent interactions to show.")
def show(db: str, customer_id: int, recent: int) -> None:
    """Show one customer: profile, every plugin's facts, recent interactions and open tasks.

    Example: crmkit customers show shop.db 42
    """
    with open_crm(db) as crm:
        customer = crm.customers.get(customer_id)
        facts = crm.customers.facts([customer_id]).get(customer_id, [])
        history = crm.interactions.history(customer_id, limit=recent)
        count = crm.interactions.count(customer_id)
        tasks = crm.tasks.open(customer_id=customer_id)
    pairs([(name, getattr(customer, name)) for name in ("id",) + customer.EDITABLE + ("created_at", "updated_at")], crm.zone)
    if facts:
        click.echo("")
        pairs([(fact.label, "-" if fact.value is None else fact.value) for fact in facts], crm.zone)
    click.echo(f"\nRecent interactions ({len(history)} of {count}):")
    table(
        [(i.occurred_at, i.kind, i.amount, i.channel, i.product, i.rep, i.notes) for i in history],
        ["occurred_at", "kind", "amount", "channel", "product", "rep", "notes"], zone=crm.zone,
    )
    click.echo(f"\nOpen tasks ({len(tasks)}):")
    table([(t.id, t.kind, t.due_at, t.owner, t.reason) for t in tasks], ["id", "kind", "due_at", "owner", "reason"], zone=crm.zone)


_PROFILE_OPTIONS = (
    click.option("--email"),
    click.option("--phone"),
    click.option("--company"),
    click.option("--region"),
    click.option("--industry"),
    click.option("--size", type=Choice(SIZES)),
    click.option("--source", help="Channel the customer came from (referral, trade show, ...)."),
    click.option("--owner", help="The responsible rep."),
    click.option("--external-id", help="The customer's id in another system."),
    click.option("--address"),
)


def profile_options(func):
    """The customer's profile fields as options, shared by ``add`` and ``update``."""
    for option in reversed(_PROFILE_OPTIONS):
        func = option(func)
    return func


@group.command("add")
@db_argument
@click.option("--name", required=True, help="Name of the person or company.")
@profile_options
@click.option("--stage", type=Choice(STAGES), default="new", show_default=True)
@click.option("--tag", "tags", multiple=True, help="A tag (repeatable).")
def add(db: str, tags: tuple[str, ...], **fields) -> None:
    """Add one customer.

    Example: crmkit customers add shop.db --name "Ada Lovelace" --email ada@example.com --tag vip
    """
    with open_crm(db) as crm:
        customer = crm.customers.add(**{k: v for k, v in fields.items() if v is not None}, tags=list(tags))
    click.echo(f"Added customer {customer.id}: {customer.name}")


@group.command("update")
@db_argument
@click.argument("customer_id", type=ID)
@click.option("--name", help="Name of the person or company.")
@profile_options
@click.option("--stage", type=Choice(STAGES))
@click.option("--tag", "tags", multiple=True, help="A tag (repeatable); the tags given replace the customer's tags.")
@click.option("--clear", "cleared", multiple=True, metavar="FIELD", help="Empty this field (repeatable).")
def update(db: str, customer_id: int, tags: tuple[str, ...], cleared: tuple[str, ...], **fields) -> None:
    """Change fields of one customer; the before and after go to the audit log.

    --tag replaces the customer's tags with those given; --clear tags removes them all.

    Example: crmkit customers update shop.db 1 --region "Northern Europe" --owner rep-2 --tag vip
    """
    changes = {name: value for name, value in fields.items() if value is not None}
    if tags:
        changes["tags"] = list(tags)
    for name in cleared:
        field = name.replace("-", "_")
        if field in changes:
            option = "--tag" if field == "tags" else f"--{field.replace('_', '-')}"
            raise CrmError(f"{option} and --clear {name} both change {field}: give one of them")
        changes[field] = None
    if not changes:
        raise CrmError("nothing to change: give at least one field option, or --clear FIELD")
    with open_crm(db) as crm:
        customer = crm.customers.update(customer_id, **changes)
    click.echo(f"Updated customer {customer.id}: " + ", ".join(f"{k}={getattr(customer, k)!r}" for k in sorted(changes)))


@group.command("find")
@db_argument
@click.option("--name", help="Part of the name (case-insensitive).")
@click.option("--email", help="Email address (case and spaces ignored).")
@click.option("--phone", help="Phone number (only the digits count).")
@click.option("--external-id", help="The id in another system, exactly.")
@click.option("--limit", type=LIMIT, default=50, show_default=True, help="Rows to show at most.")
def find(db: str, name, email, phone, external_id, limit: int) -> None:
    """Find customers matching every given criterion.

    Example: crmkit customers find shop.db --email ADA@example.com
    """
    if not any((name, email, phone, external_id)):
        raise CrmError("give at least one of --name, --email, --phone, --external-id")
    with open_crm(db) as crm:
        found = crm.customers.find(name=name, email=email, phone=phone, external_id=external_id, limit=limit)
    table(_rows(found), _COLUMNS, empty="No customer matches.")


@group.command("duplicates")
@db_argument
@click.option("--limit", type=LIMIT, default=100, show_default=True, help="Pairs to show at most.")
def duplicates(db: str, limit: int) -> None:
    """List likely duplicate customers (same email or phone, near-identical name in one company).

    Example: crmkit customers duplicates shop.db
    """
    with open_crm(db) as crm:
        found = crm.customers.duplicates(limit=limit)
    table(
        [(p.first.id, p.first.name, p.second.id, p.second.name, p.reason) for p in found],
        ["id", "name", "other id", "other name", "reason"], empty="No likely duplicates.",
    )
    if found:
        click.echo("Merge a pair with: crmkit customers merge DB KEEP_ID OTHER_ID")


@group.command("merge")
@db_argument
@click.argument("keep_id", type=ID)
@click.argument("other_id", type=ID)
def merge(db: str, keep_id: int, other_id: int) -> None:
    """Merge customer OTHER_ID into KEEP_ID: its interactions, tasks and plugin data move over.

    Example: crmkit customers merge shop.db 12 87
    """
    with open_crm(db) as crm:
        merged = crm.customers.merge(keep_id, other_id)
    click.echo(f"Merged customer {other_id} into {merged.id} ({merged.name}).")


@click.command("forget")
@db_argument
@click.argument("customer_id", type=ID)
@click.option("--yes", is_flag=True, help="Confirm: the personal data is erased for good.")
def forget(db: str, customer_id: int, yes: bool) -> None:
    """Erase a customer's personal data everywhere (right to erasure); figures still add up.

    Example: crmkit forget shop.db 42 --yes
    """
    with open_crm(db) as crm:
        customer = crm.customers.get(customer_id)
        if not yes:
            raise CrmError(f"forgetting customer {customer_id} erases their personal data for good; add --yes to confirm")
        crm.forget(customer_id)
    click.echo(f"Forgot customer {customer_id} ({customer.name}): personal data erased, interactions kept anonymised.")
