"""``tasks`` (list, done, cancel) and ``due``: the follow-ups people and plugins create."""

from __future__ import annotations

import click

from ..cli import db_argument, open_crm
from ..errors import CrmError
from ._common import AS_OF, ID, cell, limit_option, steps, table, when


@click.group("tasks")
def group() -> None:
    """Open tasks: follow-ups owed to customers."""


@group.command("list")
@db_argument
@click.option("--owner", help="Only this owner's tasks.")
@click.option("--customer", "customer_id", type=ID, help="Only tasks about this customer id.")
@limit_option()
def list_tasks(db: str, owner: str | None, customer_id: int | None, limit: int, offset: int) -> None:
    """List open tasks, soonest due first.

    Example: crmkit tasks list shop.db --owner rep-3
    """
    with open_crm(db) as crm:
        found = crm.tasks.open(owner=owner, customer_id=customer_id, limit=limit, offset=offset)
    table(
        [(t.id, t.kind, t.customer_id, t.owner, t.due_at, t.source, t.reason) for t in found],
        ["id", "kind", "customer", "owner", "due_at", "source", "reason"], empty="No open tasks.", zone=crm.zone,
    )


@group.command("done")
@db_argument
@click.argument("task_id", type=ID)
@click.option("--note", help="A closing note.")
def done(db: str, task_id: int, note: str | None) -> None:
    """Mark an open task done.

    Example: crmkit tasks done shop.db 17 --note "called, all fine"
    """
    with open_crm(db) as crm:
        task = crm.tasks.complete(task_id, note)
    click.echo(f"Task {task.id} ({task.kind}) done.")


@group.command("cancel")
@db_argument
@click.argument("task_id", type=ID)
@click.option("--reason", help="Why it is cancelled.")
def cancel(db: str, task_id: int, reason: str | None) -> None:
    """Cancel an open task.

    Example: crmkit tasks cancel shop.db 17 --reason "customer moved away"
    """
    with open_crm(db) as crm:
        task = crm.tasks.cancel(task_id, reason)
    click.echo(f"Task {task.id} ({task.kind}) cancelled.")


def _summary(result) -> str:
    """A plugin's due summary on one line; a nested count such as ``escalated`` per level shows
    its total with the parts in parentheses (``escalated=3 (supervisor=2, manager=1)``), an
    empty one as 0."""
    if not isinstance(result, dict):
        return cell(result)
    parts = []
    for key, value in result.items():
        if isinstance(value, dict):
            numbers = all(isinstance(v, int) and not isinstance(v, bool) for v in value.values())
            if not value:
                value = "0"
            elif numbers:
                value = f"{sum(value.values())} ({_summary(value)})"
            else:
                value = f"({_summary(value)})"
        parts.append(f"{key}={cell(value)}")
    return ", ".join(parts)


@click.command("due")
@db_argument
@click.option("--now", type=AS_OF, help="Run as of this time (default: the clock). Same time twice does nothing new.")
def due(db: str, now) -> None:
    """Run every plugin's scheduled work: recycle leads, escalate complaints, create tasks, ...

    Prints each plugin's summary. Exits with status 1 if a plugin failed (its work is rolled back;
    the other plugins' work stays).
    Example: crmkit due shop.db --now 2025-07-01T06:00:00Z
    """
    with open_crm(db) as crm, steps("Due work") as step:
        report = crm.run_due(now, progress=lambda plugin: step(f"{plugin}..."))
    click.echo(f"Due work as of {when(report.now, crm.zone)}:")
    if not report.results and not report.errors:
        click.echo("  no active plugin has scheduled work")
    for plugin, result in report.results.items():
        click.echo(f"  {plugin}: {_summary(result) if result not in (None, {}) else 'done'}")
    for plugin, message in report.errors.items():
        click.echo(f"  {plugin}: FAILED: {message}", err=True)
    if report.errors:
        raise CrmError(f"{len(report.errors)} plugin(s) failed: {', '.join(report.errors)}; their work was rolled back")
