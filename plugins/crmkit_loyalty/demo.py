"""Demo data for ``crmkit demo``: tiers, redemptions and one run of every figure."""

from __future__ import annotations

import random

from . import queries as q
from .value import ClvError

DEMO_TIERS = [
    {"name": "bronze", "metric": "purchases", "threshold": 1, "window_days": 365, "benefits": "Birthday voucher"},
    {"name": "silver", "metric": "spend", "threshold": 500, "window_days": 365, "benefits": "Free shipping", "multiplier": "1.25"},
    {"name": "gold", "metric": "spend", "threshold": 2000, "window_days": 365, "benefits": "Free shipping, early access", "multiplier": "1.5"},
]


def add_demo_data(crm, seed: int, now) -> None:
    """Deterministic for the same seed and log: the same tiers, redemptions and runs; days are
    counted back from ``now`` in the CRM's home zone."""
    rng = random.Random(f"loyalty-{seed}")
    loyalty = crm.loyalty
    if not loyalty.tiers.list():
        loyalty.tiers.define(DEMO_TIERS)
    # Monthly reviews over the last year, so the tier history (and the reports' upgrade and
    # downgrade figures) move month by month as they would in a live CRM, whose scheduled work
    # has also expired the points that ran out (else the first `crmkit due` expires years of them).
    for months_ago in range(12, -1, -1):
        month = crm.calendar.add_days(now, -30 * months_ago)
        loyalty.points.expire(month)
        loyalty.tiers.evaluate(month)
    holders = [row[0] for row in crm.db.execute(q.POINT_HOLDERS, [2000])]
    for customer_id in rng.sample(holders, min(len(holders), 200)):
        balance = loyalty.points.balance(customer_id, now)
        if balance >= 50:
            loyalty.points.redeem(customer_id, rng.randint(50, balance), key=f"demo-redeem-{seed}-{customer_id}", at=now)
    loyalty.rfm(crm.calendar.add_days(now, -90))
    loyalty.rfm(now)
    loyalty.score(now)
    loyalty.warn(now)
    try:
        loyalty.clv(now)
    except ClvError:
        pass  # too few customers in a tiny demo: the CLV section says so
