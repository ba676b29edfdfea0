"""The complaints plugin's customer facts: open complaints and the state of their SLA clocks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crmkit import hookimpl

if TYPE_CHECKING:
    from datetime import datetime

    from crmkit import CRM
    from crmkit.facts import Fact

# The clock that runs: acknowledging a received complaint, resolving any other open one.
_DUE = "CASE WHEN x.status = 'received' THEN x.ack_due_at ELSE x.resolve_due_at END"


@hookimpl
def crmkit_customer_facts(crm: "CRM", customer_ids: list[int], as_of: "datetime") -> "list[Fact]":
    """``open_complaints`` (count open at ``as_of``, as the segment field counts) and ``sla``:
    ``breached`` when an open complaint's running deadline has passed, else ``paused`` when one
    is paused, else ``on time``; None without open complaints."""
    import json

    from crmkit.facts import Fact
    from crmkit.store import json_values
    from crmkit.timeutil import to_iso

    from .queries import TABLE, open_states_sql, state_at_sql

    listed, params = open_states_sql("_cf_open")
    mine = f"FROM {TABLE} x WHERE x.customer_id = c.id AND x.received_at <= :as_of AND {state_at_sql('x')} IN ({listed})"
    rows = crm.db.query(
        f"""SELECT c.id AS id, (SELECT count(*) {mine}) AS open_count,
               (SELECT count(*) {mine} AND x.paused_at IS NULL AND {_DUE} < :as_of) AS breached,
               (SELECT count(*) {mine} AND x.paused_at IS NOT NULL) AS paused
        FROM customers c WHERE c.id IN ({json_values(':ids', 'INTEGER')}) ORDER BY c.id""",
        dict(params, ids=json.dumps(customer_ids), as_of=to_iso(as_of)),
    )
    facts = []
    for row in rows:
        if not row["open_count"]:
            state = None
        elif row["breached"]:
            state = "breached"
        elif row["paused"]:
            state = "paused"
        else:
            state = "on time"
        facts.append(Fact(row["id"], "open_complaints", "Open complaints", int(row["open_count"])))
        facts.append(Fact(row["id"], "sla", "Complaint SLA", state))
    return facts
