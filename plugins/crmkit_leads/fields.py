"""Segment fields of the leads plugin: the public contract others use in rules.

Each reads the lead row of the customer (NULL for customers that never were leads). Status,
owner, stage and score are the current ones, not as of a past date.
"""

from __future__ import annotations

from crmkit import Field

from .models import STATUSES


def _lead(column: str) -> str:
    return f"(SELECT l.{column} FROM leads_leads l WHERE l.customer_id = c.id)"


FIELDS = [
    Field("lead_status", "text", "The lead's status: pool, assigned, following_up, converted or lost (null: not a lead).",
          _lead("status"), choices=STATUSES),
    Field("lead_source", "text", "Source channel of a lead (the customer's source, only for leads).",
          "(SELECT c.source FROM leads_leads l WHERE l.customer_id = c.id)"),
    Field("lead_score", "number", "Conversion score of an open lead, 0 to 1, from the last training (crm.leads.train).",
          _lead("score")),
    # A holder: a lead a rep has taken is in their row scope (and out of other reps'), though
    # the customer's own owner stays empty until the lead is converted.
    Field("lead_owner", "text", "The rep who owns the lead now (null in the pool).", _lead("owner"), holder=True),
    Field("lead_class", "text", "The lead's class, which sets its recycle period.", _lead("lead_class")),
    Field("lead_stage", "text", "The lead's sales stage in the configured funnel.", _lead("stage")),
    Field("lead_priority", "number", "The lead's priority (higher is allocated first).", _lead("priority")),
    Field("lead_recycles", "number", "How often the lead went back to the pool for lack of follow-up.", _lead("recycles")),
    Field("lead_protected", "bool", "True when the lead is protected from recycling.", _lead("protected")),
    Field("lead_product", "text", "The product the lead is interested in.", _lead("product")),
]
