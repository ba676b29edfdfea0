"""Hook implementations of the complaints plugin: the wiring, nothing more.

Each hook imports what it uses, so that loading the plugin (as every ``crmkit`` command does)
costs nothing until a CRM needs it.
"""

from __future__ import annotations

from crmkit import hookimpl

from .facts import crmkit_customer_facts  # noqa: F401 - the facts hook, registered with this module
from .settings import crmkit_settings  # noqa: F401 - the settings hook, registered with this module


@hookimpl
def crmkit_migrations():
    from .schema import migrations

    return migrations


@hookimpl
def crmkit_extend(crm):
    from .service import ComplaintsService

    return {"complaints": ComplaintsService(crm)}


@hookimpl
def crmkit_fields(crm):
    from .fields import complaint_fields

    return complaint_fields()


@hookimpl
def crmkit_interactions_recorded(crm, interactions):
    """Open tickets for ``complaint`` interactions, items for ``feedback`` ones and take in
    satisfaction from ``survey`` interactions about a complaint: set-based over the batch."""
    if not interactions:
        return
    from . import queries

    first, last = interactions[0].id, interactions[-1].id
    if len(interactions) <= queries.KINDS_READ_IN_PYTHON:
        kinds = {item.kind for item in interactions} & queries.HEARD_KINDS
    else:  # a large batch is stored rows whose records are built on reading: ask the database
        kinds = queries.kinds_in_range(crm.db, first, last)
    if not kinds:
        return
    if "complaint" in kinds:
        crm.complaints.open_from_interactions(first, last)
    if "feedback" in kinds:
        crm.complaints.feedback.from_interactions(first, last)
    if "survey" in kinds:
        queries.record_surveys(crm.db, first, last)


@hookimpl
def crmkit_customer_forgotten(crm, customer_id, erasure):
    from . import queries

    queries.forget_customer(crm.db, customer_id)
    queries.scrub_customer(erasure, customer_id)


@hookimpl
def crmkit_customers_merged(crm, kept_id, merged_id):
    from . import queries

    counts = queries.merge_customers(crm.db, kept_id, merged_id)
    if any(counts.values()):
        crm.audit.record("complaint.merge_customers", "customer", kept_id,
                         after={"merged_id": merged_id, **counts}, source="complaints")


@hookimpl
def crmkit_due(crm, now):
    return crm.complaints.run_due(now)


@hookimpl
def crmkit_report_sections(crm, as_of):
    from .report import complaint_sections

    return complaint_sections(crm, as_of)


@hookimpl
def crmkit_commands(cli):
    from .cli import complaints_group

    cli.add_command(complaints_group)


@hookimpl
def crmkit_panels(crm):
    from crmkit import Panel

    from .panel import complaints_panel

    return [Panel("complaints", "Complaints", complaints_panel, order=50)]


@hookimpl
def crmkit_demo_data(crm, seed, now):
    from .demo import add_demo_data

    add_demo_data(crm, seed, now)


@hookimpl
def crmkit_permissions():
    from crmkit import Permission

    return [
        Permission("complaints.read", "See the complaint queue", {"manager", "rep", "analyst"}, write=False),
        Permission("complaints.handle", "Open complaints and move them through their steps", {"manager", "rep"}),
    ]


@hookimpl
def crmkit_routes(crm):
    from . import routes

    return [routes.router]
