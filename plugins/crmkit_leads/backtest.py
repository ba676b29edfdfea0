"""Backtests: replay a past period's leads through a strategy and compare with what happened.

Day by day (the home zone's days), the leads received that day are placed with the strategy,
against the loads the replay itself built up (a lead counts towards its simulated rep's load
until the day it was really closed) and the reps' current capacity, activity and quota. Each
rep's line then says how the leads they would have received actually ended with their
historical owners. Deterministic
for a seed: leads of equal priority and arrival time are ordered by a hash of id and seed.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING

from crmkit import ValidationError
from crmkit.timeutil import to_iso

from . import allocation, queries
from .figures import weighted_gini
from .strategies import Strategy

if TYPE_CHECKING:
    from .service import LeadsService


def run(service: "LeadsService", strategy: Strategy, since: datetime, until: datetime, *, seed: int = 0) -> dict:
    """Replay the leads received in [since, until) through ``strategy``; see the module docstring."""
    if until <= since:
        raise ValidationError("until", to_iso(until), f"a time after since ({to_iso(since)})")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValidationError("seed", seed, "a whole number")
    db = service.crm.db
    calendar = service.crm.calendar
    days = db.execute(queries.backtest_days(calendar), {"since": to_iso(since), "until": to_iso(until)}).fetchall()
    db.execute(queries.DROP_SIMULATION)
    db.execute(queries.CREATE_SIMULATION)
    unplaced = 0
    peak: dict[str, int] = {}
    last_rep = None
    try:
        for day, ids in days:
            day_start = calendar.to_datetime(day)  # the local day's midnight
            open_now = dict(db.execute(queries.SIMULATED_OPEN, {"day_start": to_iso(day_start)}).fetchall())
            noon = calendar.to_datetime(f"{day}T12:00:00")
            reps = allocation.eligible_reps(service, noon, open_override=open_now, allocated_today={})
            result = allocation.plan(
                service, strategy, day_start, lead_ids=json.loads(ids), reps=reps, seed=seed, rotation_after=last_rep,
            )
            db.execute(queries.RECORD_SIMULATED, {"day": day})
            unplaced += len(result.unassigned)
            if result.moves:
                last_rep = result.moves[-1].rep
            for rep_id, count in result.by_rep().items():
                peak[rep_id] = max(peak.get(rep_id, 0), open_now.get(rep_id, 0) + count)
        per_rep = db.execute(queries.BACKTEST_PER_REP).fetchall()
        historical = dict(db.execute(queries.HISTORICAL_FIRST_OWNERS, {"since": to_iso(since), "until": to_iso(until)}).fetchall())
    finally:
        queries.drop_plan_tables(db)
        db.execute(queries.DROP_SIMULATION)
    capacity = {rep.id: rep.capacity for rep in service.reps()}
    received = {row[0]: row for row in per_rep}
    rows = []
    for rep_id in sorted(capacity):
        _rep, got, converted, lost, recycles = received.get(rep_id, (rep_id, 0, 0, 0, 0))
        closed = (converted or 0) + (lost or 0)
        rows.append({
            "rep": rep_id, "capacity": capacity[rep_id], "received": got, "peak_load": peak.get(rep_id, 0),
            "historical_converted": converted or 0, "historical_lost": lost or 0,
            "historical_conversion_rate": round(converted / closed, 4) if closed else None,
            "historical_recycles": recycles or 0, "actually_received": historical.get(rep_id, 0),
        })

    def gini(key: str) -> float:
        return round(weighted_gini([r[key] / r["capacity"] for r in rows], [r["capacity"] for r in rows]), 4)

    return {
        "strategy": strategy.name, "since": to_iso(since), "until": to_iso(until), "seed": seed,
        "leads": sum(len(json.loads(ids)) for _day, ids in days), "placed": sum(r["received"] for r in rows),
        "unplaced": unplaced, "recycles": sum(r["historical_recycles"] for r in rows),
        "gini": gini("received"), "historical_gini": gini("actually_received"), "reps": rows,
    }
