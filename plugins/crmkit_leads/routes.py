"""The leads plugin's HTTP routes (``crmkit serve``): the pool, claims, releases, allocation and
the preview of what recycling would take back.

Imported only by the ``crmkit_routes`` hook, so FastAPI is needed only where the API is served.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from crmkit_api.toolkit import MAX_ID, Caller, Limit, Offset, caller, jsonable, page

router = APIRouter(prefix="/leads", tags=["leads"])
LeadId = Annotated[int, Path(ge=1, le=MAX_ID, description="The lead's customer id")]


class Reason(BaseModel):
    """The body of a release: why the lead goes back to the pool."""
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, Field(max_length=1000)] | None = None


@router.get("/pool", summary="Leads waiting in the shared pool")
def pool(c: Caller = Depends(caller), limit: Limit = 50, offset: Offset = 0) -> dict:
    """One page of the unclaimed leads in the pool."""
    with c.session("leads.read") as crm:
        return page(crm.leads.pool(limit=limit, offset=offset), limit, offset)


@router.get("/mine", summary="My open leads")
def mine(c: Caller = Depends(caller), limit: Limit = 50, offset: Offset = 0) -> dict:
    """The caller's claimed leads."""
    with c.session("leads.read") as crm:
        return page(crm.leads.leads(owner=c.user.id, limit=limit, offset=offset), limit, offset)


@router.post("/{lead_id}/claim", summary="Claim a pool lead for myself (limits apply)")
def claim(lead_id: LeadId, c: Caller = Depends(caller)) -> dict:
    """Claim a lead from the pool for the caller, within their limits."""
    with c.session("leads.claim") as crm:
        return jsonable(crm.leads.claim(lead_id, c.user.id))


@router.post("/{lead_id}/release", summary="Put my lead back in the pool")
def release(lead_id: LeadId, body: Reason | None = None, c: Caller = Depends(caller)) -> dict:
    """Give a claimed lead back to the pool."""
    with c.session("leads.claim") as crm:
        return jsonable(crm.leads.release(lead_id, c.user.id, body.reason if body else None))


@router.post("/allocate", summary="Allocate the pool to reps (least loaded); dry_run shows the plan")
def allocate(c: Caller = Depends(caller), dry_run: Annotated[bool, Query(description="Show the plan; change nothing")] = False) -> dict:
    """Allocate pool leads to reps by the configured rules (with ``dry_run``, the plan only)."""
    with c.session("leads.allocate") as crm:
        return jsonable(crm.leads.allocate("pool", dry_run=dry_run))


@router.get("/recycling", summary="Open leads that recycling would take back by a time (a rep: their own)")
def recycling(
    c: Caller = Depends(caller), limit: Limit = 50, offset: Offset = 0,
    before: Annotated[datetime | None, Query(description="Due by this time (default: now)")] = None,
) -> dict:
    """A preview of recycling: owned, unprotected leads due back in the pool by ``before``,
    soonest first. Changes nothing; a rep sees their own leads only, a team manager their team's."""
    with c.session("leads.read") as crm:
        owners = c.owners(crm)
        if owners is None:
            return page(crm.leads.recycling(before, limit=limit, offset=offset), limit, offset)
        if len(owners) == 1:
            (owner,) = owners
            return page(crm.leads.recycling(before, owner=owner, limit=limit, offset=offset), limit, offset)
        due = [lead for lead in crm.leads.recycling(before, limit=2**62) if lead.owner in owners]
        return page(due[offset:offset + limit], limit, offset, len(due))
