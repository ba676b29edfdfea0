"""Hook implementations of the loyalty plugin.

Each hook imports what it uses: the service pulls in numpy and scipy (for CLV), which a
``crmkit`` command that never touches loyalty must not pay for.
"""

from __future__ import annotations

from crmkit import ValidationError, hookimpl

from .facts import crmkit_customer_facts  # noqa: F401 - the facts hook, registered with this module
from .settings import crmkit_settings  # noqa: F401 - the settings hook, registered with this module


def _tier_change(data: dict) -> None:
    for key in ("from", "to", "reason"):
        if key not in data:
            raise ValidationError(f"data.{key}", None, "the tier change's from, to and reason")
    for key in ("from", "to"):
        if data[key] is not None and not isinstance(data[key], str):
            raise ValidationError(f"data.{key}", data[key], "a tier name or null")


@hookimpl
def crmkit_migrations():
    from .schema import migrations

    return migrations


@hookimpl
def crmkit_interaction_kinds():
    from crmkit import InteractionKind

    return [
        InteractionKind("tier_upgrade", "The customer moved up a loyalty tier (data: from, to, reason).", validate=_tier_change),
        InteractionKind("tier_downgrade", "The customer moved down a loyalty tier (data: from, to, reason).", validate=_tier_change),
    ]


@hookimpl
def crmkit_extend(crm):
    from .service import LoyaltyService

    return {"loyalty": LoyaltyService(crm)}


@hookimpl
def crmkit_fields(crm):
    from .fields import loyalty_fields

    return loyalty_fields(crm)


@hookimpl
def crmkit_interactions_recorded(crm, interactions):
    if interactions:
        crm.loyalty.points.earn_for_batch(interactions[0].id, interactions[-1].id)


@hookimpl
def crmkit_bulk_load_tables(crm):
    # A purchase earns a ledger row: a large import builds the ledger's customer index at its
    # end (1M purchases: 2 s less), unless a refund or a segment bonus needs it sooner.
    return ["loyalty_points"]


@hookimpl
def crmkit_customer_forgotten(crm, customer_id, erasure):
    from . import queries as q

    for statement in q.FORGET:
        crm.db.execute(statement, [customer_id])
    erasure.scrub_rows("loyalty_points", ("reason",), "customer_id = ?", [customer_id])
    erasure.scrub_rows("loyalty_tier_history", ("reason",), "customer_id = ?", [customer_id])


@hookimpl
def crmkit_customers_merged(crm, kept_id, merged_id):
    from . import queries as q

    params = {"kept": kept_id, "merged": merged_id}
    for statement in q.MERGE_MOVE:
        crm.db.execute(statement, params)
    for table in q.MERGE_RUN_TABLES:
        for statement in q.merge_run_rows(table):
            crm.db.execute(statement, params)
    crm.audit.record("loyalty.merge", "customer", kept_id, after={"merged": merged_id}, source="loyalty")


@hookimpl
def crmkit_due(crm, now):
    return crm.loyalty.due(now)


@hookimpl
def crmkit_report_sections(crm, as_of):
    from .report import sections

    return sections(crm, as_of)


@hookimpl
def crmkit_commands(cli):
    from .cli import loyalty

    cli.add_command(loyalty)


@hookimpl
def crmkit_panels(crm):
    from crmkit import Panel

    from .panel import loyalty_panel

    return [Panel("loyalty", "Loyalty", loyalty_panel, order=40)]


@hookimpl
def crmkit_demo_data(crm, seed, now):
    from .demo import add_demo_data

    add_demo_data(crm, seed, now)


@hookimpl
def crmkit_permissions():
    from crmkit import Permission

    return [
        Permission("loyalty.read", "See points, tiers and churn warnings", {"manager", "rep", "analyst"}, write=False),
        Permission("loyalty.redeem", "Redeem a customer's points", {"manager", "rep"}),
    ]


@hookimpl
def crmkit_routes(crm):
    from . import routes

    return [routes.router]
