"""The loyalty plugin's HTTP routes (``crmkit serve``): RFM scores, tiers, points balance and
redemption, churn list. Reads never compute (and store) a run: they read the newest stored one.

Imported only by the ``crmkit_routes`` hook, so FastAPI is needed only where the API is served.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query
from pydantic import BaseModel, ConfigDict, Field

from crmkit.segments.builder import literal
from crmkit_api.toolkit import Caller, CustomerId, Limit, Offset, caller, jsonable, page

router = APIRouter(prefix="/loyalty", tags=["loyalty"])
AsOf = Annotated[datetime | None, Query(description="As of this time (default: now)")]


class Redemption(BaseModel):
    """The body of a redemption: points to spend and why."""
    model_config = ConfigDict(extra="forbid")
    points: Annotated[int, Field(ge=1, le=10**12)]
    reason: Annotated[str, Field(min_length=1, max_length=500)] = "redemption"


@router.get("/customers/{customer_id}/points", summary="A customer's spendable points")
def balance(customer_id: CustomerId, c: Caller = Depends(caller)) -> dict:
    """A customer's points balance."""
    with c.session("loyalty.read") as crm:
        c.check_customer(crm, customer_id)
        return {"customer_id": customer_id, "balance": crm.loyalty.points.balance(customer_id)}


@router.post("/customers/{customer_id}/redeem", summary="Spend points; a repeated Idempotency-Key returns the first result")
def redeem(
    customer_id: CustomerId, body: Redemption, c: Caller = Depends(caller),
    idempotency_key: Annotated[str, Header(min_length=1, max_length=200)] = ...,
) -> dict:
    """Spend a customer's points; a repeated Idempotency-Key returns the first answer."""
    with c.session("loyalty.redeem") as crm:
        c.check_customer(crm, customer_id)
        entry = crm.loyalty.points.redeem(customer_id, body.points, key=idempotency_key, reason=body.reason)
        return {"entry": jsonable(entry), "balance": crm.loyalty.points.balance(customer_id)}


@router.get("/churn", summary="Customers in scope at risk of churning (the newest churn run), highest risk first")
def churn(c: Caller = Depends(caller), limit: Limit = 50) -> dict:
    """Customers at risk of churning, in the caller's scope, from the newest stored churn run
    (``crmkit due`` evaluates one daily); reading evaluates nothing, so it writes nothing."""
    with c.session("loyalty.read") as crm:
        scope = c.scope(crm)
        warnings = crm.loyalty.churn_warnings(limit=None)
        if scope is not None:
            allowed = set(crm.segments.evaluate(scope).ids())
            warnings = [w for w in warnings if w.customer_id in allowed]
        return page(warnings[:limit], limit, 0)


def _in_scope(c: Caller, crm, rows: list) -> list:
    """``rows`` (with a ``customer_id``) of customers in the caller's scope."""
    scope = c.scope(crm)
    if scope is None:
        return rows
    allowed = set(crm.segments.evaluate(scope).ids())
    return [row for row in rows if row.customer_id in allowed]


@router.get("/rfm", summary="RFM scores of the customers in scope, from the newest stored run as of a time")
def rfm(c: Caller = Depends(caller), as_of: AsOf = None, limit: Limit = 50, offset: Offset = 0) -> dict:
    """RFM scores (recency, frequency, monetary, their 1-5 scores and named segment) of the
    newest stored RFM run as of a time (``crmkit loyalty rfm`` or ``crmkit due`` stores runs),
    in the caller's scope. 404 when no run is stored yet."""
    with c.session("loyalty.read") as crm:
        if c.scope(crm) is None:
            scores = crm.loyalty.rfm_scores(as_of, limit=limit, offset=offset)
            return page(scores, limit, offset)
        scores = _in_scope(c, crm, crm.loyalty.rfm_scores(as_of, limit=2**62))
        return page(scores[offset:offset + limit], limit, offset, len(scores))


@router.get("/tiers", summary="Tier definitions with their members in scope as of a time")
def tiers(c: Caller = Depends(caller), as_of: AsOf = None) -> dict:
    """The tiers, highest first, with how many customers in the caller's scope each holds."""
    with c.session("loyalty.read") as crm:
        scope = c.scope(crm)
        items = []
        for tier in reversed(crm.loyalty.tiers.list()):
            members = crm.segments.evaluate(f"tier = {literal(tier.name)}", as_of, within=scope)
            items.append({**jsonable(tier), "members": members.count()})
        return {"items": items}
