"""The everyday commands: log a call, add a task, read the audit log, back up.

With ``customers update`` (in customers.py), a day's work from the shell, without Python:
``interactions record`` and ``interactions list``, ``tasks add``, ``audit`` and ``backup``. Each is a thin layer over the
core API; nothing here writes SQL.
"""

from __future__ import annotations

from pathlib import Path

import click

from ..cli import db_argument, open_crm
from ..errors import CrmError
from ._common import AS_OF, ID, limit_option, pairs, table, when


@click.group("interactions")
def interactions_group() -> None:
    """Record and list a customer's interactions (calls, visits, purchases, ...)."""


@interactions_group.command("record")
@db_argument
@click.argument("customer_id", type=ID)
@click.argument("kind")
@click.option("--at", "occurred_at", type=AS_OF,
              help="When it happened (default: now); a date, or a time without an offset, is the home zone's.")
@click.option("--amount", help="Money, for purchases and refunds (e.g. 19.99).")
@click.option("--channel", help="phone, email, store, web, ...")
@click.option("--product")
@click.option("--category")
@click.option("--rep", help="Who handled it.")
@click.option("--notes")
def record_interaction(db: str, customer_id: int, kind: str, **fields) -> None:
    """Record one interaction: a call, a visit, a purchase, ...

    Example: crmkit interactions record shop.db 1 call --notes "asked for a quote" --rep rep-1
    """
    with open_crm(db) as crm:
        if fields.get("occurred_at") is not None:
            fields["occurred_at"] = crm.calendar.to_datetime(fields["occurred_at"], "--at")
        recorded = crm.interactions.record(customer_id, kind, **{k: v for k, v in fields.items() if v is not None})
    click.echo(f"Recorded {recorded.kind} {recorded.id} for customer {recorded.customer_id} at {when(recorded.occurred_at, crm.zone)}")


@interactions_group.command("list")
@db_argument
@click.argument("customer_id", type=ID)
@limit_option(default=20)
def list_interactions(db: str, customer_id: int, limit: int, offset: int) -> None:
    """A customer's interactions, newest first.

    Example: crmkit interactions list shop.db 1 --limit 5
    """
    with open_crm(db) as crm:
        crm.customers.get(customer_id)
        history = crm.interactions.history(customer_id, limit=limit, offset=offset)
    table(
        [(i.id, i.occurred_at, i.kind, i.amount, i.channel, i.rep, i.notes) for i in history],
        ["id", "occurred_at", "kind", "amount", "channel", "rep", "notes"], empty="No interactions.", zone=crm.zone,
    )


@click.command("add")
@db_argument
@click.argument("kind")
@click.option("--customer", "customer_id", type=ID, help="The customer the task is about.")
@click.option("--owner", help="Who should do it.")
@click.option("--due", "due_at", type=AS_OF, help="When it is due (a date means its midnight in the home zone).")
@click.option("--reason", help="What to do and why.")
def add_task(db: str, kind: str, customer_id: int | None, **fields) -> None:
    """Create a follow-up task.

    Example: crmkit tasks add shop.db call --customer 1 --owner rep-1 --due 2025-07-01 --reason "send the quote"
    """
    with open_crm(db) as crm:
        if customer_id is not None:
            crm.customers.get(customer_id)
        if fields.get("due_at") is not None:
            # a date (or a time without an offset) is the home zone's, as --as-of is
            fields["due_at"] = crm.calendar.to_datetime(fields["due_at"], "--due")
        task = crm.tasks.create(kind, customer_id, source="cli", **{k: v for k, v in fields.items() if v is not None})
    click.echo(f"Created task {task.id}: {task.kind}" + (f" for customer {task.customer_id}" if task.customer_id else ""))


@click.command("audit")
@db_argument
@click.option("--customer", "customer_id", type=ID, help="Entries about this customer.")
@click.option("--entity", help="Entries about this kind of record (customer, task, lead, ...).")
@click.option("--id", "entity_id", help="With --entity: the record's id.")
@click.option("--actor", help="Changes made by this user.")
@click.option("--action", help="This action, e.g. customer.update, or a prefix ending in * (customer.*).")
@click.option("--since", type=AS_OF, help="From this time on (home zone; a date is its midnight).")
@click.option("--until", type=AS_OF, help="Up to this time (home zone; a date is its midnight).")
@limit_option(default=50)
def audit(db: str, customer_id, entity, entity_id, actor, action, since, until, limit: int, offset: int) -> None:
    """Read the audit log: who changed what, when. Newest first.

    Example: crmkit audit shop.db --customer 42
    """
    if customer_id is not None:
        if entity not in (None, "customer") or entity_id is not None:
            raise CrmError("--customer cannot be combined with --entity or --id")
        entity, entity_id = "customer", customer_id
    elif entity_id is not None and entity is None:
        raise CrmError("--id needs --entity")
    with open_crm(db) as crm:
        since, until = (None if t is None else crm.calendar.to_datetime(t, name) for t, name in ((since, "--since"), (until, "--until")))
        entries = crm.audit.query(entity=entity, entity_id=entity_id, actor=actor, action=action,
                                  since=since, until=until, limit=limit, offset=offset)
    if not entries:
        click.echo("No audit entries.")
    for entry in entries:
        about = f"{entry.entity} {entry.entity_id}" if entry.entity_id is not None else entry.entity
        click.echo(f"#{entry.id}  {when(entry.at, crm.zone)}  {entry.actor}  {entry.action}  {about}")
        for line in _changes(entry):
            click.echo(f"    {line}")


def _changes(entry) -> list[str]:
    """One line per changed field (before -> after), or the entry's details when it has no before."""
    before, after = entry.before or {}, entry.after or {}
    if isinstance(before, dict) and isinstance(after, dict) and before:
        changed = [k for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)]
        return [f"{k}: {before.get(k)!r} -> {after.get(k)!r}" for k in changed]
    if isinstance(after, dict):
        return [f"{k}: {v!r}" for k, v in sorted(after.items())]
    return [] if not after else [str(after)]


@click.command("backup")
@db_argument
@click.argument("destination", type=click.Path(dir_okay=False))
@click.option("--replace", is_flag=True, help="Overwrite DESTINATION if it exists.")
def backup(db: str, destination: str, replace: bool) -> None:
    """Copy a live CRM file to DESTINATION, consistent while others keep writing.

    Uses SQLite's online backup. For a CRM on a PostgreSQL server, use the server's own tool
    (pg_dump), or `crmkit copy URL FILE` for a crmkit file of it.

    Example: crmkit backup shop.db shop-2025-07-01.db
    """
    from ..engine import describe, is_server_url

    if is_server_url(db):
        raise CrmError(f"{describe(db)} is on a server: back it up with pg_dump, or `crmkit copy {describe(db)} FILE`")
    target = Path(destination)
    if target.exists() and not replace:
        raise CrmError(f"{destination} exists; pass --replace to overwrite it")
    if target.exists() and target.resolve() == Path(db).resolve():
        raise CrmError("DESTINATION is the CRM file itself")
    with open_crm(db) as crm:
        written = crm.db.backup_to(target)
    pairs([("backup", destination), ("bytes", written)])
