"""The loyalty plugin's HTTP routes (``crmkit serve``): points balance and redemption, churn list.

Imported only by the ``crmkit_routes`` hook, so FastAPI is needed only where the API is served.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header
from pydantic import BaseModel, ConfigDict, Field

from crmkit_api.toolkit import Caller, CustomerId, Limit, caller, jsonable, page

router = APIRouter(prefix="/loyalty", tags=["loyalty"])


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
