"""``crmkit leads ...``: the leads plugin's command line."""

from __future__ import annotations

import json
from pathlib import Path

import click

from crmkit import CrmError
from crmkit.cli import ID, LIMIT, db_argument, open_crm
from crmkit.csvread import CsvSyntaxError, StrictReader

from .figures import BREAKDOWNS


def open_active(db):
    """Open the CRM for a leads command; one error line when the leads plugin is not active in it."""
    return open_crm(db, plugin="leads")


def _table(rows: list[dict], columns: list[str]) -> None:
    if not rows:
        click.echo("(none)")
        return
    text = [[("" if row.get(c) is None else str(row.get(c))) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in text)) for i, c in enumerate(columns)]
    click.echo("  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip())
    for r in text:
        click.echo("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())


def _lead_line(lead) -> str:
    owner = f" owner {lead.owner}" if lead.owner else ""
    return f"lead {lead.id} ({lead.name}): {lead.status}{owner}"


@click.group(name="leads")
def leads_group() -> None:
    """Leads: the shared pool, allocation to reps, recycling and figures."""


@leads_group.command("add")
@db_argument
@click.argument("name")
@click.option("--email")
@click.option("--phone")
@click.option("--company")
@click.option("--industry")
@click.option("--size", type=click.Choice(["micro", "small", "medium", "large", "enterprise"]))
@click.option("--source", help="Source channel: referral, trade show, web search, ...")
@click.option("--region")
@click.option("--priority", type=int, default=0, show_default=True, help="Higher is allocated first.")
@click.option("--needs", help="What the lead needs, in a few words.")
@click.option("--product", help="Product the lead is interested in.")
@click.option("--language")
@click.option("--class", "lead_class", default="default", show_default=True, help="Lead class (sets the recycle period).")
@click.option("--tag", "tags", multiple=True, help="A tag; repeat for more.")
def add_command(db, name, tags, **fields):
    """Add a lead (a prospect customer) to the pool."""
    with open_active(db) as crm:
        values = {k: v for k, v in fields.items() if v is not None}
        lead = crm.leads.add(name, tags=list(tags), **values)
        click.echo(f"added {_lead_line(lead)}")


@leads_group.command("import")
@db_argument
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def import_command(db, file):
    """Import leads from a CSV file (header row) or a JSON list; all rows or none.

    Columns: name (required), customer fields (email, company, industry, size, source, region,
    tags) and lead fields (priority, needs, product, language, lead_class, stage). Errors name
    the line of the CSV file (the header is line 1), or the position in the JSON list.
    """
    path = Path(file)
    lines = None
    if path.suffix.lower() == ".json":
        try:
            rows = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise CrmError(f"{file} is not valid JSON: {error}") from None
        if not isinstance(rows, list):
            raise CrmError(f"{file} must hold a JSON list of objects")
    else:
        rows, lines = [], []
        with path.open(newline="", encoding="utf-8-sig") as handle:
            try:
                records = iter(StrictReader(handle))
                header = [cell.strip() for cell in next(records, (0, 0, []))[2]]
                for start, _, cells in records:
                    if any(cell.strip() for cell in cells):
                        rows.append({k: v for k, v in zip(header, cells) if v != ""})
                        lines.append(start)
            except CsvSyntaxError as error:
                raise CrmError(f"line {error.line} of {file}: {error.reason}; nothing was imported") from None
    with open_active(db) as crm:
        ids = crm.leads.add_many(rows, row_numbers=lines)
        click.echo(f"imported {len(ids)} lead(s) into the pool")


@leads_group.command("pool")
@db_argument
@click.option("--limit", type=LIMIT, default=20, show_default=True, help="Leads to show at most.")
def pool_command(db, limit):
    """List leads waiting in the pool, highest priority first."""
    with open_active(db) as crm:
        rows = [
            {"id": l.id, "name": l.name, "source": l.source, "industry": l.industry, "priority": l.priority,
             "class": l.lead_class, "score": None if l.score is None else f"{l.score:.2f}", "previous owner": l.previous_owner}
            for l in crm.leads.pool(limit=limit)
        ]
        _table(rows, ["id", "name", "source", "industry", "priority", "class", "score", "previous owner"])
        click.echo(f"{crm.leads.counts()['pool']} lead(s) in the pool")


@leads_group.command("claim")
@db_argument
@click.argument("lead", type=ID)
@click.argument("rep")
def claim_command(db, lead, rep):
    """REP claims LEAD from the pool (capacity, daily claim cap and cooldown apply)."""
    with open_active(db) as crm:
        click.echo(f"claimed {_lead_line(crm.leads.claim(lead, rep))}")


@leads_group.command("allocate")
@db_argument
@click.argument("leads", type=ID, nargs=-1)
@click.option("--strategy", "-s", default="least_loaded", show_default=True,
              help="Selectors then a picker, e.g. 'rules > skill_match > least_loaded'.")
@click.option("--dry-run", is_flag=True, help="Show the plan; change nothing.")
@click.option("--quiet", "-q", is_flag=True, help="Print only the summary.")
def allocate_command(db, leads, strategy, dry_run, quiet):
    """Allocate pool leads (all, or the LEADS given) to reps with a strategy."""
    with open_active(db) as crm:
        result = crm.leads.allocate(list(leads) if leads else "pool", strategy=strategy, dry_run=dry_run)
        if not quiet:
            for move in result.moves:
                click.echo(f"lead {move.lead_id} → {move.rep}: {move.reason}")
            for lead_id in result.unassigned:
                click.echo(f"lead {lead_id} stays in the pool: {result.unassigned_reason[lead_id]}")
        verb = "would allocate" if dry_run else "allocated"
        spread = ", ".join(f"{rep} {n}" for rep, n in result.by_rep().items())
        # The whole pool afterwards, not only the leads named: those not named stay there too.
        left = crm.leads.counts()["pool"] - (result.count if dry_run else 0)
        click.echo(f"{verb} {result.count} lead(s) with {result.strategy}; {left} left in the pool"
                   + (f" ({spread})" if spread else ""))


@leads_group.command("release")
@db_argument
@click.argument("lead", type=ID)
@click.argument("rep")
@click.option("--reason")
def release_command(db, lead, rep, reason):
    """REP, the owner, puts LEAD back in the pool."""
    with open_active(db) as crm:
        click.echo(f"released {_lead_line(crm.leads.release(lead, rep, reason))}")


@leads_group.command("extend")
@db_argument
@click.argument("lead", type=ID)
@click.argument("rep")
@click.option("--reason")
def extend_command(db, lead, rep, reason):
    """REP, the owner, gets more time on LEAD before it is recycled."""
    from crmkit.formatting import local_time  # babel loads only when a command prints a time

    with open_active(db) as crm:
        lead_after = crm.leads.extend(lead, rep, reason)
        click.echo(f"extended lead {lead_after.id}: recycled after {local_time(lead_after.recycle_at, crm.zone)} "
                   f"(extension {lead_after.extensions} of {crm.leads.options.max_extensions})")


@leads_group.command("convert")
@db_argument
@click.argument("lead", type=ID)
def convert_command(db, lead):
    """Mark LEAD converted: the customer moves to stage 'new'."""
    with open_active(db) as crm:
        customer = crm.leads.convert(lead)
        click.echo(f"converted lead {lead}: customer {customer.id} ({customer.name}) is now {customer.stage}, owner {customer.owner}")


@leads_group.command("lose")
@db_argument
@click.argument("lead", type=ID)
@click.argument("reason")
def lose_command(db, lead, reason):
    """Mark LEAD lost with REASON (one of the configured lost reasons)."""
    with open_active(db) as crm:
        crm.leads.lose(lead, reason)
        click.echo(f"lead {lead} lost: {reason}")


@leads_group.command("reps")
@db_argument
@click.option("--add", "rep_id", metavar="ID", help="Add or change the rep with this id.")
@click.option("--name")
@click.option("--team")
@click.option("--capacity", type=int, help="Most open leads at once.")
@click.option("--claim-limit", type=int, help="Claims per day.")
@click.option("--experience", type=click.IntRange(1, 5))
@click.option("--industries", help="Comma-separated.")
@click.option("--products", help="Comma-separated.")
@click.option("--languages", help="Comma-separated.")
@click.option("--inactive/--active", default=None, help="Take the rep out of (or back into) allocation.")
@click.option("--as-of", help="Track record as of this date.")
def reps_command(db, rep_id, name, team, capacity, claim_limit, experience, industries, products, languages, inactive, as_of):
    """List reps with their load and track record, or add/change one with --add ID."""
    with open_active(db) as crm:
        if rep_id:
            changes = {k: v for k, v in {
                "name": name, "team": team, "capacity": capacity, "claim_limit": claim_limit, "experience": experience,
                "industries": industries, "products": products, "languages": languages,
            }.items() if v is not None}
            if inactive is not None:
                changes["active"] = not inactive
            try:
                crm.leads.rep(rep_id)
                rep = crm.leads.update_rep(rep_id, **changes)
                click.echo(f"updated rep {rep.id}")
            except CrmError as error:
                if "no rep with id" not in str(error):
                    raise
                if not name:
                    raise CrmError(f"rep {rep_id} is new: give --name") from None
                rep = crm.leads.add_rep(rep_id, changes.pop("name"), **changes)
                click.echo(f"added rep {rep.id}")
            return
        record = {r["rep"]: r for r in crm.leads.track_record(as_of)}
        rows = []
        for rep in crm.leads.reps():
            stats = record.get(rep.id, {})
            rows.append({
                "id": rep.id, "name": rep.name, "team": rep.team, "active": "yes" if rep.active else "no",
                "load": f"{stats.get('open_leads', 0)}/{rep.capacity}", "skills": ",".join(rep.industries + rep.products + rep.languages),
                "converted": stats.get("converted"), "lost": stats.get("lost"), "rate": stats.get("conversion_rate"),
                "median h": stats.get("median_hours_to_follow_up"),
            })
        _table(rows, ["id", "name", "team", "active", "load", "skills", "converted", "lost", "rate", "median h"])


@leads_group.command("rules")
@db_argument
@click.option("--add", "name", metavar="NAME", help="Add an allocation rule with this name (tried after the others).")
@click.option("--rule", help="With --add: the segment rule (or saved segment) of the leads it sends.")
@click.option("--team", help="With --add: send the matching leads to this team's reps.")
@click.option("--rep", "reps", multiple=True, metavar="REP", help="With --add: send them to this rep (repeatable).")
@click.option("--remove", metavar="NAME", help="Remove the allocation rule with this name.")
def rules_command(db, name, rule, team, reps, remove):
    """List the allocation rules of the 'rules' strategy in the order they are tried, or add or
    remove one.

    Example: crmkit leads rules shop.db --add retail --rule "industry = 'retail'" --team north
    """
    if name is not None and remove is not None:
        raise CrmError("give either --add or --remove, not both")
    if name is None and (rule is not None or team is not None or reps):
        raise CrmError("--rule, --team and --rep go with --add NAME")
    if name is not None and rule is None:
        raise CrmError("--add needs --rule: the segment rule of the leads it sends")
    with open_active(db) as crm:
        if name is not None:
            added = crm.leads.add_rule(name, rule, team=team, reps=list(reps))
            click.echo(f"added allocation rule {added.name} (position {added.position})")
        elif remove is not None:
            crm.leads.remove_rule(remove)
            click.echo(f"removed allocation rule {remove}")
        else:
            _table(
                [{"position": r.position, "name": r.name, "rule": r.rule, "team": r.team, "reps": ",".join(r.reps)}
                 for r in crm.leads.rules()],
                ["position", "name", "rule", "team", "reps"],
            )


@leads_group.command("stats")
@db_argument
@click.option("--as-of", help="Figures as of this date (default: now).")
@click.option("--by", type=click.Choice(BREAKDOWNS), help="Break the figures down.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def stats_command(db, as_of, by, as_json):
    """Lead figures: received, assigned, converted, lost, recycled, conversion, fairness."""
    with open_active(db) as crm:
        rows = crm.leads.stats(as_of, by=by)
        fairness = crm.leads.fairness(as_of)
        if as_json:
            click.echo(json.dumps({"rows": rows, "fairness": fairness}, indent=2))
            return
        _table(rows, [by or "group", "received", "assigned", "converted", "lost", "recycled", "conversion_rate", "median_hours_to_follow_up"])
        click.echo(f"fairness: capacity-weighted Gini of open load {fairness['gini']}")


def register(cli: click.Group) -> None:
    """Attach ``crmkit leads``."""
    cli.add_command(leads_group)
