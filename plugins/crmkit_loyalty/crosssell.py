"""Cross-sell (association rules between categories, recommendations) and referral value."""

from __future__ import annotations

import json
from typing import Any

from crmkit import ValidationError
from crmkit.money import from_minor
from crmkit.timeutil import to_iso

from . import queries as q
from .models import AssociationRule, Recommendation, ReferralValue


def _fraction(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValidationError(name, value, "a number from 0 to 1")
    return float(value)


def _params(crm, as_of, min_support, min_confidence, min_count) -> dict:
    if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
        raise ValidationError("min_count", min_count, "a whole number >= 1")
    _, _, kinds = q.kind_params(crm)
    return dict(
        kinds, as_of=to_iso(crm.as_of(as_of)), min_support=_fraction(min_support, "min_support"),
        min_confidence=_fraction(min_confidence, "min_confidence"), min_count=min_count,
    )


def association_rules(crm, as_of: Any = None, min_support: float = 0.01, min_confidence: float = 0.1, min_count: int = 2) -> list[AssociationRule]:
    """Rules A → B over the categories each customer bought up to as_of.

    support = customers with A and B / customers with any category;
    confidence = customers with A and B / customers with A; lift = confidence / support(B).
    """
    in_list, _, _ = q.kind_params(crm)
    params = _params(crm, as_of, min_support, min_confidence, min_count)
    return [AssociationRule(*row) for row in crm.db.execute(q.association_rules(in_list), params)]


def recommendations(
    crm, customer_id: int | None = None, as_of: Any = None, per_customer: int = 3, min_support: float = 0.01,
    min_confidence: float = 0.1, min_count: int = 2,
) -> list[Recommendation]:
    """Categories each customer has not bought, best first, with the rule behind each."""
    if customer_id is not None:
        crm.customers.get(customer_id)
    if isinstance(per_customer, bool) or not isinstance(per_customer, int) or per_customer < 1:
        raise ValidationError("per_customer", per_customer, "a whole number >= 1")
    in_list, _, _ = q.kind_params(crm)
    params = dict(_params(crm, as_of, min_support, min_confidence, min_count), customer=customer_id, per_customer=per_customer)
    return [Recommendation(*row) for row in crm.db.execute(q.recommendations(in_list), params)]


def recommendation_tasks(crm, as_of: Any = None, per_customer: int = 1, **thresholds: Any) -> int:
    """Turn recommendations into ``cross_sell`` tasks for owners (one open task per customer and category)."""
    moment = crm.as_of(as_of)
    rows = [
        {
            "kind": "cross_sell", "customer_id": r.customer_id, "owner": r.owner, "source": "loyalty",
            "key": f"loyalty.cross_sell:{r.customer_id}:{r.category}", "due_at": moment,
            "reason": f"offer {r.category}: {r.confidence:.0%} of {r.because} buyers also buy it (lift {r.lift:.2f})",
            "data": {"category": r.category, "because": r.because, "confidence": r.confidence, "lift": r.lift},
        }
        for r in recommendations(crm, as_of=moment, per_customer=per_customer, **thresholds)
    ]
    return crm.tasks.create_many(rows)


def referral_value(crm, customer_id: int | None = None, as_of: Any = None) -> list[ReferralValue]:
    """Per referrer: the customers they brought (the first referral of a customer counts) and
    those customers' net revenue, reported apart from the referrer's own net revenue."""
    if customer_id is not None:
        crm.customers.get(customer_id)
    in_list, out_list, kinds = q.kind_params(crm)
    rows = crm.db.execute(q.referral_value(in_list, out_list), dict(kinds, as_of=to_iso(crm.as_of(as_of)), customer=customer_id))
    return [
        ReferralValue(referrer, tuple(sorted(json.loads(referred))), from_minor(revenue, crm.exponent), from_minor(own, crm.exponent))
        for referrer, _, revenue, own, referred in rows
    ]
