"""Hook implementations of the leads plugin: lead allocation and the shared lead pool.

Each hook imports what it uses, so that loading the plugin (as every ``crmkit`` command does)
costs nothing until a CRM needs it.
"""

from __future__ import annotations

from crmkit import hookimpl

from crmkit.timeutil import to_iso

from . import hookspecs

from .facts import crmkit_customer_facts  # noqa: F401 - the facts hook, registered with this module
from .settings import crmkit_settings  # noqa: F401 - the settings hook, registered with this module


@hookimpl
def crmkit_addhooks(pm):
    pm.add_hookspecs(hookspecs)


@hookimpl
def crmkit_migrations():
    from . import schema

    return schema.migrations


@hookimpl
def crmkit_extend(crm):
    from .service import LeadsService

    return {"leads": LeadsService(crm)}


@hookimpl
def crmkit_fields(crm):
    from . import fields

    return list(fields.FIELDS)


@hookimpl
def crmkit_customers_added(crm, customers):
    """Prospects added through the core API wait in the pool as leads (option ``auto_pool``)."""
    if not customers:
        return
    from . import queries

    if len(customers) <= queries.STAGES_READ_IN_PYTHON:
        prospects = [c.id for c in customers if c.stage == "prospect"]
    else:  # a bulk insert's records are built on reading: ask the database over the id range
        prospects = queries.prospects_between(crm.db, customers[0].id, customers[-1].id)
    if prospects and crm.leads.options.auto_pool:  # the option is a settings read: only when needed
        crm.leads.receive(prospects)


@hookimpl
def crmkit_customers_updated(crm, changes):
    """A customer moved back to stage ``prospect`` joins the pool (unless it already is a lead)."""
    prospects = [c.after.id for c in changes if c.after.stage == "prospect" and c.before.stage != "prospect"]
    if prospects and crm.leads.options.auto_pool:
        crm.leads.receive(prospects, received_at=crm.now())


@hookimpl
def crmkit_interactions_recorded(crm, interactions):
    """Contacts by a lead's owner are follow-ups: one set-based pass over the batch's id range."""
    if interactions:
        from . import pool

        pool.fold_follow_ups(crm.leads, interactions[0].id, interactions[-1].id)


@hookimpl
def crmkit_customer_forgotten(crm, customer_id, erasure):
    from . import queries

    crm.db.execute(queries.FORGET_LEAD, [customer_id])
    people = erasure.people
    marks = ", ".join("?" * len(people))
    erasure.scrub_rows("leads_leads", ("lost_reason",), f"customer_id IN ({marks})", people, key="customer_id")
    erasure.scrub_rows("leads_assignments", ("reason", "end_reason"), f"lead_id IN ({marks})", people)
    erasure.scrub_audit("lead", people)


@hookimpl
def crmkit_customers_merged(crm, kept_id, merged_id):
    from . import queries

    db = crm.db
    has = {row[0] for row in db.execute(queries.MERGE_HAS_LEAD, [kept_id, merged_id])}
    if merged_id not in has:
        return
    params = {"kept": kept_id, "merged": merged_id, "now": to_iso(crm.now()), "kept_has_lead": kept_id in has}
    if kept_id in has:
        db.execute(queries.MERGE_MOVE_ASSIGNMENTS, params)
        db.execute(queries.MERGE_REPOINT_ASSIGNMENTS, params)
        db.execute(queries.MERGE_DROP_LEAD, params)
        action = "lead.merge_drop"
    else:
        db.execute(queries.MERGE_MOVE_LEAD, params)
        db.execute(queries.MERGE_REPOINT_ASSIGNMENTS, params)
        action = "lead.merge_move"
    crm.audit.record(action, "lead", kept_id, before={"lead": merged_id}, after={"lead": kept_id}, source="leads")


@hookimpl
def crmkit_due(crm, now):
    """Recycle lapsed leads, remind owners, and retrain the lead score once per ``now``."""
    from . import pool, queries

    summary = pool.recycle(crm.leads, now)
    model = crm.settings.get("leads.model")
    if (model is None or model["as_of"] != to_iso(now)) and crm.db.execute(queries.ANY_CLOSED).fetchone():
        summary["scored"] = crm.leads.train(now)["scored"]
    return summary


@hookimpl
def crmkit_report_sections(crm, as_of):
    from .figures import section, source_section

    return [section(crm.leads, as_of), source_section(crm.leads, as_of)]


@hookimpl
def crmkit_commands(cli):
    from .commands import register

    register(cli)


@hookimpl
def crmkit_panels(crm):
    from crmkit import Panel

    from .panel import leads_panel

    return [Panel("leads", "Leads", leads_panel, order=30)]


@hookimpl
def crmkit_demo_data(crm, seed, now):
    from . import demo

    demo.load(crm, seed, now)


@hookimpl
def crmkit_permissions():
    from crmkit import Permission

    return [
        Permission("leads.read", "See the lead pool and own leads", {"manager", "rep", "analyst"}, write=False),
        Permission("leads.claim", "Claim pool leads and release own leads", {"manager", "rep"}),
        Permission("leads.allocate", "Allocate pool leads to reps", {"manager"}),
    ]


@hookimpl
def crmkit_routes(crm):
    from . import routes

    return [routes.router]
