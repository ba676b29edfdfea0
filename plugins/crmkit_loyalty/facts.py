"""The loyalty plugin's customer facts: tier and spendable points, for a batch of customers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crmkit import hookimpl

if TYPE_CHECKING:
    from datetime import datetime

    from crmkit import CRM
    from crmkit.facts import Fact


@hookimpl
def crmkit_customer_facts(crm: "CRM", customer_ids: list[int], as_of: "datetime") -> "list[Fact]":
    """``tier`` (None: no tier) and ``points`` (spendable balance) of each customer as of ``as_of``,
    read the way the segment fields ``tier`` and ``points_balance`` read them."""
    import json

    from crmkit.facts import Fact
    from crmkit.store import json_values
    from crmkit.timeutil import to_iso

    from . import queries as q

    rows = crm.db.query(
        f"SELECT c.id AS id, {q.TIER_OF_SQL} AS tier, {q.balance_sql()} AS points FROM customers c "
        f"WHERE c.id IN ({json_values(':ids', 'INTEGER')}) ORDER BY c.id",
        {"ids": json.dumps(customer_ids), "as_of": to_iso(as_of)},
    )
    facts = []
    for row in rows:
        facts.append(Fact(row["id"], "tier", "Loyalty tier", row["tier"]))
        facts.append(Fact(row["id"], "points", "Points", int(row["points"] or 0)))
    return facts
