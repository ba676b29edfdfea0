"""The loyalty score: a 0-100 composite of standard loyalty indicators, each shown as its part.

One SQL aggregate gives every purchasing customer's raw inputs; numpy turns them into parts
between 0 and 1; the score is 100 × the weighted mean of the parts that apply to the customer.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from crmkit.money import to_minor
from crmkit.timeutil import to_iso

from . import queries as q
from . import runs
from .config import SCORE_PARTS, check_weights
from .models import LoyaltyScore, Run

TENURE_FULL_DAYS = 730
REPEAT_FULL = 1.0
REFERRALS_FULL = 3
DEFAULT_GAP_DAYS = 90


def parts(rows: list[tuple], exponent: int) -> dict[str, np.ndarray]:
    """The parts (0..1, NaN when not applicable) from :func:`queries.score_inputs` rows."""
    col = list(zip(*rows)) if rows else [()] * 11
    tenure_days = np.array(col[1], dtype=float)
    purchases = np.array(col[2], dtype=float)
    active_days = np.array(col[3], dtype=float)
    idle_days = np.array(col[4], dtype=float)
    spend = np.array(col[5], dtype=float)
    satisfaction = np.array([np.nan if v is None else float(v) for v in col[6]], dtype=float)
    referrals = np.array(col[7], dtype=float)
    complained = np.array([v is not None for v in col[8]], dtype=bool)
    stayed = np.array([c is not None and last is not None and last > c for c, last in zip(col[8], col[9])], dtype=bool)
    wallet = np.array([_wallet_minor(v, exponent) for v in col[10]], dtype=float)

    gap = np.where(purchases >= 2, active_days / np.maximum(purchases - 1, 1), DEFAULT_GAP_DAYS)
    gap = np.where(gap > 0, gap, DEFAULT_GAP_DAYS)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = {
            "tenure": np.minimum(tenure_days / TENURE_FULL_DAYS, 1.0),
            "repeat": (purchases - 1) / purchases,
            "rhythm": np.clip(1 - (idle_days / gap - 1) / 2, 0.0, 1.0),
            "wallet": np.where(wallet > 0, np.minimum(spend / wallet, 1.0), np.nan),
            "satisfaction": (satisfaction - 1) / 4,
            "referrals": np.minimum(referrals / REFERRALS_FULL, 1.0),
            "retention": np.where(complained, stayed.astype(float), np.nan),
        }
    return out


def _wallet_minor(value: Any, exponent: int) -> float:
    if value is None:
        return np.nan
    try:
        return float(to_minor(str(value), exponent))
    except Exception:  # noqa: BLE001 - a malformed estimate counts as not given
        return np.nan


def combine(part_values: dict[str, np.ndarray], weights: dict[str, int]) -> np.ndarray:
    """100 × Σ wᵢ·partᵢ / Σ wᵢ over the parts that apply (not NaN)."""
    top = np.zeros_like(next(iter(part_values.values())))
    bottom = np.zeros_like(top)
    for name in SCORE_PARTS:
        value = part_values[name]
        present = ~np.isnan(value)
        top += np.where(present, value * weights[name], 0.0)
        bottom += np.where(present, weights[name], 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(bottom > 0, 100 * top / bottom, 0.0)


def compute(crm, as_of: Any = None, store: bool = True) -> tuple[Run | None, list[LoyaltyScore]]:
    """Loyalty scores of every customer with a purchase up to as_of."""
    moment = crm.as_of(as_of)
    weights = check_weights(crm.settings.get("loyalty.score_weights", {}))
    in_list, _, params = q.kind_params(crm)
    rows = crm.db.execute(
        q.score_inputs(in_list, crm.calendar), dict(params, as_of=to_iso(moment), year_ago=to_iso(crm.calendar.add_days(moment, -365)))
    ).fetchall()
    values = parts(rows, crm.exponent)
    scores = combine(values, weights) if rows else np.zeros(0)
    results = []
    for index, row in enumerate(rows):
        shown = {name: (None if np.isnan(values[name][index]) else round(float(values[name][index]), 4)) for name in SCORE_PARTS}
        results.append(LoyaltyScore(row[0], round(float(scores[index]), 2), shown))
    run = None
    if store:
        with crm.transaction():
            run_id = runs.start(crm, "score", moment, {"weights": weights})
            crm.db.executemany(q.SCORE_INSERT, [
                (run_id, s.customer_id, s.score, *[s.parts[name] for name in SCORE_PARTS]) for s in results
            ])
            run = runs.finish(crm, run_id, len(results), "score", moment)
    return run, results


def stored(crm, run: Run, customer_id: int | None = None, limit: int = 1000, offset: int = 0) -> list[LoyaltyScore]:
    """Stored loyalty scores of a run, by customer id (one customer if ``customer_id``); a page of
    ``limit`` (default 1000) from ``offset``. Scores are 0-100, parts 0-1 or None.
    """
    rows = crm.db.execute(q.SCORE_ROWS, {"run": run.id, "customer": customer_id, "limit": limit, "offset": offset})
    return [LoyaltyScore(r[0], r[1], dict(zip(SCORE_PARTS, r[2:]))) for r in rows]
