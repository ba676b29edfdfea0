"""The allocation engine: places a batch of leads with a strategy in a few set-based statements.

Steps, all on scratch tables of the connection (``_lp_*``):

1. the leads to place, numbered in allocation order (priority, score, arrival);
2. the eligible reps, active and with room (capacity minus open leads, and the daily quota),
   with their smoothed conversion rate and round-robin position;
3. each selector labels the leads with a key and names the candidate reps of each key;
4. leads with the same keys (and the same excluded previous owner) form a group; per group,
   one statement pairs the n-th lead with the n-th free slot in the picker's order.

The Python loop runs per group (a handful), never per lead.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import TYPE_CHECKING, Iterable

from attrs import frozen

from crmkit.timeutil import to_iso

from . import queries
from .models import AllocationResult, Move, Rep
from .pool import day_bounds
from .strategies import Candidates, Strategy

if TYPE_CHECKING:
    from crmkit import CRM

    from .service import LeadsService


@frozen
class PlanRep:
    """A rep as the strategies see it during one allocation."""

    id: str
    team: str | None
    industries: tuple[str, ...]
    products: tuple[str, ...]
    languages: tuple[str, ...]
    experience: int
    capacity: int
    open_leads: int
    room: int
    weight: float


class PlanContext:
    """What a strategy function gets: the CRM, the time, the eligible reps and SQL helpers."""

    def __init__(self, service: "LeadsService", as_of: datetime, reps: list[PlanRep], key_index: int = 0):
        self.service = service
        self.crm: "CRM" = service.crm
        self.as_of = as_of
        self.reps = reps
        self.key_index = key_index

    def lead_values(self, expression: str, params: dict | None = None) -> set:
        """Label each lead with ``expression`` (SQL over ``l`` leads_leads, ``c`` customers);
        returns the distinct labels (text or None)."""
        db = self.crm.db
        db.execute(queries.set_key_from_sql(self.key_index, expression), params or {})
        return {row[0] for row in db.execute(queries.distinct_keys(self.key_index))}

    def first_match(self, rules: Iterable[str]) -> set:
        """Label each lead with the position (as text) of the first rule its customer matches."""
        db = self.crm.db
        for position, rule in enumerate(rules):
            compiled = self.crm.segments.compile(self.crm.segments.resolve(rule), self.as_of)
            db.execute(queries.set_key_for_rule(self.key_index, compiled.id_query()), dict(compiled.params, _key=str(position)))
        return {row[0] for row in db.execute(queries.distinct_keys(self.key_index))}


def eligible_reps(service: "LeadsService", as_of: datetime, open_override: dict[str, int] | None = None,
                  allocated_today: dict[str, int] | None = None) -> list[PlanRep]:
    """Active reps with room, as of ``as_of``; ``open_override`` replaces open loads (backtests)."""
    crm = service.crm
    record = {row["rep"]: row for row in service.track_record(as_of)}
    quota_share = service.options.daily_quota
    if allocated_today is None:
        day_start, day_end = day_bounds(crm.calendar, as_of)  # the quota resets at local midnight
        allocated_today = dict(crm.db.execute(
            queries.ALLOCATED_SINCE, {"day_start": day_start, "day_end": day_end}
        ).fetchall())
    out = []
    for row in crm.db.query(queries.ALL_REPS):
        rep = Rep.from_row(row)
        if not rep.active:
            continue
        stats = record.get(rep.id, {})
        open_leads = open_override.get(rep.id, 0) if open_override is not None else stats.get("open_leads", 0)
        room = rep.capacity - open_leads
        if quota_share is not None:
            quota = max(1, math.ceil(rep.capacity * quota_share))
            room = min(room, quota - allocated_today.get(rep.id, 0))
        weight = (stats.get("converted", 0) + 1) / (stats.get("converted", 0) + stats.get("lost", 0) + 2)
        out.append(PlanRep(rep.id, rep.team, rep.industries, rep.products, rep.languages, rep.experience,
                           rep.capacity, open_leads, max(room, 0), weight))
    return out


def plan(service: "LeadsService", strategy: Strategy, as_of: datetime, *, lead_ids: list[int] | None,
         reps: list[PlanRep], exclude_previous: bool = True, seed: int | None = None,
         rotation_after: str | None = None) -> AllocationResult:
    """Fill ``_lp_plan`` for the leads (the pool when ``lead_ids`` is None); returns the plan.

    Writes only scratch tables; the caller applies or drops them.
    """
    db = service.crm.db
    selectors = strategy.selectors
    queries.create_plan_tables(db, len(selectors))
    if lead_ids is None:
        db.execute(queries.FILL_PLAN_LEADS_FROM_POOL)
    elif seed is not None:
        db.execute(queries.FILL_PLAN_LEADS_SEEDED, {"ids": json.dumps(lead_ids), "seed": seed})
    else:
        db.execute(queries.FILL_PLAN_LEADS_FROM_IDS, {"ids": json.dumps(lead_ids), "exclude_previous": exclude_previous})
    order = sorted(r.id for r in reps)
    start = 0
    if rotation_after is not None:
        start = next((i for i, rep_id in enumerate(order) if rep_id > rotation_after), 0)
    rotation = {rep_id: (i - start) % max(len(order), 1) for i, rep_id in enumerate(order)}
    db.executemany(queries.INSERT_PLAN_REP, [
        (r.id, r.team, r.capacity, r.experience, r.open_leads, r.room, r.weight, rotation[r.id]) for r in reps
    ])
    top = max([r.room for r in reps] + [1])
    db.execute(queries.FILL_NUMBERS, {"top": top})

    candidates: list[dict] = []
    for index, selector in enumerate(selectors):
        context = PlanContext(service, as_of, reps, index)
        candidates.append(selector.fn(context) or {})
    insert, label = queries.fill_groups(len(selectors))
    db.execute(insert)
    db.execute(queries.group_key_index(len(selectors)))
    db.execute(label)
    db.execute(queries.INDEX_LEADS_BY_GROUP)
    order_sql = strategy.picker.fn(PlanContext(service, as_of, reps))
    with_room = {r.id for r in reps if r.room > 0}
    unplaced_reason: dict[int, str] = {}
    group_reason: dict[int, str] = {}
    for row in db.execute(queries.groups(len(selectors))).fetchall():
        grp, size, exclude_rep, keys = row[0], row[1], row[2], row[3:]
        allowed = set(with_room)
        labels = []
        if exclude_rep is not None:
            allowed.discard(exclude_rep)
        for selector, found, key in zip(selectors, candidates, keys):
            choice = found.get(key) or Candidates(None, f"{selector.name}: no candidates")
            if choice.reps is not None:
                allowed &= set(choice.reps)
            label = choice.label
            if choice.scores is not None:
                points = {rep: choice.scores.get(rep, 0) for rep in allowed}
                best = max(points.values(), default=0)
                if best > 0:
                    allowed = {rep for rep, p in points.items() if p == best}
                    label = label.replace("{best}", str(best))
                else:
                    label = f"{selector.name}: no allowed rep has the skills"
            labels.append(label)
        if exclude_rep is not None:
            labels.append(f"not back to {exclude_rep}")
        labels.append(strategy.picker.name)
        text = "; ".join(labels)
        group_reason[grp] = text
        if not allowed:
            continue
        for statement in queries.CLEAR_GROUP:
            db.execute(statement)
        db.execute(queries.rank_slots(order_sql), {"size": size, "reps": json.dumps(sorted(allowed))})
        db.execute(queries.RANK_GROUP_LEADS, {"grp": grp})
        db.execute(queries.PLACE_GROUP, {"label": text})
        db.execute(queries.TAKE_ROOM)
    moves = [Move(lead, rep, reason) for lead, rep, reason in db.execute(queries.PLAN_ROWS)]
    unassigned = []
    for lead, grp in db.execute(queries.UNPLACED):
        unassigned.append(lead)
        unplaced_reason[lead] = f"no candidate rep with room ({group_reason.get(grp, 'no group')})"
    return AllocationResult(strategy.name, True, moves, unassigned, unplaced_reason)


def apply_plan(service: "LeadsService", now: datetime, how: str = "allocate") -> int:
    """Write the plan in ``_lp_plan``: leads, assignment spells, recycle times, audit log."""
    crm = service.crm
    db = crm.db
    options = service.options
    stamp = to_iso(now)
    db.executemany(queries.FILL_CLASS_DAYS, list(options.recycle_days.items()))
    cursor = db.execute(queries.apply_plan(crm.calendar), {"now": stamp})
    if cursor.rowcount != db.execute(queries.PLAN_SIZE).fetchone()[0]:
        from crmkit import ConflictError

        raise ConflictError("some leads left the pool while the allocation ran; nothing was allocated, try again")
    db.execute(queries.APPLY_PLAN_ASSIGNMENTS, {"how": how, "now": stamp})
    crm.audit.record_from_query(queries.PLAN_AUDIT, {"how": how}, source="leads")
    return cursor.rowcount
