"""Demo data: a complaints team, and the demo's complaints moved along the process.

The tickets themselves were opened from the demo's ``complaint`` interactions by the recording
hook; here each one is taken through its steps at plausible times before the demo's "now".
Deterministic for the same seed.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .models import RESOLUTIONS

if TYPE_CHECKING:
    from crmkit import CRM

TEAM = (
    ("mara", "manager", None, ()),
    ("sam", "supervisor", "mara", ()),
    ("sofia", "supervisor", "mara", ()),
    ("hana", "handler", "sam", ("billing", "price")),
    ("hugo", "handler", "sam", ("delivery",)),
    ("ines", "handler", "sofia", ("product", "quality")),
    ("ivan", "handler", "sofia", ()),
)


def add_demo_data(crm: "CRM", seed: int, now: datetime) -> None:
    """Add the demo team, take every demo complaint through its steps up to ``now``, rank the
    feedback and run the escalation sweep; deterministic for the same ``seed``."""
    rng = random.Random(f"complaints-{seed}")
    service = crm.complaints
    for name, role, supervisor, skills in TEAM:
        service.add_handler(name, role=role, supervisor=supervisor, skills=skills)
    latest = min(now, crm.now())
    service.assign_waiting()
    for complaint in service.list(limit=1_000_000):
        _progress(service, complaint.id, complaint.received_at, latest, rng)
    _feedback(service, rng)
    service.run_due(latest)


def _progress(service, complaint_id: int, received: datetime, latest: datetime, rng: random.Random) -> None:
    """Take a complaint through as many steps as fit before ``latest``."""
    at = received
    plan = [("acknowledge", timedelta(hours=rng.uniform(0.5, 30)), {})]
    plan.append(("assess", timedelta(hours=rng.uniform(0.5, 12)), {}))
    if rng.random() < 0.15:
        plan.append(("pause", timedelta(hours=rng.uniform(1, 24)), {"reason": "photos of the damage"}))
        plan.append(("resume", timedelta(hours=rng.uniform(4, 72)), {}))
    if rng.random() < 0.8:
        resolution = rng.choice(RESOLUTIONS[:5])
        amount = f"{rng.randint(5, 150)}.00" if resolution == "refund" else None
        plan.append(("resolve", timedelta(hours=rng.uniform(2, 200)), {"resolution": resolution, "amount": amount}))
    else:
        plan.append(("reject", timedelta(hours=rng.uniform(2, 150)), {"reason": "the warranty period had ended"}))
    plan.append(("follow_up", timedelta(hours=rng.uniform(24, 96)),
                 {"score": rng.choices([1, 2, 3, 4, 5], [1, 1, 2, 4, 4])[0], "accepted": rng.random() < 0.85}))
    plan.append(("close", timedelta(hours=rng.uniform(1, 48)), {}))
    if rng.random() < 0.06:
        # A reopened complaint is handled again, as a team would: otherwise the demo's queue
        # fills with tickets reopened years before its today.
        plan.append(("reopen", timedelta(days=rng.uniform(1, 20)), {"reason": "the replacement failed too"}))
        plan.append(("assess", timedelta(hours=rng.uniform(1, 24)), {}))
        plan.append(("resolve", timedelta(hours=rng.uniform(4, 120)), {"resolution": "replacement", "amount": None}))
        plan.append(("follow_up", timedelta(hours=rng.uniform(24, 96)),
                     {"score": rng.choices([1, 2, 3, 4, 5], [2, 2, 2, 2, 1])[0], "accepted": rng.random() < 0.7}))
        plan.append(("close", timedelta(hours=rng.uniform(1, 48)), {}))
    for method, wait, options in plan:
        at = at + wait
        if at > latest:
            return
        getattr(service, method)(complaint_id, at=at, **options)


def _feedback(service, rng: random.Random) -> None:
    items = service.feedback.list(limit=1_000_000)
    for item in items:
        service.feedback.classify(item.id, urgency=rng.randint(1, 5), importance=rng.randint(1, 5), cost=rng.randint(1, 5))
        roll = rng.random()
        if roll < 0.2:
            service.feedback.set_status(item.id, "validated")
        elif roll < 0.3:
            service.feedback.set_status(item.id, "planned")
        elif roll < 0.35:
            service.feedback.set_status(item.id, "done")
    by_text: dict[tuple, int] = {}
    for item in items:
        key = (item.classification, (item.text or "").strip().lower())
        if key[1] and key in by_text:
            service.feedback.merge(by_text[key], item.id)
        else:
            by_text[key] = item.id

