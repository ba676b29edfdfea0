"""Churn early warning per customer class, the tasks it raises, and lifecycle stages.

Classes are evaluated in order; each customer belongs to the first class whose segment holds
them (a class without a segment takes everyone left). For each class one INSERT ... SELECT
computes every member's signals, score and evidence from the interaction log.
"""

from __future__ import annotations

import json
from typing import Any

from crmkit import ValidationError
from crmkit.money import from_minor
from crmkit.timeutil import to_iso

from . import queries as q
from . import runs
from .config import CHURN_LEVELS, DEFAULT_CHURN_CLASSES, ChurnClass, LifecycleRules
from .models import ChurnWarning, Run

LEVEL_RANK = {name: rank for rank, name in enumerate(CHURN_LEVELS)}


def classes(crm) -> list[ChurnClass]:
    """The churn classes in evaluation order: the stored ``loyalty.churn_classes``, else the defaults."""
    stored = crm.settings.get("loyalty.churn_classes")
    if not stored:
        return list(DEFAULT_CHURN_CLASSES)
    return [ChurnClass(**c) for c in stored]


def set_classes(crm, items: list[ChurnClass | dict]) -> list[ChurnClass]:
    """Replace the churn classes (checked first: every segment must exist or be a valid rule)."""
    chosen = [c if isinstance(c, ChurnClass) else ChurnClass(**c) for c in items]
    if not chosen:
        raise ValidationError("churn classes", [], "at least one class")
    names = [c.name for c in chosen]
    if len(set(names)) != len(names):
        raise ValidationError("churn classes", names, "distinct class names")
    for item in chosen:
        if item.segment is not None:
            crm.segments.check(crm.segments.resolve(item.segment))
    crm.settings.set("loyalty.churn_classes", [
        {"name": c.name, "segment": c.segment, "max_days": c.max_days, "gap_factor": str(c.gap_factor),
         "min_purchases": c.min_purchases, "period_days": c.period_days, "drop_percent": c.drop_percent,
         "regular_uses": c.regular_uses, "warn_level": c.warn_level, "task_lookback_days": c.task_lookback_days}
        for c in chosen
    ])
    return chosen


def evaluate(crm, as_of: Any = None) -> Run:
    """Store the churn warnings of every class as of a time (a run replaces one at the same time)."""
    moment = crm.as_of(as_of)
    chosen = classes(crm)
    in_list, out_list, kinds = q.kind_params(crm)
    with crm.transaction():
        db = crm.db
        run_id = runs.start(crm, "churn", moment, {"classes": [c.name for c in chosen]})
        db.execute(q.CHURN_CLAIMS_CREATE)
        db.execute(q.CHURN_CLAIMS_CLEAR)
        for index, item in enumerate(chosen):
            if item.segment is None:
                db.execute(q.churn_claim(None), {"_lc_class": index})
            else:
                compiled = crm.segments.compile(crm.segments.resolve(item.segment), moment)
                db.execute(q.churn_claim(compiled.id_query()), dict(compiled.params, _lc_class=index))
            recent, previous = (crm.calendar.add_days(moment, -n * item.period_days) for n in (1, 2))
            db.execute(q.churn_evaluate(in_list, out_list, crm.calendar), dict(
                kinds, as_of=to_iso(moment), _lc_recent=to_iso(recent), _lc_previous=to_iso(previous), _lc_class=index, _lc_run=run_id, _lc_name=item.name,
                _lc_max_days=item.max_days, _lc_min_n=item.min_purchases, _lc_gap_factor=float(item.gap_factor),
                _lc_drop=item.drop_percent, _lc_uses=item.regular_uses,
            ))
        db.execute(q.CHURN_CLAIMS_CLEAR)
        count = db.execute("SELECT COUNT(*) FROM loyalty_churn WHERE run_id = ?", [run_id]).fetchone()[0]
        return runs.finish(crm, run_id, count, "churn", moment)


_ALL = 2**63 - 1


def check_listing(min_level: str, limit: int | None) -> None:
    """Refuse a ``min_level`` or ``limit`` that :func:`warnings` cannot list by."""
    if min_level not in CHURN_LEVELS[1:]:
        raise ValidationError("min_level", min_level, "one of low, medium, high")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ValidationError("limit", limit, "a whole number of warnings, 0 or more, or None for all")


def warnings(crm, run: Run, min_level: str = "low", limit: int | None = 1000, offset: int = 0) -> list[ChurnWarning]:
    """Warnings of a run at ``min_level`` or above, highest score first; ``limit=None`` for all."""
    check_listing(min_level, limit)
    min_score = {"low": 1, "medium": 25, "high": 50}[min_level]
    # LIMIT NULL means "no limit" on PostgreSQL but is an error on SQLite: pass the largest count.
    rows = crm.db.execute(q.CHURN_ROWS, {"run": run.id, "min_score": min_score,
                                         "limit": _ALL if limit is None else limit, "offset": offset})
    return [_warning(crm, row) for row in rows]


def _warning(crm, row) -> ChurnWarning:
    customer_id, klass, level, score, evidence_text, owner = row
    evidence = json.loads(evidence_text)
    for key in ("spend_recent", "spend_previous"):
        evidence[key] = str(from_minor(evidence[key], crm.exponent))
    signals = tuple(s for s in evidence.pop("signals").split(",") if s)
    return ChurnWarning(customer_id, klass, level, score, signals, evidence, owner)


def raise_tasks(crm, run: Run) -> int:
    """One ``churn_warning`` task per warned customer at or above their class's warn level whose
    last purchase is at most ``max_days`` + ``task_lookback_days`` days before the run.

    The key names the customer and their last purchase: no second task while one is open, and
    none again for the same episode after it was closed; a new purchase starts a new episode.
    """
    chosen = classes(crm)
    warn_at = {c.name: LEVEL_RANK[c.warn_level] for c in chosen}
    oldest_days = {c.name: c.max_days + c.task_lookback_days for c in chosen}
    prefix = "loyalty.churn:"
    existing = {row[0] for row in crm.db.execute(q.EXISTING_TASK_KEYS, [prefix.replace("_", "\\_") + "%"])}
    rows = []
    for warning in warnings(crm, run, "low", limit=10**9):
        if LEVEL_RANK[warning.level] < warn_at.get(warning.customer_class, LEVEL_RANK["medium"]):
            continue
        last_purchase = warning.evidence.get("last_purchase_at")
        limit = oldest_days.get(warning.customer_class)
        if last_purchase and limit is not None and crm.calendar.days_between(
                crm.calendar.to_datetime(last_purchase), run.as_of) > limit:
            continue  # lapsed long ago: a win-back campaign's customer, not a task for today
        key = f"{prefix}{warning.customer_id}:{last_purchase}"
        if key in existing:
            continue
        rows.append({
            "kind": "churn_warning", "customer_id": warning.customer_id, "owner": warning.owner,
            "due_at": run.as_of, "key": key, "source": "loyalty",
            # People read the reason: signals as words (spend drop); the data keeps the keys.
            "reason": f"{warning.level} churn risk ({warning.score}): {', '.join(s.replace('_', ' ') for s in warning.signals)}",
            "data": {"class": warning.customer_class, "score": warning.score, "signals": list(warning.signals), **warning.evidence},
        })
    return crm.tasks.create_many(rows)


# --- lifecycle ----------------------------------------------------------------------------------

def lifecycle_rules(crm) -> LifecycleRules:
    """The lifecycle thresholds: the defaults overridden by the stored ``loyalty.lifecycle`` setting."""
    return LifecycleRules(**crm.settings.get("loyalty.lifecycle", {}))


def lifecycle_counts(crm, as_of: Any = None) -> dict[str, int]:
    """Customers per lifecycle stage as of a time."""
    in_list, out_list, kinds = q.kind_params(crm)
    sql = f"SELECT {q.lifecycle_sql(crm, in_list, out_list, lifecycle_rules(crm))} AS lifecycle_stage, COUNT(*) FROM customers c GROUP BY lifecycle_stage"
    counts = dict(crm.db.execute(sql, dict(kinds, as_of=to_iso(crm.as_of(as_of)))).fetchall())
    return {stage: counts.get(stage, 0) for stage in ("prospect", "new", "growing", "mature", "declining", "churned")}


def lifecycle_of(crm, customer_id: int, as_of: Any = None) -> str:
    """One customer's lifecycle stage (prospect ... churned) as of ``as_of`` (default ``crm.now()``).

    Computed live from the interaction log, not from a run; raises NotFound for an unknown customer.
    """
    crm.customers.get(customer_id)
    in_list, out_list, kinds = q.kind_params(crm)
    sql = f"SELECT {q.lifecycle_sql(crm, in_list, out_list, lifecycle_rules(crm))} FROM customers c WHERE c.id = :cid"
    return crm.db.execute(sql, dict(kinds, cid=customer_id, as_of=to_iso(crm.as_of(as_of)))).fetchone()[0]

