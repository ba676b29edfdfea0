"""``segments``: define, change, count, list members, snapshot and diff segments; check rules."""

from __future__ import annotations

import click

from ..cli import db_argument, open_crm
from ..errors import CrmError
from ._common import AS_OF, ID, LIMIT, limit_option, table, when


@click.group("segments")
def group() -> None:
    """Segments: named rules over customers, their members, snapshots and fields."""


@group.command("list")
@db_argument
@click.option("--counts", is_flag=True, help="Also count each segment's members now.")
def list_segments(db: str, counts: bool) -> None:
    """List saved segments.

    Example: crmkit segments list shop.db --counts
    """
    with open_crm(db) as crm:
        saved = crm.segments.list()
        rows = [
            (s.name, s.rule, s.description) + ((crm.segments[s.name].count(),) if counts else ())
            for s in saved
        ]
    table(rows, ["name", "rule", "description"] + (["members"] if counts else []), empty="No segments saved.")


@group.command("define")
@db_argument
@click.argument("name")
@click.argument("rule")
@click.option("--description", help="What the segment is for.")
def define(db: str, name: str, rule: str, description: str | None) -> None:
    """Save a segment NAME with a RULE.

    Example: crmkit segments define shop.db vip "spend_365d >= 5000 and last_purchase_days <= 90"
    """
    with open_crm(db) as crm:
        view = crm.segments.define(name, rule, description)
        count = view.count()
    click.echo(f"Defined segment {name!r}: {count} members now.")


@group.command("update")
@db_argument
@click.argument("name")
@click.option("--rule", help="The new rule.")
@click.option("--description", help="The new description.")
def update(db: str, name: str, rule: str | None, description: str | None) -> None:
    """Change a segment's rule and/or description.

    Example: crmkit segments update shop.db vip --rule "spend_365d >= 8000"
    """
    if rule is None and description is None:
        raise CrmError("give --rule and/or --description to change")
    with open_crm(db) as crm:
        view = crm.segments.update(name, rule=rule, description=description)
    click.echo(f"Updated segment {name!r}: {view.rule}")


@group.command("delete")
@db_argument
@click.argument("name")
def delete(db: str, name: str) -> None:
    """Delete a segment and its snapshots.

    Example: crmkit segments delete shop.db old-vip
    """
    with open_crm(db) as crm:
        crm.segments.delete(name)
    click.echo(f"Deleted segment {name!r}.")


@group.command("count")
@db_argument
@click.argument("name", required=False)
@click.option("--rule", help="Count an unsaved rule instead of a saved segment.")
@click.option("--as-of", type=AS_OF, help="Count as of this date or time (default: now).")
def count(db: str, name: str | None, rule: str | None, as_of) -> None:
    """Count the members of a saved segment NAME, or of --rule RULE.

    Example: crmkit segments count shop.db --rule "region = 'EU' and ltv > 1000" --as-of 2025-01-01
    """
    if (name is None) == (rule is None):
        raise CrmError("give a segment NAME or --rule RULE (one of them)")
    with open_crm(db) as crm:
        view = crm.segments[name] if name is not None else crm.segments.evaluate(rule)
        click.echo(view.count(as_of=as_of))


@group.command("members")
@db_argument
@click.argument("name")
@click.option("--as-of", type=AS_OF, help="Membership as of this date or time (default: now).")
@limit_option()
def members(db: str, name: str, as_of, limit: int, offset: int) -> None:
    """List a segment's members, a page at a time.

    Example: crmkit segments members shop.db vip --limit 20
    """
    with open_crm(db) as crm:
        view = crm.segments[name]
        found = view.customers(limit=limit, offset=offset, as_of=as_of)
        total = view.count(as_of=as_of)
    table(
        [(c.id, c.name, c.email, c.region, c.owner, c.stage) for c in found],
        ["id", "name", "email", "region", "owner", "stage"], empty="No members.",
    )
    if found:
        click.echo(f"({offset + 1}-{offset + len(found)} of {total})")


@group.command("snapshot")
@db_argument
@click.argument("name")
@click.option("--as-of", type=AS_OF, help="Membership as of this date or time (default: now).")
def snapshot(db: str, name: str, as_of) -> None:
    """Store a segment's membership now (or as of a time), to compare later.

    Example: crmkit segments snapshot shop.db vip
    """
    with open_crm(db) as crm:
        taken = crm.segments[name].snapshot(as_of=as_of)
    click.echo(f"Snapshot {taken.id} of {name!r} as of {when(taken.as_of, crm.zone)}: {taken.members} members.")


@group.command("snapshots")
@db_argument
@click.argument("name")
def snapshots(db: str, name: str) -> None:
    """List a segment's snapshots, oldest first.

    Example: crmkit segments snapshots shop.db vip
    """
    with open_crm(db) as crm:
        crm.segments.get(name)
        taken = crm.segments.snapshots(name)
    table(
        [(s.id, s.as_of, s.taken_at, s.members, s.rule) for s in taken],
        ["id", "as_of", "taken_at", "members", "rule"], empty="No snapshots yet.", zone=crm.zone,
    )


@group.command("diff")
@db_argument
@click.argument("before", type=ID)
@click.argument("after", type=ID)
@click.option("--limit", type=LIMIT, default=100, show_default=True, help="Ids to show at most per list.")
def diff(db: str, before: int, after: int, limit: int) -> None:
    """Who joined and who left between snapshot BEFORE and snapshot AFTER (ids).

    Example: crmkit segments diff shop.db 3 7
    """
    with open_crm(db) as crm:
        change = crm.segments.diff(before, after)
    click.echo(
        f"From snapshot {change.before.id} ({change.before.segment}, as of {when(change.before.as_of, crm.zone)}) "
        f"to {change.after.id} ({change.after.segment}, as of {when(change.after.as_of, crm.zone)}): "
        f"{len(change.joined)} joined, {len(change.left)} left, {change.stayed} stayed."
    )
    for label, ids in (("joined", change.joined), ("left", change.left)):
        if ids:
            more = f" ... ({len(ids) - limit} more)" if len(ids) > limit else ""
            click.echo(f"{label}: {', '.join(str(i) for i in ids[:limit])}{more}")


@group.command("fields")
@db_argument
def fields(db: str) -> None:
    """List every field rules can use: name, type, the plugin giving it, description (in full,
    wrapped to the terminal's width; set COLUMNS to choose another).

    Example: crmkit segments fields shop.db
    """
    with open_crm(db) as crm:
        rows = [(f.name, f.type, f.plugin, f.description) for f in crm.fields]
        rows += [(f.example, "pattern", f.plugin, f.description) for f in crm.fields.families()]
    table(rows, ["name", "type", "plugin", "description"], wrap="description")


@group.command("check")
@db_argument
@click.argument("rule")
def check(db: str, rule: str) -> None:
    """Check a rule against this file's fields; show it normalised, or the error with a caret.

    Example: crmkit segments check shop.db "spend_365d >= 5000 and region in ('EU', 'UK')"
    """
    with open_crm(db) as crm:
        normalised = crm.segments.check(rule)
    click.echo(f"OK: {normalised}")
