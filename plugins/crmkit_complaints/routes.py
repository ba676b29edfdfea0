"""The complaints plugin's HTTP routes (``crmkit serve``): open, move a step, pause, the SLA queue.

Imported only by the ``crmkit_routes`` hook, so FastAPI is needed only where the API is served.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field

from crmkit_api.toolkit import MAX_ID, Caller, Limit, caller, jsonable, page

from .models import SEVERITIES

router = APIRouter(prefix="/complaints", tags=["complaints"])
ComplaintId = Annotated[int, Path(ge=1, le=MAX_ID, description="The complaint's id")]
Severity = Enum("Severity", {name: name for name in SEVERITIES}, type=str)
Severity.__doc__ = "Complaint severities."
Step = Enum("Step", {name: name for name in ("acknowledge", "assess", "close", "resume")}, type=str)
Step.__doc__ = "Steps a complaint can take."


class ComplaintIn(BaseModel):
    """The body of a new complaint: customer, subject, severity and details."""
    model_config = ConfigDict(extra="forbid")
    customer_id: Annotated[int, Field(ge=1, le=MAX_ID)]
    severity: Severity = Severity("normal")
    category: Annotated[str, Field(max_length=100)] | None = None
    product: Annotated[str, Field(max_length=200)] | None = None
    description: Annotated[str, Field(max_length=5000)] | None = None


class Message(BaseModel):
    """An optional note for a complaint step."""
    model_config = ConfigDict(extra="forbid")
    message: Annotated[str, Field(max_length=2000)] | None = None


class Pause(BaseModel):
    """The body of a pause: why the SLA clock stops."""
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, Field(min_length=1, max_length=1000)]


def _in_scope(c: Caller, crm, complaint_id: int):
    complaint = crm.complaints.get(complaint_id)
    c.check_customer(crm, complaint.customer_id)
    return complaint


@router.post("", status_code=201, summary="Open a complaint for a customer in scope")
def open_complaint(body: ComplaintIn, c: Caller = Depends(caller)) -> dict:
    """Open a complaint on a customer in the caller's scope."""
    with c.session("complaints.handle") as crm:
        c.check_customer(crm, body.customer_id)
        fields = body.model_dump(exclude_unset=True, exclude={"customer_id", "severity"})
        # A handler who opens a complaint handles it; anyone else's goes to the least-loaded handler.
        handles = any(h.name == c.user.id for h in crm.complaints.handlers(active_only=True))
        return jsonable(crm.complaints.open(
            body.customer_id, severity=body.severity.value, owner=c.user.id if handles else None, **fields,
        ))


@router.post("/{complaint_id}/steps/{step}", summary="Move a complaint a step (acknowledge, assess, close, resume)")
def move(complaint_id: ComplaintId, step: Step, body: Message | None = None, c: Caller = Depends(caller)) -> dict:
    """Move a complaint one step (acknowledge, assess, close, resume)."""
    with c.session("complaints.handle") as crm:
        _in_scope(c, crm, complaint_id)
        action = getattr(crm.complaints, step.value)
        return jsonable(action(complaint_id, message=body.message if body else None))


@router.post("/{complaint_id}/pause", summary="Pause a complaint's SLA clock (waiting for the customer)")
def pause(complaint_id: ComplaintId, body: Pause, c: Caller = Depends(caller)) -> dict:
    """Pause a complaint's SLA clock, saying why."""
    with c.session("complaints.handle") as crm:
        _in_scope(c, crm, complaint_id)
        return jsonable(crm.complaints.pause(complaint_id, body.reason))


@router.get("/queue", summary="Open complaints with their SLA state (a rep: their own)")
def queue(c: Caller = Depends(caller), limit: Limit = 50) -> dict:
    """Open complaints with their SLA state, most urgent first: a rep's own, a team manager's
    on customers in their scope, everyone's for the others."""
    with c.session("complaints.read") as crm:
        if c.user.role == "rep":
            return page(crm.complaints.sla(owner=c.user.id, limit=limit), limit, 0)
        scope = c.scope(crm)
        if scope is None:
            return page(crm.complaints.sla(limit=limit), limit, 0)
        allowed = set(crm.segments.evaluate(scope).ids())
        board = [row for row in crm.complaints.sla(limit=2**62) if row["customer_id"] in allowed]
        return page(board[:limit], limit, 0)
