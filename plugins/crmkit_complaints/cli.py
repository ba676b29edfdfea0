"""``crmkit complaints ...``: the process, SLA board, figures, handlers and feedback from the shell."""

from __future__ import annotations

import json
import re
from datetime import datetime
from decimal import Decimal

import click

from crmkit.cli import ID, LIMIT, db_argument, open_crm
from crmkit.formatting import local_time

from .models import BREAKDOWNS, COLUMNS, FEEDBACK_CLASSES, FEEDBACK_STATUSES, RESOLUTIONS, ROLES, SEVERITIES, STATES


_STORED_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


_LOCAL = "A date means its midnight, a time without an offset is read, in the CRM's home zone."


def _crm(db):
    return open_crm(db, plugin="complaints")


def _local_moment(crm, value: str | None, option: str):
    """``value`` read in the CRM's home zone (as ``--as-of`` is), or None for "now"."""
    return None if value is None else crm.calendar.to_datetime(value, option)


def _value(value, zone=None) -> str:
    """A cell as text; a time on the home zone's clock with its zone (``2025-07-01 07:00 CST``)."""
    if value is None:
        return "-"
    if isinstance(value, datetime) or (isinstance(value, str) and _STORED_TIME.match(value)):
        return local_time(value, zone)
    return str(value)


def _table(rows: list[dict], columns, zone=None) -> None:
    if not rows:
        click.echo("(none)")
        return
    texts = [[_value(r.get(c), zone) for c in columns] for r in rows]
    widths = [max(len(c), *(len(t[i]) for t in texts)) for i, c in enumerate(columns)]
    click.echo("  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip())
    for t in texts:
        click.echo("  ".join(v.ljust(w) for v, w in zip(t, widths)).rstrip())


def _brief(c) -> dict:
    return {"id": c.id, "customer": c.customer_id, "status": c.status + (" (paused)" if c.paused_at else ""),
            "severity": c.severity, "category": c.category, "owner": c.owner, "received": c.received_at,
            "resolve_due": c.resolve_due_at}


def _show_one(c, zone) -> None:
    _table([_brief(c)], ("id", "customer", "status", "severity", "category", "owner", "received", "resolve_due"), zone)


@click.group("complaints")
def complaints_group() -> None:
    """Complaint tickets: the handling process, SLA clocks, escalation, figures and feedback."""


@complaints_group.command("open")
@db_argument
@click.argument("customer_id", type=ID)
@click.option("--category", help="What the complaint is about (billing, delivery, ...).")
@click.option("--product", help="The product concerned.")
@click.option("--severity", type=click.Choice(SEVERITIES), default="normal", show_default=True)
@click.option("--channel", help="How it came in: phone, email, web, in_person, social, ...")
@click.option("--description", help="What happened, in the customer's words.")
@click.option("--desired-outcome", help="What the customer asks for.")
@click.option("--owner", help="Handler to assign (default: least loaded with a matching skill).")
@click.option("--received-at", help=f"When it came in (default: now). {_LOCAL}")
def open_command(db, customer_id, category, product, severity, channel, description, desired_outcome, owner, received_at):
    """Open a complaint for CUSTOMER_ID."""
    with _crm(db) as crm:
        c = crm.complaints.open(customer_id, category=category, product=product, severity=severity, channel=channel,
                                description=description, desired_outcome=desired_outcome, owner=owner,
                                received_at=_local_moment(crm, received_at, "--received-at"))
        click.echo(f"opened complaint {c.id} for customer {c.customer_id}, owner {c.owner or '(unassigned)'}, "
                   f"acknowledge by {_value(c.ack_due_at, crm.calendar.zone)}, resolve by {_value(c.resolve_due_at, crm.calendar.zone)}")


@complaints_group.command("list")
@db_argument
@click.option("--status", type=click.Choice(STATES))
@click.option("--owner")
@click.option("--customer", "customer_id", type=ID)
@click.option("--category")
@click.option("--open", "only_open", is_flag=True, help="Only complaints not yet answered.")
@click.option("--overdue", is_flag=True, help="Only open complaints past a deadline now.")
@click.option("--limit", type=LIMIT, default=50, show_default=True)
def list_command(db, status, owner, customer_id, category, only_open, overdue, limit):
    """List complaints, oldest first."""
    with _crm(db) as crm:
        rows = crm.complaints.list(status=status, owner=owner, customer_id=customer_id, category=category,
                                   open=only_open, overdue=overdue, limit=limit)
        _table([_brief(c) for c in rows], ("id", "customer", "status", "severity", "category", "owner", "received", "resolve_due"),
               crm.calendar.zone)


@complaints_group.command("show")
@db_argument
@click.argument("complaint_id", type=ID)
@click.option("--internal", is_flag=True, help="Also show internal notes and escalations.")
def show_command(db, complaint_id, internal):
    """Show a complaint and the history the customer sees."""
    with _crm(db) as crm:
        c = crm.complaints.get(complaint_id)
        zone = crm.calendar.zone
        _show_one(c, zone)
        details = {"channel": c.channel, "product": c.product, "description": c.description,
                   "desired outcome": c.desired_outcome, "decision": c.decision, "reason": c.decision_reason,
                   "resolution": c.resolution, "amount": c.resolution_amount, "satisfaction": c.satisfaction,
                   "accepted": c.accepted, "acknowledge due": c.ack_due_at, "acknowledged": c.acknowledged_at}
        for key, value in details.items():
            if value is not None:
                click.echo(f"{key}: {_value(value, zone)}")
        click.echo("\nCustomer-visible history:")
        _table([{"at": h.at, "step": h.event, "message": h.message} for h in crm.complaints.history(complaint_id)],
               ("at", "step", "message"), zone)
        if internal:
            click.echo("\nInternal notes:")
            _table([{"at": n.at, "author": n.author, "text": n.text} for n in crm.complaints.notes(complaint_id)],
                   ("at", "author", "text"), zone)
            click.echo("\nEscalations:")
            _table(crm.complaints.escalations(complaint_id), ("cycle", "level", "name", "at", "from_owner", "to_owner"), zone)


def _step(name: str, help_text: str, method: str, *options):
    def command(db, complaint_id, message, at, **kwargs):
        with _crm(db) as crm:
            c = getattr(crm.complaints, method)(complaint_id, message=message, at=_local_moment(crm, at, "--at"), **kwargs)
            click.echo(f"complaint {c.id} is now {c.status}" + (" (paused)" if c.paused_at else ""))

    command.__doc__ = help_text
    command = click.option("--message", help="What the customer is told (default: a standard text).")(command)
    command = click.option("--at", help=f"When the step was taken (default: now). {_LOCAL}")(command)
    for option in reversed(options):
        command = option(command)
    command = click.argument("complaint_id", type=ID)(command)
    command = db_argument(command)
    complaints_group.command(name)(command)


_step("ack", "Acknowledge a received complaint.", "acknowledge")
_step("assess", "Start assessing an acknowledged (or reopened) complaint.", "assess")
_step("resolve", "Resolve a complaint judged valid, with what was done.", "resolve",
      click.option("--resolution", type=click.Choice(RESOLUTIONS), required=True),
      click.option("--amount", help="Money paid or credited, exact (e.g. 25.00)."),
      click.option("--detail", help="What exactly was done."))
_step("reject", "Reject a complaint judged not valid, with the reason.", "reject",
      click.option("--reason", required=True, help="Why it is not upheld (the customer is told)."))
_step("follow-up", "Record the follow-up: satisfaction 1-5 and whether the customer accepted.", "follow_up",
      click.option("--score", type=click.IntRange(1, 5)),
      click.option("--accepted/--not-accepted", default=None))
_step("close", "Close a followed-up complaint.", "close")
_step("reopen", "Reopen a closed or rejected complaint, with the reason.", "reopen",
      click.option("--reason", required=True))
_step("pause", "Stop the resolve clock while waiting on the customer.", "pause",
      click.option("--reason", required=True, help="What is awaited from the customer."))
_step("resume", "Restart the clock after the customer answered.", "resume")


@complaints_group.command("assign")
@db_argument
@click.argument("complaint_id", type=ID)
@click.argument("handler")
def assign_command(db, complaint_id, handler):
    """Give a complaint to HANDLER."""
    with _crm(db) as crm:
        c = crm.complaints.assign(complaint_id, handler)
        click.echo(f"complaint {c.id} is now handled by {c.owner}")


@complaints_group.command("note")
@db_argument
@click.argument("complaint_id", type=ID)
@click.argument("text")
def note_command(db, complaint_id, text):
    """Add an internal note (never shown to the customer)."""
    with _crm(db) as crm:
        crm.complaints.add_note(complaint_id, text)
        click.echo(f"note added to complaint {complaint_id}")


@complaints_group.command("sla")
@db_argument
@click.option("--as-of", help="Time to judge the clocks at (default: now).")
@click.option("--owner", help="Only this handler's complaints.")
@click.option("--limit", type=LIMIT, default=50, show_default=True)
def sla_command(db, as_of, owner, limit):
    """Open complaints with their running clock: deadline, hours left, ok/at_risk/breached/paused."""
    with _crm(db) as crm:
        rows = crm.complaints.sla(as_of, owner=owner, limit=limit)
        for row in rows:
            row["hours_left"] = None if row["left_s"] is None else round(row["left_s"] / 3600, 1)
        _table(rows, ("id", "customer_id", "owner", "severity", "status", "clock", "due_at", "hours_left", "state"),
               crm.calendar.zone)


@complaints_group.command("stats")
@db_argument
@click.option("--as-of", help="Date of the figures (default: now).")
@click.option("--since", help="Start of the period (default: 365 days before --as-of).")
@click.option("--by", type=click.Choice(BREAKDOWNS), help="Break the figures down.")
@click.option("--segment", help="Only customers of this saved segment or rule.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def stats_command(db, as_of, since, by, segment, as_json):
    """Complaint figures: counts, SLA shares, time to resolve, reopens, repeats, satisfaction, rates."""
    with _crm(db) as crm:
        rows = crm.complaints.stats(as_of, by=by, since=since, segment=segment)
        if as_json:
            click.echo(json.dumps(rows, indent=2, default=str))
        else:
            _table(rows, COLUMNS)


@complaints_group.command("handlers")
@db_argument
def handlers_command(db):
    """List complaint handlers."""
    with _crm(db) as crm:
        _table([{"name": h.name, "role": h.role, "supervisor": h.supervisor, "skills": ",".join(h.skills) or None,
                 "active": h.active} for h in crm.complaints.handlers()],
               ("name", "role", "supervisor", "skills", "active"))


@complaints_group.command("handler-add")
@db_argument
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), default="handler", show_default=True)
@click.option("--supervisor", help="Who complaints are escalated to.")
@click.option("--skills", default="", help="Comma-separated categories the handler takes first.")
@click.option("--inactive", is_flag=True, help="Add but do not assign new complaints.")
def handler_add_command(db, name, role, supervisor, skills, inactive):
    """Add or change a handler."""
    with _crm(db) as crm:
        h = crm.complaints.add_handler(name, role=role, supervisor=supervisor, skills=skills, active=not inactive)
        click.echo(f"handler {h.name} ({h.role}) saved")


# --- feedback ---------------------------------------------------------------------------------

@complaints_group.group("feedback")
def feedback_group() -> None:
    """Suggestions and stated needs: record, classify, merge duplicates, rank."""


@feedback_group.command("add")
@db_argument
@click.argument("customer_id", type=ID)
@click.argument("text")
@click.option("--title")
@click.option("--class", "classification", type=click.Choice(FEEDBACK_CLASSES), default="other", show_default=True)
def feedback_add(db, customer_id, text, title, classification):
    """Record a suggestion from CUSTOMER_ID."""
    with _crm(db) as crm:
        item = crm.complaints.feedback.record(customer_id, text, title=title, classification=classification)
        click.echo(f"feedback {item.id} recorded")


@feedback_group.command("list")
@db_argument
@click.option("--status", type=click.Choice(FEEDBACK_STATUSES))
@click.option("--class", "classification", type=click.Choice(FEEDBACK_CLASSES))
def feedback_list(db, status, classification):
    """List feedback items (merged duplicates left out)."""
    with _crm(db) as crm:
        rows = crm.complaints.feedback.list(status=status, classification=classification)
        _table([{"id": f.id, "class": f.classification, "status": f.status, "requesters": f.requesters,
                 "title": f.title or (f.text or "")[:50]} for f in rows], ("id", "class", "status", "requesters", "title"))


@feedback_group.command("classify")
@db_argument
@click.argument("feedback_id", type=ID)
@click.option("--class", "classification", type=click.Choice(FEEDBACK_CLASSES))
@click.option("--urgency", type=click.IntRange(1, 5))
@click.option("--importance", type=click.IntRange(1, 5))
@click.option("--cost", type=click.IntRange(1, 5))
@click.option("--title")
def feedback_classify(db, feedback_id, classification, urgency, importance, cost, title):
    """Set an item's class and the scores behind its priority."""
    with _crm(db) as crm:
        item = crm.complaints.feedback.classify(feedback_id, classification=classification, urgency=urgency,
                                                importance=importance, cost=cost, title=title)
        click.echo(f"feedback {item.id}: {item.classification}, urgency {item.urgency}, importance {item.importance}, cost {item.cost}")


@feedback_group.command("status")
@db_argument
@click.argument("feedback_id", type=ID)
@click.argument("status", type=click.Choice(FEEDBACK_STATUSES))
def feedback_status(db, feedback_id, status):
    """Set an item's status (new, validated, planned, done, declined)."""
    with _crm(db) as crm:
        item = crm.complaints.feedback.set_status(feedback_id, status)
        click.echo(f"feedback {item.id} is {item.status}")
        if status == "done":
            for r in crm.complaints.feedback.requesters(feedback_id):
                click.echo(f"  tell customer {r['customer_id']} {r['name']} <{r['email'] or '-'}>")


@feedback_group.command("merge")
@db_argument
@click.argument("keep_id", type=ID)
@click.argument("duplicate_id", type=ID)
def feedback_merge(db, keep_id, duplicate_id):
    """Merge DUPLICATE_ID into KEEP_ID (its requesters move over)."""
    with _crm(db) as crm:
        item = crm.complaints.feedback.merge(keep_id, duplicate_id)
        click.echo(f"feedback {duplicate_id} merged into {item.id}; {item.requesters} customer(s) asked")


@feedback_group.command("top")
@db_argument
@click.option("--as-of")
@click.option("--limit", type=LIMIT, default=10, show_default=True)
def feedback_top(db, as_of, limit):
    """The top requested improvements by priority, and who asked."""
    with _crm(db) as crm:
        rows = crm.complaints.feedback.top(as_of=as_of, limit=limit)
        for row in rows:
            row["customers"] = ",".join(str(i) for i in row["customer_ids"][:10]) + ("..." if len(row["customer_ids"]) > 10 else "")
            row["value"] = str(row["value"]) if isinstance(row["value"], Decimal) else row["value"]
        _table(rows, ("id", "title", "classification", "status", "requesters", "value", "priority", "customers"))
