"""Contact cadence: "N days after an interaction of kind K, unless J since, task T for the owner".

Each rule is one SQL query for the customers that are due, and one ``crm.tasks.create_many``
call. A case is keyed by rule, customer and trigger time, so running again for the same ``now``
(or later, after the task was closed) creates nothing new.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from crmkit import ValidationError
from crmkit.timeutil import from_iso, to_iso

from . import queries as q
from .config import DEFAULT_CADENCE, CadenceRule


def rules(crm) -> list[CadenceRule]:
    """The cadence rules in force: the stored ``loyalty.cadence`` setting, else the defaults.

    A stored empty list means cadence is switched off and is returned as such.
    """
    stored = crm.settings.get("loyalty.cadence")
    if stored is None:
        return list(DEFAULT_CADENCE)
    return [CadenceRule(**r) for r in stored]


def set_rules(crm, items: list[CadenceRule | dict]) -> list[CadenceRule]:
    """Replace the cadence rules (an empty list switches cadence off); kinds and segments are checked."""
    chosen = [r if isinstance(r, CadenceRule) else CadenceRule(**r) for r in items]
    names = [r.name for r in chosen]
    if len(set(names)) != len(names):
        raise ValidationError("cadence rules", names, "distinct rule names")
    for rule in chosen:
        for kind in (rule.kind, *rule.unless):
            if kind not in crm.kinds:
                raise ValidationError(f"cadence {rule.name}: kind", kind, "a known interaction kind")
        if rule.segment is not None:
            crm.segments.check(crm.segments.resolve(rule.segment))
    crm.settings.set("loyalty.cadence", [
        {"name": r.name, "kind": r.kind, "delay_days": r.delay_days, "task": r.task, "unless": list(r.unless),
         "due_days": r.due_days, "segment": r.segment, "lookback_days": r.lookback_days}
        for r in chosen
    ])
    return chosen


def due(crm, now: Any = None, dry_run: bool = False) -> dict[str, Any]:
    """Create the tasks every rule owes as of ``now``; with ``dry_run`` only list them."""
    moment = crm.as_of(now)
    created: dict[str, int] = {}
    planned: list[dict] = []
    with crm.transaction():
        for rule in rules(crm):
            rows = _candidates(crm, rule, moment)
            planned += rows
            created[rule.name] = 0 if dry_run else crm.tasks.create_many(rows)
    return {"now": moment, "created": created, "tasks": planned}


def _candidates(crm, rule: CadenceRule, moment) -> list[dict]:
    # A rule falls due at the start of the home zone's day ``delay_days`` after the trigger's day:
    # triggers up to the end of the local day ``delay_days`` before today's.
    calendar = crm.calendar
    hi = calendar.add_days(calendar.start_of_day(moment), 1 - rule.delay_days) - timedelta(seconds=1)
    lo = calendar.add_days(hi, -rule.lookback_days)
    unless = {f"_lk_u{i}": kind for i, kind in enumerate(rule.unless)}
    unless_list = ", ".join(":" + key for key in unless) or "NULL"
    prefix = f"loyalty.cadence:{rule.name}:"
    params = dict(
        unless, now=to_iso(moment), _lk_kind=rule.kind, _lk_lo=to_iso(lo), _lk_hi=to_iso(hi),
        _lk_prefix=prefix, _lk_like=prefix.replace("_", "\\_") + "%",
    )
    ids = None
    if rule.segment is not None:
        compiled = crm.segments.compile(crm.segments.resolve(rule.segment), moment)
        ids = compiled.id_query()
        params.update(compiled.params)
    rows = []
    for customer_id, owner, at, key in crm.db.execute(q.cadence_candidates(unless_list, ids), params):
        trigger = from_iso(at)
        rows.append({
            "kind": rule.task, "customer_id": customer_id, "owner": owner, "key": key, "source": "loyalty",
            "due_at": calendar.add_days(calendar.start_of_day(trigger), rule.delay_days + rule.due_days),
            "reason": f"{rule.name}: {rule.delay_days} days after the {rule.kind} of {calendar.local_date(trigger)}",
            "data": {"rule": rule.name, "trigger_kind": rule.kind, "trigger_at": at},
        })
    return rows
