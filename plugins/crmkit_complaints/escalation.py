"""Scheduled SLA work (``crmkit_due``): warn owners before a breach, escalate after one.

Each configured level is one set-based insert into ``complaints_escalations`` keyed by
(complaint, reopening cycle, level), so a level fires once per complaint and cycle, and running
twice for the same ``now`` changes nothing. Levels run in order, so a complaint found long
overdue passes every level it has reached in one run.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from crmkit.timeutil import to_iso

from . import queries
from .models import CUSTOMER_MESSAGES

if TYPE_CHECKING:
    from crmkit import CRM

SOURCE = "complaints"


def escalate(crm: "CRM", now: datetime) -> dict:
    """Run every escalation level as of ``now``; returns counts per level and tasks created."""
    service = crm.complaints
    policy = service.policy()
    moment = to_iso(now)
    # Each ticket's clock counts in the calendar it was opened under, not the one set now.
    calendar = "c.calendar_id" if service.lay_out_open_calendars(moment) else None
    summary: dict[str, int] = {}
    tasks = 0
    with crm.transaction():
        for level in policy.levels:
            mark = queries.max_escalation_id(crm.db)
            added = queries.insert_escalations(crm.db, level, moment, calendar)
            if not added:
                continue
            rows = queries.new_escalations(crm.db, mark, level["level"])
            if level["action"] == "escalate":
                queries.apply_escalated_owners(crm.db, mark, level["level"], moment, crm.actor, CUSTOMER_MESSAGES["escalated"])
            kind = "complaint_escalation" if level["action"] == "escalate" else "complaint_sla"
            tasks += crm.tasks.create_many(
                {
                    "kind": kind, "customer_id": row["customer_id"], "owner": row["to_owner"],
                    "due_at": row["ack_due_at"] if level["target"] == "acknowledge" else row["resolve_due_at"],
                    "reason": f"complaint {row['complaint_id']} ({row['severity']}): {level['name']}",
                    "source": SOURCE,
                    "key": f"complaints:{row['complaint_id']}:{row['cycle']}:{level['level']}",
                    "data": {"complaint_id": row["complaint_id"], "level": level["level"], "clock": level["target"]},
                }
                for row in rows
            )
            crm.audit.record_many(
                {
                    "action": "complaint.escalate", "entity": "complaint", "entity_id": row["complaint_id"],
                    "before": {"owner": row["from_owner"]},
                    "after": {"owner": row["to_owner"], "level": level["level"], "name": level["name"], "cycle": row["cycle"]},
                    "source": SOURCE,
                }
                for row in rows
            )
            summary[level["name"]] = added
    return {"escalated": summary, "tasks_created": tasks}
