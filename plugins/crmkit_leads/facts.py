"""The leads plugin's customer facts: lead status and the rep who has the lead."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crmkit import hookimpl

if TYPE_CHECKING:
    from crmkit import CRM
    from crmkit.facts import Fact


@hookimpl
def crmkit_customer_facts(crm: "CRM", customer_ids: list[int]) -> "list[Fact]":
    """``lead_status`` (pool, assigned, following_up, converted, lost; None: never a lead) and
    ``lead_rep`` (None in the pool) of each customer. Current values, like the segment fields
    ``lead_status`` and ``lead_owner``: lead rows keep no history."""
    import json

    from crmkit.facts import Fact
    from crmkit.store import json_values

    rows = crm.db.query(
        f"SELECT l.customer_id AS id, l.status AS status, l.owner AS owner FROM leads_leads l "
        f"WHERE l.customer_id IN ({json_values(':ids', 'INTEGER')})",
        {"ids": json.dumps(customer_ids)},
    )
    leads = {row["id"]: row for row in rows}
    facts = []
    for customer_id in customer_ids:
        lead = leads.get(customer_id, {})
        facts.append(Fact(customer_id, "lead_status", "Lead status", lead.get("status")))
        facts.append(Fact(customer_id, "lead_rep", "Lead rep", lead.get("owner")))
    return facts
